"""``PromptBar``: the one-line ``:`` command bar and ``/`` filter bar at the bottom of a screen.

One widget serves both modes so that they look and behave the same (k9s style): it opens on
``:`` or ``/``, ``enter`` submits, ``esc`` cancels. In filter mode every keystroke is posted
(filter-as-you-type); the screen decides what to do with it.
"""

from __future__ import annotations

from typing import Literal

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.widgets import Input, Static

Mode = Literal["command", "filter"]
PROMPTS: dict[str, str] = {"command": ":", "filter": "/"}


class PromptInput(Input):
    """The text field of the bar; ``esc`` cancels the bar rather than going back a screen."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt.cancel")]

    def on_mount(self) -> None:
        if not getattr(self.app, "cursor_blink", True):
            self.cursor_blink = False  # stable snapshots

    def action_cancel(self) -> None:
        bar = self.parent
        if isinstance(bar, PromptBar):
            bar.cancel()


class PromptBar(Horizontal):
    """A prompt glyph and an input on the line above the footer; hidden until a screen opens it.

    Not docked: docked widgets on the same edge overlap, and the footer is docked at the bottom.
    It follows the screen's body in the layout, so the body (``height: 1fr``) gives up one line.
    """

    DEFAULT_CSS = """
    PromptBar {
        display: none;
        height: 1;
        background: $panel;
    }
    PromptBar.-open { display: block; }
    PromptBar > #prompt-glyph { width: 2; padding: 0 0 0 1; color: $accent; text-style: bold; background: $panel; }
    PromptBar > PromptInput { width: 1fr; border: none; height: 1; padding: 0; background: $panel; }
    """

    class Changed(Message):
        def __init__(self, bar: "PromptBar", mode: Mode, value: str) -> None:
            super().__init__()
            self.bar, self.mode, self.value = bar, mode, value

    class Done(Message):
        """Submitted (``cancelled`` False) or cancelled with ``esc``."""

        def __init__(self, bar: "PromptBar", mode: Mode, value: str, cancelled: bool) -> None:
            super().__init__()
            self.bar, self.mode, self.value, self.cancelled = bar, mode, value, cancelled

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.mode: Mode = "command"

    def compose(self) -> ComposeResult:
        yield Static(":", id="prompt-glyph")
        yield PromptInput(compact=True, select_on_focus=False)

    @property
    def input(self) -> PromptInput:
        return self.query_one(PromptInput)

    def open(self, mode: Mode, value: str = "", *, words: list[str] | None = None) -> None:
        self.mode = mode
        self.query_one("#prompt-glyph", Static).update(PROMPTS[mode])
        field = self.input
        field.placeholder = "command: subs, theme NAME, help, q" if mode == "command" else "type to filter rows"
        field.suggester = SuggestFromList(words, case_sensitive=False) if words else None
        self.add_class("-open")
        field.value = value
        field.cursor_position = len(value)
        field.focus()

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    @property
    def value(self) -> str:
        return self.input.value

    def close(self) -> None:
        self.remove_class("-open")

    def cancel(self) -> None:
        self.close()
        self.post_message(self.Done(self, self.mode, self.value, cancelled=True))

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self.is_open:
            self.post_message(self.Changed(self, self.mode, event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.close()
        self.post_message(self.Done(self, self.mode, event.value, cancelled=False))
