"""``:top`` — live tokens/min per subscription against the limit that binds it (journey J1).

Polling follows dolphie's discipline: one poll runs in a thread worker, and the next is
scheduled only when it has finished (never a fixed-rate timer that piles up behind a slow
scrape); polling stops while the screen is hidden and on ``p``; a failed poll keeps the last
rows, marks them stale, says why, and retries with backoff. Rows are built in the worker and
upserted by key into the line-API ``ResourceTable`` (toolong's approach), so a refresh never
clears and reloads and its cost does not grow with rows off screen.

The telemetry adapter (and with it any Azure SDK) is imported inside the worker only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message

from aiconsole.domain.text import sanitize
from aiconsole.tui.screens.base import ConsoleScreen
from aiconsole.tui.widgets.resource_table import ResourceTable
from aiconsole.tui.widgets.table_model import Column, Row

WINDOWS = (10.0, 30.0, 60.0, 300.0, 900.0)
DEFAULT_WINDOW = 60.0
POLL_INTERVAL = 2.0
MAX_BACKOFF = 30.0
BY_CYCLE = ("subscription", "product", "api")
SOURCES = ("prometheus", "monitor")


# -- the shared feed ------------------------------------------------------------------------------
def build_triage(app: Any, source: str | None) -> Any:
    """The ``TriageService`` for the app's connection (called in a worker: imports adapters)."""
    from aiconsole.services.triage import TriageService
    from aiconsole.telemetry.select import build_source

    ctx = app.hub.context()
    return TriageService.for_context(build_source(app.connection, source, now=ctx.now), ctx)


