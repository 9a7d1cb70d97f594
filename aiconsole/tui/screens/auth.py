"""``:auth`` — how every API is guarded: subscription key, JWT validation, backend credentials.

One row per API with a verdict per layer (✓ ok, · none, ! warn, ✗ fail — readable without
colour) and its worst finding; the pane below spells out all three findings of the selected
API. ``f5`` reads everything again.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Static

from aiconsole.tui.rows.posture import POSTURE_COLUMNS, detail_text, posture_row
from aiconsole.tui.screens.base import ConsoleScreen
from aiconsole.tui.widgets.resource_table import ResourceTable


class PostureScreen(ConsoleScreen):
    SCREEN_TITLE = "Authentication posture"
    COMMAND = "auth"

    BINDINGS = [Binding("f5", "reload", "Reload", id="auth.reload")]

    DEFAULT_CSS = """
    PostureScreen #posture-table { height: 1fr; }
    PostureScreen #posture-detail { height: auto; max-height: 10; padding: 0 1; border-top: solid $panel; }
    """

    class Loaded(Message):
        def __init__(self, rows: list | None, error: BaseException | None = None) -> None:
            super().__init__()
            self.rows, self.error = rows, error

    def compose_body(self) -> ComposeResult:
        yield ResourceTable(POSTURE_COLUMNS, id="posture-table")
        yield Static("", id="posture-detail", markup=False)

    @property
    def table(self) -> ResourceTable:
        return self.query_one("#posture-table", ResourceTable)

    def focus_body(self) -> None:
        self.table.focus()

    def on_mount(self) -> None:
        self.table.placeholder = "reading APIs, policies, named values and backends…"
        self.table.focus()
        self.set_status("assessing every API…")
        self.action_reload()

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="posture-load")
    def load(self) -> None:
        from aiconsole.services.posture import PostureService

        try:
            found = PostureService(self.app.hub.context()).assess()
            self.post_message(self.Loaded([posture_row(p) for p in found]))
        except Exception as exc:  # noqa: BLE001 - shown as one sentence
            self.post_message(self.Loaded(None, exc))

    def on_posture_screen_loaded(self, message: Loaded) -> None:
        table = self.table
        if message.error is not None:
            table.placeholder = "could not read the configuration (f5 retries)"
            self.app.show_error(message.error, "Cannot assess the APIs")
            self.set_status("load failed")
            return
        table.replace_rows(message.rows)
        table.placeholder = "no APIs in this service"
        self.mark_updated()
        counts = {v: sum(1 for r in message.rows if r.data.verdict == v) for v in ("fail", "warn", "ok")}
        self.set_status(f"{len(message.rows)} APIs · ✗ {counts['fail']} fail · ! {counts['warn']} warn · "
                        f"✓ {counts['ok']} ok")
        self._show_detail()

    def _show_detail(self) -> None:
        row = self.table.cursor_row
        self.query_one("#posture-detail", Static).update(detail_text(row.data) if row is not None else "")

    def on_resource_table_cursor_moved(self, message: ResourceTable.CursorMoved) -> None:
        self._show_detail()

    def filter_changed(self, text: str) -> None:
        self.table.set_filter(text)
