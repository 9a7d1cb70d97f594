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
import time
from functools import lru_cache
from collections.abc import Callable
from datetime import datetime
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.strip import Strip
from rich.segment import Segment
from rich.style import Style

from aiconsole.domain.text import sanitize
from aiconsole.tui.errors import sentence
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
    return TriageService.for_context(build_source(app.connection, source, now=ctx.now), ctx, connection=app.connection)


class LiveFeed:
    """One metrics source and its caches per connection, shared by ``:top``, ``:429`` and the
    drill-in, so counters, history and looked-up limits survive moving between them."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._triage: Any = None
        self._lock = threading.Lock()  # one build and one sample at a time
        self._state = threading.Lock()  # held only for a moment: ``close`` never waits on a scrape
        self._closed = False
        self.last_report: Any = None
        self.source_name: str | None = None

    def triage(self) -> Any:
        with self._lock:
            with self._state:
                if self._closed:  # a poll that outlived its connection builds nothing new
                    raise RuntimeError("this metrics feed belongs to a connection that was closed")
                triage = self._triage
            if triage is None:
                triage = self._factory()
                with self._state:
                    closed = self._closed
                    if not closed:
                        self._triage = triage
                if closed:
                    triage.source.close()
                    raise RuntimeError("this metrics feed belongs to a connection that was closed")
                self.source_name = getattr(triage.source, "name", None)
            return triage

    def poll(self, window: float, by: str) -> Any:
        triage = self.triage()
        with self._lock:  # one sample at a time: two screens never interleave scrapes
            report = triage.poll(window, by)
        self.last_report = report
        return report

    def close(self) -> None:
        """Close the metrics source; the feed cannot be used afterwards."""
        with self._state:
            self._closed = True
            triage, self._triage = self._triage, None
        if triage is not None:
            triage.source.close()


def feed_for(app: Any, source: str | None = None) -> LiveFeed:
    """The feed of the app's current connection for ``source``; the hub owns it (and closes it
    when ``:ctx`` replaces the hub, so a new connection starts with fresh feeds)."""
    feeds = app.hub.live_feeds
    feed = feeds.get(source)
    if feed is None:
        feed = feeds[source] = LiveFeed(lambda: build_triage(app, source))
    return feed


# -- a table that repaints only what changed ----------------------------------------------------------
class LiveTable(ResourceTable):
    """A ``ResourceTable`` for data that refreshes every second.

    After a reading it compares what each screen line showed with what it will show and
    repaints only the cells that differ (a whole line when its row, state or cursor changed), so
    the bytes sent to the terminal follow what changed on screen — a few numbers per row — not
    the size of the screen. Scrolling, resizing, a different row count or the cursor's row
    leaving the screen take the table's ordinary full repaint. Unchanged rows are not even
    replaced in the model, so a reading that changes nothing costs nothing on the UI loop.
    """

    def __init__(self, columns, **kwargs: Any) -> None:
        super().__init__(columns, **kwargs)
        self._full = True
        self._painted: tuple | None = None  # (top, width, count, lines)
        self.full_repaints = 0  # counters for tests and the benchmark
        self.cell_repaints = 0

    def apply_rows(self, rows: list[Row[Any]], keep: set | None = None) -> None:
        """Upsert the rows that changed; drop rows not in ``keep`` (when given)."""
        model = self.model
        if keep is not None:
            for key in [r.key for r in model.rows() if r.key not in keep]:
                model.remove(key)
        changed = []
        for row in rows:
            old = model.get(row.key)
            if (old is None or old.cells != row.cells or old.sort != row.sort or old.style != row.style
                    or old.cell_styles != row.cell_styles):
                changed.append(row)
            else:
                old.data = row.data  # same picture, newer numbers behind it
        if changed:
            model.upsert_many(changed)
        self._schedule_sync()

    def _invalidate(self) -> None:
        self._full = True

    def set_filter(self, text: str | None = None, predicate=None) -> None:
        self._invalidate()
        super().set_filter(text, predicate)

    def set_sort(self, column, reverse: bool = False) -> None:
        self._invalidate()
        super().set_sort(column, reverse)

    def clear(self) -> None:
        self._invalidate()
        super().clear()

    def on_resize(self, event) -> None:
        self._invalidate()
        super().on_resize(event)

    def _lines(self, top: int) -> tuple:
        model = self.model
        view = model.view
        out = []
        for index in range(top, min(len(view), top + self.body_height)):
            key = view[index]
            row = model.get(key)
            out.append((key, row.cells, row.style, tuple(sorted(row.cell_styles.items())),
                        index == self.cursor, model.is_marked(key)))
        return tuple(out)

    def _snapshot(self) -> tuple:
        top = round(self.scroll_offset.y)
        return (top, self.scrollable_content_region.width, self.model.visible_count, self._lines(top))

    def sync_now(self) -> None:
        model = self.model
        if model.revision == self._synced_revision:
            return
        painted = self._painted
        if not self._full and painted is not None and self.is_mounted:
            top, width, count, old_lines = painted
            view = model.view
            index = model.index_of(self._cursor_key) if self._cursor_key is not None else None
            if (top == round(self.scroll_offset.y) and width == self.scrollable_content_region.width
                    and count == len(view) and (index is None or top <= index < top + self.body_height)):
                if index is not None and index != self.cursor:
                    self.set_reactive(ResourceTable.cursor, index)  # same row, new place: no full repaint
                lines = self._lines(top)
                self._last_sync = time.monotonic()
                self._synced_revision = model.revision
                self._line_cache.clear()
                self._refresh_changed(old_lines, lines, width)
                self._painted = (top, width, count, lines)
                self.cell_repaints += 1
                self.post_message(self.ViewChanged(self))
                return
        self._full = False
        self.full_repaints += 1
        super().sync_now()
        self._painted = self._snapshot() if self.is_mounted else None

    def _refresh_changed(self, old: tuple, new: tuple, width: int) -> None:
        """Mark the lines whose picture changed. Whole lines: the terminal is written a line
        (per widget) at a time anyway, and one region per line avoids writing a line twice."""
        from textual.geometry import Region

        regions = [
            Region(0, y + 1, width, 1)  # line 0 is the header
            for y in range(max(len(old), len(new)))
            if (old[y] if y < len(old) else None) != (new[y] if y < len(new) else None)
        ]
        if regions:
            self.refresh(*regions)

    def render_line(self, y: int) -> Strip:
        return compact_strip(super().render_line(y))


def compact_strip(strip: Strip) -> Strip:
    """The same picture in fewer escape sequences: blank segments take their neighbour's style
    when only the background shows (same background, no underline, strike or reverse), and
    neighbours with one style merge. A table row of ten cells becomes a few segments, which
    is most of the bytes a refresh sends to the terminal."""
    out: list[Segment] = []
    for seg in strip:
        text, style, control = seg
        if out and not control:
            prev_text, prev_style, prev_control = out[-1]
            # A run never starts with blanks (some SVG viewers collapse them in snapshots).
            if not prev_control and not prev_text.isspace():
                if prev_style == style or (text.isspace() and _blank_compatible(prev_style, style)):
                    out[-1] = Segment(prev_text + text, prev_style)
                    continue
        out.append(seg)
    return Strip(out, strip.cell_length)


def _blank_compatible(keep: Style | None, blank: Style | None) -> bool:
    """Whether spaces drawn in ``blank`` look the same drawn in ``keep``."""
    if keep is None or blank is None:
        return keep == blank
    for attr in ("underline", "strike", "reverse", "overline", "underline2", "blink", "conceal"):
        if getattr(keep, attr) or getattr(blank, attr):
            return False
    return keep.bgcolor == blank.bgcolor


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


def _q(value: float | None) -> float | None:
    """Two significant digits: the precision a row's place in the order should react to."""
    if not value:
        return value
    return float(f"{value:.2g}")


