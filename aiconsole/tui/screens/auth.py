"""``:auth`` — how every API is guarded: subscription key, JWT validation, backend credentials.

One row per API with a verdict per layer (✓ ok, · none, ! warn, ✗ fail — readable without
colour) and its worst finding; the pane below spells out all three findings of the selected
API. ``f5`` reads everything again.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from aiconsole.tui.rows.posture import POSTURE_COLUMNS, detail_text, posture_row
from aiconsole.tui.screens.table_screen import TableScreen
from aiconsole.tui.widgets.resource_table import ResourceTable


class PostureScreen(TableScreen):
    SCREEN_TITLE = "Authentication posture"
    COMMAND = "auth"
    COLUMNS = POSTURE_COLUMNS
    TABLE_ID = "posture-table"
    LOADING_TEXT = "reading APIs, policies, named values and backends…"
    EMPTY_TEXT = "no APIs in this service"
    FAILED_TEXT = "could not read the configuration (f5 retries)"
    ERROR_TITLE = "Cannot assess the APIs"

    BINDINGS = [Binding("f5", "reload", "Reload", id="auth.reload")]

    DEFAULT_CSS = """
    PostureScreen #posture-detail { height: auto; max-height: 10; padding: 0 1; border-top: solid $panel; }
    """

    def compose_body(self) -> ComposeResult:
        yield from super().compose_body()
        yield Static("", id="posture-detail", markup=False)

    def on_mount(self) -> None:
        self.set_status("assessing every API…")
        super().on_mount()

    def read(self) -> tuple[Any, list]:
        from aiconsole.services.posture import PostureService

        found = PostureService(self.app.hub.context()).assess()
        return found, [posture_row(p) for p in found]

    def loaded(self, result: Any, rows: list) -> None:
        counts = {v: sum(1 for r in rows if r.data.verdict == v) for v in ("fail", "warn", "ok")}
        self.set_status(f"{len(rows)} APIs · ✗ {counts['fail']} fail · ! {counts['warn']} warn · ✓ {counts['ok']} ok")
        self._show_detail()

    def _show_detail(self) -> None:
        row = self.table.cursor_row
        self.query_one("#posture-detail", Static).update(detail_text(row.data) if row is not None else "")

    def on_resource_table_cursor_moved(self, message: ResourceTable.CursorMoved) -> None:
        self._show_detail()
