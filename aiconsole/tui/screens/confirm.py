"""A confirmation modal for writes: it names exactly what will change and what it breaks.

On production connections it also asks for the service name to be typed (DESIGN.md §3), and
the typed text is handed to the service layer, which checks it again.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static


class ConfirmScreen(ModalScreen[str | None]):
    """Dismisses with the typed confirmation ("" when none was required) or None if cancelled."""

    BINDINGS = [
        Binding("y", "confirm", "Yes", id="confirm.yes"),
        Binding("n,escape", "cancel", "No", id="confirm.no"),
    ]

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 100%; max-width: 72; height: auto; max-height: 100%;
        border: thick $warning; background: $surface; padding: 0 1;
    }
    ConfirmScreen #confirm-title { text-style: bold; color: $warning; margin-bottom: 1; }
    ConfirmScreen #confirm-body { margin-bottom: 1; }
    ConfirmScreen #confirm-typed { margin-bottom: 1; }
    ConfirmScreen Horizontal { height: auto; align-horizontal: right; }
    ConfirmScreen Button { margin-left: 2; min-width: 12; }
    """

    def __init__(self, title: str, body: str, *, confirm_label: str = "Yes", require_text: str | None = None) -> None:
        super().__init__()
        self._title = title
        self._body = body
        self._label = confirm_label
        self._require = require_text

    #: the line above the typed confirmation on production profiles
    REQUIRE_PROMPT = "Type the service name '{name}' to confirm:"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"⚠ {self._title}", id="confirm-title", markup=False)
            yield from self.compose_body()
            if self._require:
                yield Static(self.REQUIRE_PROMPT.format(name=self._require), markup=False)
                yield Input(id="confirm-typed", placeholder=self._require, compact=True)
            with Horizontal():
                yield Button(f"{self._label} (y)", id="confirm-yes", variant="error")
                yield Button("Cancel (n/esc)", id="confirm-no", variant="default")

    def compose_body(self) -> ComposeResult:
        """What is being confirmed, between the title and the typed confirmation; subclasses
        show more here (a diff, a slot picker) and keep the rest of the modal."""
        yield Static(self._body, id="confirm-body", markup=False)

    def on_mount(self) -> None:
        if self._require:
            typed = self.query_one("#confirm-typed", Input)
            if not getattr(self.app, "cursor_blink", True):
                typed.cursor_blink = False
            typed.focus()
        else:
            self.query_one("#confirm-no", Button).focus()

    def _typed(self) -> str:
        return self.query_one("#confirm-typed", Input).value.strip() if self._require else ""

    def action_confirm(self) -> None:
        if self._require and self._typed() != self._require:
            self.notify(f"Type '{self._require}' exactly to confirm.", severity="warning", markup=False)
            return
        self.dismiss(self.result(self._typed()))

    def result(self, typed: str):
        """What the modal dismisses with once confirmed; subclasses add their own choice."""
        return typed

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_confirm()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "confirm-yes":
            self.action_confirm()
        else:
            self.action_cancel()
