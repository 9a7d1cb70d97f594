"""Diff preview before a policy write, and the 412 screen when someone else wrote first.

The preview names the change in a sentence and shows the unified diff; on production
connections it asks for the service name like every other write. The conflict screen shows
what changed on the server next to the edit that was not written, and lets the person
re-apply the same edit on the new version or drop it — never overwrite.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from aiconsole.domain.text import sanitize
from aiconsole.tui.screens.confirm import ConfirmScreen


def diff_text(diff: str) -> Text:
    """Colour a unified diff; the +/- column keeps it readable without colour."""
    text = Text()
    for line in sanitize(diff, keep_newlines=True).splitlines():
        style = ""
        if line.startswith("+") and not line.startswith("+++"):
            style = "green"
        elif line.startswith("-") and not line.startswith("---"):
            style = "red"
        elif line.startswith("@@"):
            style = "cyan"
        text.append(line + "\n", style=style)
    return text


class DiffPreviewScreen(ConfirmScreen):
    """The write confirmation with the diff in a scrollable pane; dismisses like ``ConfirmScreen``
    (the typed service name on production, "" otherwise, None when cancelled)."""

    DEFAULT_CSS = """
    DiffPreviewScreen > Vertical { max-width: 120; height: 100%; max-height: 40; }
    DiffPreviewScreen #diff-body { height: 1fr; border: round $panel; margin-bottom: 1; }
    """

    def __init__(self, description: str, diff: str, *, require_text: str | None = None,
                 title: str = "Write this policy change?") -> None:
        super().__init__(title, sanitize(description, max_length=400), confirm_label="Write",
                         require_text=require_text)
        self._diff = diff

    REQUIRE_PROMPT = "Production: type the service name '{name}' to confirm:"

    def compose_body(self) -> ComposeResult:
        yield from super().compose_body()
        with VerticalScroll(id="diff-body"):
            yield Static(diff_text(self._diff), id="diff-text")


class ConflictScreen(ModalScreen[str | None]):
    """412: dismisses with "reapply" or None (drop the edit)."""

    BINDINGS = [
        Binding("r", "reapply", "Re-apply", id="conflict.reapply"),
        Binding("d,escape", "drop", "Drop", id="conflict.drop"),
    ]

    DEFAULT_CSS = """
    ConflictScreen { align: center middle; }
    ConflictScreen > Vertical {
        width: 100%; max-width: 120; height: 100%; max-height: 40;
        border: thick $error; background: $surface; padding: 0 1;
    }
    ConflictScreen #conflict-title { text-style: bold; color: $error; }
    ConflictScreen VerticalScroll { height: 1fr; border: round $panel; }
    ConflictScreen Horizontal { height: auto; align-horizontal: right; }
    ConflictScreen Button { margin-left: 2; min-width: 14; }
    """

    def __init__(self, message: str, server_diff: str, our_diff: str) -> None:
        super().__init__()
        self._message = message
        self._server_diff = server_diff
        self._our_diff = our_diff

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("✗ Changed on the server since it was read", id="conflict-title", markup=False)
            yield Static(sanitize(self._message, max_length=400), markup=False)
            with VerticalScroll():
                yield Static("What the other writer changed:", markup=False)
                yield Static(diff_text(self._server_diff or "(the policy was deleted)"), id="conflict-server")
                yield Static("Your edit, not written:", markup=False)
                yield Static(diff_text(self._our_diff), id="conflict-ours")
            with Horizontal():
                yield Button("Re-apply on the new version (r)", id="conflict-reapply", variant="warning")
                yield Button("Drop my edit (d/esc)", id="conflict-drop")

    def on_mount(self) -> None:
        self.query_one("#conflict-drop", Button).focus()

    def action_reapply(self) -> None:
        self.dismiss("reapply")

    def action_drop(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_reapply() if event.button.id == "conflict-reapply" else self.action_drop()
