"""``ConsoleScreen``: what every full screen of the console shares.

Header (connection, badges, data age), a status line, the screen's own body, the ``:``/``/``
prompt bar and the footer with this screen's keys. Subclasses write ``compose_body`` and, if
they filter, ``filter_changed``; they set ``updated_at`` when their data arrives.

Keyboard vocabulary (k9s): ``/`` filter, ``esc`` back (first it clears a filter), ``:`` command,
``?`` help, ``q`` quit — the last three are app bindings, so they work on every screen.
"""

from __future__ import annotations

from datetime import datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Static

from aiconsole.tui.clock import age_label
from aiconsole.tui.widgets.header import ConsoleHeader
from aiconsole.tui.widgets.prompt import PromptBar


class StatusLine(Static):
    """One line under the header: what is shown (counts, sort, filter) and what is happening."""

    DEFAULT_CSS = """
    StatusLine { height: 1; padding: 0 1; background: $surface; color: $text-muted; }
    """


class ConsoleScreen(Screen):
    #: shown in the header
    SCREEN_TITLE: str = ""
    #: the ``:`` command that opens this screen (set by subclasses; used by ``goto``)
    COMMAND: str = ""
    #: screens without a list to filter set this False and ``/`` disappears from their footer
    FILTERABLE: bool = True

    BINDINGS = [
        Binding("slash", "filter", "Filter", id="screen.filter"),
        Binding("escape", "back", "Back", id="screen.back"),
    ]

    updated_at: reactive[datetime | None] = reactive(None, repaint=False)
    filter_text: reactive[str] = reactive("", repaint=False)

    @classmethod
    def from_command(cls, argument: str = "") -> "ConsoleScreen":
        """Build the screen for ``:command ARGUMENT``; by default the argument is a filter."""
        screen = cls()
        if argument:
            screen.filter_text = argument
        return screen

    # -- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield ConsoleHeader()
        yield StatusLine(id="status")
        yield from self.compose_body()
        yield PromptBar(id="prompt")
        yield Footer(compact=True, show_command_palette=False)

    def compose_body(self) -> ComposeResult:
        yield from ()

    #: actions that write; hidden (footer, help, keys) on read-only profiles — the service
    #: layer refuses them there anyway, this only keeps the console from offering them
    WRITE_ACTIONS: tuple[str, ...] = ()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "filter" and not self.FILTERABLE:
            return False  # hidden from the footer and help
        if action in self.WRITE_ACTIONS and getattr(self.app.connection, "read_only", False):
            return False
        return True

    @property
    def prompt(self) -> PromptBar:
        return self.query_one("#prompt", PromptBar)

    def set_status(self, text: str) -> None:
        self.query_one("#status", StatusLine).update(text)

    # -- data age --------------------------------------------------------------------------
    def data_age_label(self) -> str:
        if self.updated_at is None:
            return age_label(None)
        return age_label((self.app.clock.now() - self.updated_at).total_seconds())

    def mark_updated(self) -> None:
        self.updated_at = self.app.clock.now()

    def watch_updated_at(self) -> None:
        for header in self.query(ConsoleHeader):
            header.refresh()

    # -- prompt ----------------------------------------------------------------------------
    def open_command_bar(self) -> None:
        from aiconsole.tui.screens import command_words

        self.prompt.open("command", words=command_words())

    def action_filter(self) -> None:
        self.prompt.open("filter", self.filter_text)

    def filter_changed(self, text: str) -> None:
        """Called on every keystroke of ``/`` and when the filter is cleared. Override."""

    def focus_body(self) -> None:
        """Give the keyboard back to the screen's main widget after the prompt closes."""
        self.focus_next()

    def on_prompt_bar_changed(self, event: PromptBar.Changed) -> None:
        if event.mode == "filter":
            self.filter_text = event.value
            self.filter_changed(event.value)

    def on_prompt_bar_done(self, event: PromptBar.Done) -> None:
        self.focus_body()
        if event.mode == "command":
            if not event.cancelled and event.value.strip():
                self.app.run_command(event.value)
        elif event.cancelled:
            self.clear_filter()

    def clear_filter(self) -> None:
        if self.filter_text:
            self.filter_text = ""
            self.filter_changed("")

    def action_back(self) -> None:
        """``esc``: clear an active filter first; otherwise leave this screen."""
        if self.filter_text:
            self.clear_filter()
            return
        self.app.go_back()
