"""``:backends`` — where traffic goes: single backends and pools, breakers, recent failures.

Pools list their members by priority (and weight when it is not 1); single backends show their
circuit-breaker rule, their own 429s and 5xx, and whether the breaker is open (✗ tripped, with
the seconds until it closes). A backend's 429 is the model deployment saying it is saturated —
never the gateway's token limit, which answers before any backend is called. Refreshes every
``REFRESH_SECONDS`` while shown (not while another screen covers it; at once on coming back);
``f5`` at once.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message

from aiconsole.tui.rows.backends import BACKEND_COLUMNS, backend_row
from aiconsole.tui.screens.base import ConsoleScreen
from aiconsole.tui.widgets.resource_table import ResourceTable

REFRESH_SECONDS = 5.0


class BackendsScreen(ConsoleScreen):
    SCREEN_TITLE = "Backends"
    COMMAND = "backends"

    BINDINGS = [Binding("f5", "reload", "Reload", id="backends.reload")]

    DEFAULT_CSS = """
    BackendsScreen #backends-table { height: 1fr; }
    """

    class Loaded(Message):
        def __init__(self, report, rows: list | None, error: BaseException | None = None) -> None:
            super().__init__()
            self.report, self.rows, self.error = report, rows, error

    def __init__(self, *, refresh_seconds: float | None = REFRESH_SECONDS) -> None:
        super().__init__()
        self.refresh_seconds = refresh_seconds
        self._reader = None
        self._routes = None  # API → backends: read once, policies change rarely (f5 reads them again)
        self._timer = None  # the refresh, running only while the screen is shown
        self._hidden = False

    def compose_body(self) -> ComposeResult:
        yield ResourceTable(BACKEND_COLUMNS, id="backends-table")

    @property
    def table(self) -> ResourceTable:
        return self.query_one("#backends-table", ResourceTable)

    def focus_body(self) -> None:
        self.table.focus()

    def on_mount(self) -> None:
        self.table.placeholder = "reading backends…"
        self.table.focus()
        self.set_status("reading backends and their health…")
        self.action_reload()

    # -- refresh only while shown ---------------------------------------------------------
    def on_screen_resume(self) -> None:
        if self._hidden:  # back from another screen: what it shows is old, read it now
            self._hidden = False
            self.load()
        if self.refresh_seconds and self._timer is None:
            self._timer = self.set_interval(self.refresh_seconds, self.load, name="backends-refresh")

    def on_screen_suspend(self) -> None:
        self._hidden = True
        self._stop_timer()

    def on_unmount(self) -> None:
        self._stop_timer()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def action_reload(self) -> None:
        self._routes = None
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="backends-load")
    def load(self) -> None:
        from aiconsole.services.backends import BackendsService, health_reader_for

        try:
            if self._reader is None:
                self._reader = health_reader_for(self.app.hub.connection) or False
            service = BackendsService(self.app.hub.context(), self._reader or None)
            if self._routes is None:
                self._routes = service.api_routes()
            report = service.report(self._routes)
            self.post_message(self.Loaded(report, [backend_row(r) for r in report.rows]))
        except Exception as exc:  # noqa: BLE001
            self.post_message(self.Loaded(None, None, exc))

    def on_backends_screen_loaded(self, message: Loaded) -> None:
        table = self.table
        if message.error is not None:
            table.placeholder = "could not read the backends (f5 retries)"
            self.app.show_error(message.error, "Cannot list backends")
            self.set_status("load failed")
            return
        table.replace_rows(message.rows)
        table.placeholder = "no backends in this service"
        self.mark_updated()
        rows = message.report.rows
        pools = sum(1 for r in rows if r.info.is_pool)
        tripped = sum(1 for r in rows if r.state == "tripped")
        status = f"{len(rows) - pools} backends · {pools} pools · ✗ {tripped} tripped"
        if message.report.telemetry_note:
            status += " · no per-backend telemetry"
        self.set_status(status)

    def filter_changed(self, text: str) -> None:
        self.table.set_filter(text)