class LiveFeed:
    """One metrics source and its caches per app, shared by ``:top``, ``:429`` and the drill-in,
    so counters, history and looked-up limits survive moving between them."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._triage: Any = None
        self._lock = threading.Lock()
        self.last_report: Any = None
        self.source_name: str | None = None

    def triage(self) -> Any:
        with self._lock:
            if self._triage is None:
                self._triage = self._factory()
                self.source_name = getattr(self._triage.source, "name", None)
            return self._triage

    def poll(self, window: float, by: str) -> Any:
        triage = self.triage()
        with self._lock:  # one sample at a time: two screens never interleave scrapes
            report = triage.poll(window, by)
        self.last_report = report
        return report

    def close(self) -> None:
        if self._triage is not None:
            self._triage.source.close()


_FEEDS: dict[tuple[int, str | None], LiveFeed] = {}


def feed_for(app: Any, source: str | None = None) -> LiveFeed:
    key = (id(app), source)
    feed = _FEEDS.get(key)
    if feed is None:
        feed = _FEEDS[key] = LiveFeed(lambda: build_triage(app, source))
    return feed


# -- rows ------------------------------------------------------------------------------------------
COLUMNS = [
    Column("name", "Subscription", min_width=16, max_width=28),
    Column("tokens", "Tok/min", width=7, min_width=5, align="right"),
    Column("spark", "Last 15m", width=15, min_width=15, priority=3),
    Column("limit", "Limit", width=6, min_width=5, align="right"),
    Column("use", "Use", width=10, min_width=10, priority=2),
    Column("throttled", "429/m", width=6, min_width=5, align="right"),
    Column("quota", "403/m", width=6, min_width=5, align="right", priority=1),
    Column("requests", "Req/m", width=6, min_width=5, align="right", priority=4),
    Column("owner", "Owner", min_width=6, max_width=16, priority=6),
    Column("product", "Product", min_width=6, max_width=14, priority=5),
]
TITLES = {"subscription": "Subscription", "product": "Product", "api": "API"}


def top_row(r: Any, *, stale: bool = False) -> Row[str]:
    """A ``TopRow`` as table cells (built in the worker; every server string sanitised)."""
    from aiconsole.services.triage import format_rate
    from aiconsole.telemetry.glyphs import bar, sparkline

    lim = r.limit
    if lim is not None and lim.tokens_per_minute:
        limit = format_rate(lim.tokens_per_minute)
    elif r.gone:
        limit = "gone"
    elif lim is not None and lim.error:
        limit = "?"
    else:
        limit = "…" if r.by != "api" and not r.key.startswith("(") else "–"
    use = r.utilisation
    cells = (
        sanitize(r.key, max_length=60), format_rate(r.tokens_per_minute), sparkline(r.history), limit, bar(use),
        format_rate(r.throttled_per_minute), format_rate(r.quota_refused_per_minute),
        format_rate(r.requests_per_minute), sanitize(r.owner, max_length=30), sanitize(r.product, max_length=30),
    )
    sort = (r.key, r.tokens_per_minute, r.tokens_per_minute, lim.tokens_per_minute if lim else None, use,
            (r.refused_per_minute, r.tokens_per_minute), r.quota_refused_per_minute, r.requests_per_minute,
            r.owner, r.product)
    style = None
    cell_styles: dict[int, str] = {}
    if stale:
        style = "stale"
    elif r.gone:
        style = "expired"
    elif r.refused_per_minute > 0:
        style = "throttled"
    elif use is not None and use >= 0.8:
        style = "warn"
    elif r.tokens_per_minute <= 0 and r.requests_per_minute <= 0:
        style = "muted"
    if not stale and use is not None and use >= 1:
        cell_styles[4] = "throttled"
    return Row(r.key, cells, sort=sort, style=style, cell_styles=cell_styles, data=r)


def window_name(seconds: float) -> str:
    from aiconsole.services.triage import window_label

    return window_label(seconds)


# -- the polling screen base -------------------------------------------------------------------------
class LiveScreen(ConsoleScreen):
    """What ``:top`` and ``:429`` share: the feed, the poll loop, pause, window, data age."""

    BINDINGS = [
        Binding("p", "pause", "Pause", id="live.pause"),
        Binding("left_square_bracket", "window(-1)", "Window −", id="live.window_shorter"),
        Binding("right_square_bracket", "window(1)", "Window +", id="live.window_longer"),
        Binding("f5", "refresh_now", "Refresh", show=False, id="live.refresh"),
    ]

    class Polled(Message):
        def __init__(self, report: Any, rows: list[Row[str]] | None, error: BaseException | None) -> None:
            super().__init__()
            self.report, self.rows, self.error = report, rows, error

    poll_interval: float = POLL_INTERVAL

    def __init__(self, source: str | None = None) -> None:
        super().__init__()
        self.source = source
        self.window = DEFAULT_WINDOW
        self.by = "subscription"
        self.paused = False
        self.polling = False
        self.failures = 0
        self.error: str | None = None
        self.report: Any = None
        self.received_at: datetime | None = None
        self.polls = 0
        self._active = False
        self._timer = None

    @classmethod
    def from_command(cls, argument: str = "") -> "LiveScreen":
        word = argument.strip().lower()
        if word in SOURCES:
            return cls(source=word)
        screen = cls()
        if argument:
            screen.filter_text = argument
        return screen

    @property
    def feed(self) -> LiveFeed:
        return feed_for(self.app, self.source)

    # -- lifecycle: poll only while shown -------------------------------------------------------
    def on_screen_resume(self) -> None:
        self._active = True
        if not self.paused:
            self._schedule(0)

    def on_screen_suspend(self) -> None:
        self._active = False
        self._cancel_timer()

    def on_unmount(self) -> None:
        self._active = False
        self._cancel_timer()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _schedule(self, delay: float) -> None:
        self._cancel_timer()
        if delay <= 0:
            self.call_later(self._poll_now)
        else:
            self._timer = self.set_timer(delay, self._poll_now, name="live-poll")

    def _poll_now(self) -> None:
        self._timer = None
        if not self._active or self.paused or self.polling:
            return
        self.polling = True
        self.poll_worker(self.window, self.by)

    def render_rows(self, report: Any) -> list[Row[str]]:
        """Rows for this screen from a report (runs in the worker). Override."""
        return []

    @work(thread=True, exclusive=True, exit_on_error=False, group="live-poll")
    def poll_worker(self, window: float, by: str) -> None:
        try:
            report = self.feed.poll(window, by)
            rows = self.render_rows(report)
        except Exception as exc:  # noqa: BLE001 - a stale marker and a sentence, never a crash
            self.post_message(self.Polled(None, None, exc))
            return
        self.post_message(self.Polled(report, rows, None))

    def on_live_screen_polled(self, message: "LiveScreen.Polled") -> None:
        self.polling = False
        self.polls += 1
        if message.error is not None:
            self.failures += 1
            first = self.error is None
            self.error = _sentence(message.error)
            self.mark_stale()
            if first:
                self.app.show_error(message.error, "Metrics")
            delay = min(MAX_BACKOFF, self.poll_interval * 2 ** min(self.failures, 5))
        else:
            self.failures = 0
            self.error = None
            self.report = message.report
            self.received_at = self.app.clock.now()
            self.apply(message.report, message.rows or [])
            self.mark_updated()
            delay = self.poll_interval
        self.update_status()
        if self._active and not self.paused:
            self._schedule(delay)

    def apply(self, report: Any, rows: list[Row[str]]) -> None:
        """Put fresh rows on screen (UI thread). Override."""

    def mark_stale(self) -> None:
        """Show the last rows as stale (UI thread). Override."""

    def update_status(self) -> None:
        """Refresh the status line (UI thread). Override."""

    # -- data age: how old the *numbers* are, not when we last asked ------------------------------
    def data_age_label(self) -> str:
        if self.report is None:
            return "no data yet" if self.error is None else "no data: source unreachable"
        snap = self.report.snapshot
        extra = 0.0
        if self.received_at is not None:
            extra = max(0.0, (self.app.clock.now() - self.received_at).total_seconds())
        seconds = int(snap.data_age_seconds + extra)
        age = f"data {seconds}s old" if seconds < 90 else f"data {seconds // 60}m old"
        note = "~1 min delay" if snap.source == "azure_monitor" else "live"
        stale = " · STALE" if self.error else ""
        return f"{age} ({note}){stale}"

    # -- actions ----------------------------------------------------------------------------------
    def action_pause(self) -> None:
        self.paused = not self.paused
        if self.paused:
            self._cancel_timer()
        elif self._active:
            self._schedule(0)
        self.update_status()

    def action_window(self, step: int) -> None:
        i = min(range(len(WINDOWS)), key=lambda j: abs(WINDOWS[j] - self.window))
        self.window = WINDOWS[max(0, min(len(WINDOWS) - 1, i + step))]
        self.update_status()
        if self._active and not self.paused and not self.polling:
            self._schedule(0)

    def action_refresh_now(self) -> None:
        if self._active and not self.polling:
            self._schedule(0)

    def status_suffix(self) -> str:
        parts = [f"window {window_name(self.window)}"]
        if self.paused:
            parts.append("PAUSED (p)")
        if self.error:
            parts.append(f"stale: {self.error}")
        elif self.report is not None and self.report.snapshot.warnings:
            parts.append(self.report.snapshot.warnings[0])
        return " · ".join(parts)


def _sentence(exc: BaseException) -> str:
    message = getattr(exc, "message", None)
    if message:
        return sanitize(message, max_length=160)
    return type(exc).__name__


# -- :top ----------------------------------------------------------------------------------------
class TopScreen(LiveScreen):
    SCREEN_TITLE = "Live traffic"
    COMMAND = "top"

    BINDINGS = [
        Binding("b", "cycle_by", "By", id="top.by"),
    ]

    DEFAULT_CSS = """
    TopScreen #top-headline { height: 1; padding: 0 1; background: $surface; color: $text; }
    TopScreen #top-table { height: 1fr; }
    """

    def compose_body(self) -> ComposeResult:
        from textual.widgets import Static

        yield Static("", id="top-headline", markup=False)
        yield ResourceTable(COLUMNS, id="top-table")

    @property
    def table(self) -> ResourceTable:
        return self.query_one("#top-table", ResourceTable)

    def focus_body(self) -> None:
        self.table.focus()

    def on_mount(self) -> None:
        table = self.table
        table.placeholder = "waiting for the first reading…"
        table.set_sort("throttled", reverse=True)
        if self.filter_text:
            table.set_filter(self.filter_text)
        table.focus()
        self.update_status()

    def render_rows(self, report: Any) -> list[Row[str]]:
        return [top_row(r) for r in report.rows]

    def apply(self, report: Any, rows: list[Row[str]]) -> None:
        table = self.table
        keep = {row.key for row in rows}
        for key in [row.key for row in table.model.rows() if row.key not in keep]:
            table.remove_row(key)
        table.add_rows(rows)
        if not rows:
            table.placeholder = "no traffic in this window"
        from textual.widgets import Static

        self.query_one("#top-headline", Static).update(report.headline.text)

    def mark_stale(self) -> None:
        table = self.table
        rows = [top_row(row.data, stale=True) for row in table.model.rows() if row.data is not None]
        if rows:
            table.add_rows(rows)

    def update_status(self) -> None:
        table = self.table
        by = TITLES[self.by].lower()
        sort = table.sort_label()
        self.set_status(f"{table.model.count_label()} {by}s · sort {sort} · {self.status_suffix()}")

    def filter_changed(self, text: str) -> None:
        self.table.set_filter(text)
        self.update_status()

    def on_resource_table_view_changed(self, event: ResourceTable.ViewChanged) -> None:
        self.update_status()

    def action_cycle_by(self) -> None:
        self.by = BY_CYCLE[(BY_CYCLE.index(self.by) + 1) % len(BY_CYCLE)]
        table = self.table
        table.clear()
        table.columns[0] = Column("name", TITLES[self.by], min_width=16, max_width=28)
        table.placeholder = f"reading per {self.by}…"
        self.update_status()
        if self._active and not self.paused and not self.polling:
            self._schedule(0)

    def on_resource_table_selected(self, event: ResourceTable.Selected) -> None:
        row = self.table.model.get(event.key)
        if row is None or row.data is None:
            return
        if self.by != "subscription":
            self.notify("Drill-in is per subscription: press b until the view is by subscription.",
                        severity="warning", markup=False)
            return
        from aiconsole.tui.screens.sub_live import SubscriptionLiveScreen

        self.app.push_screen(SubscriptionLiveScreen(str(event.key), source=self.source, window=self.window))
