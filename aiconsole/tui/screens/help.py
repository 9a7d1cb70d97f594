"""``?``: every key of the screen underneath, with its binding id (for the user keymap)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from aiconsole.tui.widgets.resource_table import ResourceTable
from aiconsole.tui.widgets.table_model import Column, Row


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss_help", "Close", id="help.close"),
    ]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: 100%; max-width: 96; height: 100%; max-height: 36;
        border: round $primary; background: $surface; padding: 0 1;
    }
    HelpScreen #help-title { height: 1; text-style: bold; }
    HelpScreen #help-hint { height: 1; color: $text-muted; }
    """

    def __init__(self, title: str, rows: list[tuple[str, str, str, str]]) -> None:
        """``rows``: (keys, description, binding id, where) for each binding."""
        super().__init__()
        self._title = title
        self._rows = rows

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Keys: {self._title}", id="help-title")
            table = ResourceTable(
                [
                    Column("keys", "Key", min_width=5, max_width=14),
                    Column("what", "Does", min_width=14, max_width=40),
                    Column("id", "Binding id", min_width=8, max_width=26, priority=1),
                    Column("where", "Where", min_width=5, max_width=10, priority=2),
                ],
                id="help-table",
            )
            table.add_rows(Row(i, cells) for i, cells in enumerate(self._rows))
            yield table
            yield Static("esc/q close · remap any binding id in [keymap] of config.toml", id="help-hint", markup=False)

    def on_mount(self) -> None:
        self.query_one(ResourceTable).focus()

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
