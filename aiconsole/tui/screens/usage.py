"""``:usage`` — tokens, requests and refusals per subscription, product or owner, for cross-charging.

``b`` cycles the grouping (subscription → product → owner), ``p`` the period (today, 24 hours,
7 days, 30 days, ending at the gateway's now). Each row has a bar of its share of the biggest
row; the status line carries the totals. Prices per 1,000 tokens come from the profile.
"""

from __future__ import annotations

from datetime import timedelta

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message

from aiconsole.tui.rows.usage import USAGE_COLUMNS, usage_row
from aiconsole.tui.screens.base import ConsoleScreen
from aiconsole.tui.widgets.resource_table import ResourceTable

GROUPS = ("subscription", "product", "owner")
PERIODS = (("today", None), ("24 hours", timedelta(hours=24)), ("7 days", timedelta(days=7)),
           ("30 days", timedelta(days=30)))


class UsageScreen(ConsoleScreen):
    SCREEN_TITLE = "Usage"
    COMMAND = "usage"

    BINDINGS = [
        Binding("b", "cycle_group", "By", id="usage.by"),
        Binding("p", "cycle_period", "Period", id="usage.period"),
        Binding("f5", "reload", "Reload", id="usage.reload"),
    ]

    DEFAULT_CSS = """
    UsageScreen #usage-table { height: 1fr; }
    """

    class Loaded(Message):
        def __init__(self, report, rows: list | None, error: BaseException | None = None) -> None:
            super().__init__()
            self.report, self.rows, self.error = report, rows, error

    def __init__(self, by: str = "subscription", period: int = 1) -> None:
        super().__init__()
        self.by = by
        self.period = period
        self._shown_by: str | None = None  # the grouping the table holds

    @classmethod
    def from_command(cls, argument: str = "") -> "UsageScreen":
        """``:usage product`` / ``:usage owner`` opens grouped that way."""
        word = argument.strip().lower()
        return cls(by=word) if word in GROUPS else cls()

    def compose_body(self) -> ComposeResult:
        yield ResourceTable(USAGE_COLUMNS, id="usage-table")

    @property
    def table(self) -> ResourceTable:
        return self.query_one("#usage-table", ResourceTable)

    def focus_body(self) -> None:
        self.table.focus()

    def on_mount(self) -> None:
        self.table.placeholder = "reading token metrics…"
        self.table.focus()
        self.action_reload()

    def _label(self) -> str:
        return f"by {self.by} · {PERIODS[self.period][0]}"

    def action_cycle_group(self) -> None:
        self.by = GROUPS[(GROUPS.index(self.by) + 1) % len(GROUPS)]
        self.action_reload()

    def action_cycle_period(self) -> None:
        self.period = (self.period + 1) % len(PERIODS)
        self.action_reload()

    def action_reload(self) -> None:
        self.set_status(f"{self._label()} · reading…")
        self.load(self.by, self.period)

    @work(thread=True, exclusive=True, exit_on_error=False, group="usage-load")
    def load(self, by: str, period: int) -> None:
        from aiconsole.services.usage import UsageService, prices_from_profile, reader_for

        try:
            ctx = self.app.hub.context()
            connection = self.app.hub.connection
            end = ctx.now()
            span = PERIODS[period][1]
            start = end.replace(hour=0, minute=0, second=0, microsecond=0) if span is None else end - span
            reader = reader_for(connection)
            try:
                report = UsageService(ctx.backend, reader, prices_from_profile(connection.extra)).report(start, end, by)
            finally:
                reader.close()
            biggest = max((r.total_tokens for r in report.rows), default=0.0)
            self.post_message(self.Loaded(report, [usage_row(r, biggest, by) for r in report.rows]))
        except Exception as exc:  # noqa: BLE001
            self.post_message(self.Loaded(None, None, exc))

    def on_usage_screen_loaded(self, message: Loaded) -> None:
        table = self.table
        if message.error is not None:
            table.placeholder = "could not read usage (f5 retries)"
            self.app.show_error(message.error, "Cannot read usage")
            self.set_status(f"{self._label()} · load failed")
            return
        if message.report.by != self._shown_by:  # other groups, other rows: start from the top
            table.clear()
            self._shown_by = message.report.by
        table.replace_rows(message.rows)  # same grouping: the cursor stays on its row
        table.placeholder = "no token usage in this period"
        self.mark_updated()
        t = message.report.totals
        text = f"{self._label()} · {t['total_tokens']:,} tokens · {t['requests']:,} requests"
        if t["refused"] is not None:
            text += f" · {t['refused']:,} refused"
        if t["cost"] is not None:
            text += f" · cost {t['cost']:,.2f}"
        self.set_status(text)

    def filter_changed(self, text: str) -> None:
        self.table.set_filter(text)