@lru_cache(maxsize=16384)
def _clean(text: str, length: int) -> str:
    """``sanitize`` for the strings that repeat every second (names, owners, products)."""
    return sanitize(text, max_length=length)


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
        _clean(r.key, 60), format_rate(r.tokens_per_minute), sparkline(r.history), limit, bar(use),
        format_rate(r.throttled_per_minute), format_rate(r.quota_refused_per_minute),
        format_rate(r.requests_per_minute), _clean(r.owner, 30), _clean(r.product, 30),
    )
    # Sort on rounded values so that rows do not swap places over noise from one reading to the next.
    tokens = _q(r.tokens_per_minute)
    sort = (r.key, tokens, tokens, lim.tokens_per_minute if lim else None, use,
            (_q(r.refused_per_minute), tokens), r.quota_refused_per_minute, r.requests_per_minute,
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
            self.error = sentence(message.error)
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

    def set_status(self, text: str) -> None:
        """Only when the words change: an unchanged line costs no repaint every second."""
        if text != getattr(self, "_status_text", None):
            self._status_text = text
            super().set_status(text)

    def set_text(self, selector: str, text: str) -> None:
        """Update a one-line ``Static`` only when its text changes (same reason)."""
        cache = self.__dict__.setdefault("_texts", {})
        if cache.get(selector) != text:
            cache[selector] = text
            from textual.widgets import Static

            self.query_one(selector, Static).update(text)

    def status_suffix(self) -> str:
        parts = [f"window {window_name(self.window)}"]
        if self.paused:
            parts.append("PAUSED (p)")
        if self.error:
            parts.append(f"stale: {self.error}")
        elif self.report is not None and self.report.snapshot.warnings:
            parts.append(self.report.snapshot.warnings[0])
        return " · ".join(parts)


# -- :top ----------------------------------------------------------------------------------------
class LiveTableScreen(LiveScreen):
    """A live screen that is one headline over one ``LiveTable`` (``:top``, ``:429``).

    Subclasses name their columns, default sort, element-id prefix and empty-table text, and say
    how a reading becomes rows (``render_rows``), how a row is drawn (``row_of``) and what the
    headline says (``headline``).
    """

    COLUMNS: list[Column] = []
    DEFAULT_SORT: str = ""
    ID_PREFIX: str = "live"
    EMPTY_TEXT: str = "nothing in this window"

    def compose_body(self) -> ComposeResult:
        from textual.widgets import Static

        yield Static("", id=f"{self.ID_PREFIX}-headline", markup=False)
        yield LiveTable(self.COLUMNS, id=f"{self.ID_PREFIX}-table")

    @property
    def table(self) -> LiveTable:
        return self.query_one(f"#{self.ID_PREFIX}-table", LiveTable)

    def focus_body(self) -> None:
        self.table.focus()

    def on_mount(self) -> None:
        table = self.table
        table.placeholder = "waiting for the first reading…"
        table.set_sort(self.DEFAULT_SORT, reverse=True)
        if self.filter_text:
            table.set_filter(self.filter_text)
        table.focus()
        self.update_status()

    def row_of(self, data: Any, *, stale: bool = False) -> Row[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def headline(self, report: Any) -> str:
        return report.headline.text

    def apply(self, report: Any, rows: list[Row[str]]) -> None:
        table = self.table
        first_reading = len(table.model) == 0
        table.apply_rows(rows, keep={row.key for row in rows})
        if first_reading and rows:
            table.sync_now()
            table.cursor = 0  # start on the worst row, not wherever the first row landed
        if not rows:
            table.placeholder = self.EMPTY_TEXT
        self.set_text(f"#{self.ID_PREFIX}-headline", self.headline(report))

    def mark_stale(self) -> None:
        table = self.table
        rows = [self.row_of(row.data, stale=True) for row in table.model.rows() if row.data is not None]
        if rows:
            table.apply_rows(rows)

    def filter_changed(self, text: str) -> None:
        self.table.set_filter(text)
        self.update_status()

    def on_resource_table_view_changed(self, event: ResourceTable.ViewChanged) -> None:
        self.update_status()


class TopScreen(LiveTableScreen):
    SCREEN_TITLE = "Live traffic"
    COMMAND = "top"

    BINDINGS = [
        Binding("b", "cycle_by", "By", id="top.by"),
    ]

    COLUMNS = COLUMNS
    DEFAULT_SORT = "throttled"
    ID_PREFIX = "top"
    EMPTY_TEXT = "no traffic in this window"

    DEFAULT_CSS = """
    TopScreen #top-headline { height: 1; padding: 0 1; background: $surface; color: $text; }
    TopScreen #top-table { height: 1fr; }
    """

    def render_rows(self, report: Any) -> list[Row[str]]:
        return [top_row(r) for r in report.rows]

    def row_of(self, data: Any, *, stale: bool = False) -> Row[str]:
        return top_row(data, stale=stale)

    def update_status(self) -> None:
        table = self.table
        by = TITLES[self.by].lower()
        sort = table.sort_label()
        self.set_status(f"{table.model.count_label()} {by}s · sort {sort} · {self.status_suffix()}")

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
