"""``:usage`` — tokens, requests and refusals per subscription, product or owner, for cross-charging.

``b`` cycles the grouping (subscription → product → owner), ``p`` the period (today, 24 hours,
7 days, 30 days, ending at the gateway's now). Each row has a bar of its share of the biggest
row; the status line carries the totals. Prices per 1,000 tokens come from the profile.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from textual.binding import Binding

from aiconsole.tui.rows.usage import USAGE_COLUMNS, usage_row
from aiconsole.tui.screens.table_screen import TableScreen

GROUPS = ("subscription", "product", "owner")
PERIODS = (("today", None), ("24 hours", timedelta(hours=24)), ("7 days", timedelta(days=7)),
           ("30 days", timedelta(days=30)))


class UsageScreen(TableScreen):
    SCREEN_TITLE = "Usage"
    COMMAND = "usage"
    COLUMNS = USAGE_COLUMNS
    TABLE_ID = "usage-table"
    LOADING_TEXT = "reading token metrics…"
    EMPTY_TEXT = "no token usage in this period"
    FAILED_TEXT = "could not read usage (f5 retries)"
    ERROR_TITLE = "Cannot read usage"

    BINDINGS = [
        Binding("b", "cycle_group", "By", id="usage.by"),
        Binding("p", "cycle_period", "Period", id="usage.period"),
        Binding("f5", "reload", "Reload", id="usage.reload"),
    ]

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

    def read(self, by: str, period: int) -> tuple[Any, list]:
        from aiconsole.services.usage import UsageService, prices_from_profile, reader_for

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
        return report, [usage_row(r, biggest, by) for r in report.rows]

    def before_rows(self, report: Any) -> None:
        if report.by != self._shown_by:  # other groups, other rows: start from the top
            self.table.clear()
            self._shown_by = report.by

    def loaded(self, report: Any, rows: list) -> None:
        t = report.totals
        text = f"{self._label()} · {t['total_tokens']:,} tokens · {t['requests']:,} requests"
        if t["refused"] is not None:
            text += f" · {t['refused']:,} refused"
        if t["cost"] is not None:
            text += f" · cost {t['cost']:,.2f}"
        self.set_status(text)

    def failed(self) -> None:
        self.set_status(f"{self._label()} · load failed")
