"""``:backends`` — where traffic goes: single backends and pools, breakers, recent failures.

Pools list their members by priority (and weight when it is not 1); single backends show their
circuit-breaker rule, their own 429s and 5xx, and whether the breaker is open (✗ tripped, with
the seconds until it closes). A backend's 429 is the model deployment saying it is saturated —
never the gateway's token limit, which answers before any backend is called. Refreshes every
``REFRESH_SECONDS`` while shown (not while another screen covers it; at once on coming back);
``f5`` at once.
"""

from __future__ import annotations

from typing import Any

from textual.binding import Binding

from aiconsole.tui.rows.backends import BACKEND_COLUMNS, backend_row
from aiconsole.tui.screens.table_screen import TableScreen

REFRESH_SECONDS = 5.0


class BackendsScreen(TableScreen):
    SCREEN_TITLE = "Backends"
    COMMAND = "backends"
    COLUMNS = BACKEND_COLUMNS
    TABLE_ID = "backends-table"
    LOADING_TEXT = "reading backends…"
    EMPTY_TEXT = "no backends in this service"
    FAILED_TEXT = "could not read the backends (f5 retries)"
    ERROR_TITLE = "Cannot list backends"

    BINDINGS = [Binding("f5", "reload", "Reload", id="backends.reload")]

    def __init__(self, *, refresh_seconds: float | None = REFRESH_SECONDS) -> None:
        super().__init__()
        self.refresh_seconds = refresh_seconds
        self._reader = None
        self._routes = None  # API → backends: read once, policies change rarely (f5 reads them again)
        self._timer = None  # the refresh, running only while the screen is shown
        self._hidden = False

    def on_mount(self) -> None:
        self.set_status("reading backends and their health…")
        super().on_mount()

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

    def read(self) -> tuple[Any, list]:
        from aiconsole.services.backends import BackendsService, health_reader_for

        if self._reader is None:
            self._reader = health_reader_for(self.app.hub.connection) or False
        service = BackendsService(self.app.hub.context(), self._reader or None)
        if self._routes is None:
            self._routes = service.api_routes()
        report = service.report(self._routes)
        return report, [backend_row(r) for r in report.rows]

    def loaded(self, report: Any, rows: list) -> None:
        pools = sum(1 for r in report.rows if r.info.is_pool)
        tripped = sum(1 for r in report.rows if r.state == "tripped")
        status = f"{len(report.rows) - pools} backends · {pools} pools · ✗ {tripped} tripped"
        if report.telemetry_note:
            status += " · no per-backend telemetry"
        self.set_status(status)
