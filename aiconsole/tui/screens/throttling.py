"""``:429`` — who is refused right now and why: one row per subscription and cause.

Causes: token rate (429 from a token limit), token quota (403), request rate limit (429 from
``rate-limit-by-key``), call quota (403), backend 429 (the model deployment itself) and auth
(401), each with the policy and scope that answered. The headline sums the window:
"N subscriptions throttled, ≈M tokens/min refused". It shares ``:top``'s feed and poll loop.
"""

from __future__ import annotations

from typing import Any

from aiconsole.domain.text import sanitize
from aiconsole.tui.screens.top import LiveTableScreen, _q
from aiconsole.tui.widgets.resource_table import ResourceTable
from aiconsole.tui.widgets.table_model import Column, Row

COLUMNS = [
    Column("subscription", "Subscription", min_width=16, max_width=26),
    Column("cause", "Cause", min_width=18, max_width=30),
    Column("rate", "Refused/m", width=9, min_width=9, align="right"),
    Column("policy", "Policy", min_width=14, max_width=26, priority=2),
    Column("scope", "Scope", min_width=15, max_width=24),
    Column("limit", "Limit", width=6, min_width=5, align="right", priority=3),
    Column("tokens", "Tok/min", width=7, min_width=7, align="right", priority=4),
    Column("refused_tokens", "≈Tok refused/m", width=14, min_width=8, align="right", priority=1),
    Column("owner", "Owner", min_width=6, max_width=16, priority=5),
]
STYLE_BY_REASON = {"auth": "expired", "backend-429": "warn", "token-quota": "throttled", "quota": "throttled"}


def event_row(e: Any, *, stale: bool = False) -> Row[str]:
    from aiconsole.services.triage import format_rate

    cause = e.label + (" (inferred)" if e.inferred else "")
    cells = (
        sanitize(e.subscription, max_length=60), cause, format_rate(e.per_minute), sanitize(e.policy, max_length=40),
        sanitize(e.scope, max_length=40), format_rate(e.limit_tokens_per_minute) if e.limit_tokens_per_minute else "–",
        format_rate(e.tokens_per_minute), format_rate(e.tokens_refused_per_minute), sanitize(e.owner, max_length=30),
    )
    sort = (e.subscription, e.label, _q(e.per_minute), e.policy, e.scope, e.limit_tokens_per_minute,
            _q(e.tokens_per_minute), _q(e.tokens_refused_per_minute), e.owner)
    style = "stale" if stale else STYLE_BY_REASON.get(e.reason, "throttled")
    return Row(e.key, cells, sort=sort, style=style, data=e)


class ThrottlingScreen(LiveTableScreen):
    SCREEN_TITLE = "Throttling"
    COMMAND = "429"

    COLUMNS = COLUMNS
    DEFAULT_SORT = "rate"
    ID_PREFIX = "t429"
    EMPTY_TEXT = "nobody is refused in this window"

    DEFAULT_CSS = """
    ThrottlingScreen #t429-headline { height: auto; max-height: 3; padding: 0 1; background: $surface; text-style: bold; }
    ThrottlingScreen #t429-table { height: 1fr; }
    """

    def render_rows(self, report: Any) -> list[Row[str]]:
        from aiconsole.services.triage import throttle_events

        return [event_row(e) for e in throttle_events(report.rows)]

    def row_of(self, data: Any, *, stale: bool = False) -> Row[str]:
        return event_row(data, stale=stale)

    def headline(self, report: Any) -> str:
        text = report.headline.text
        snap = report.snapshot
        if not snap.per_subscription_status:
            from aiconsole.services.triage import format_rate

            per_api = ", ".join(
                f"{sanitize(api, max_length=30)} {format_rate(st.get(429, 0.0))}×429 {format_rate(st.get(403, 0.0))}×403"
                for api, st in sorted(snap.api_statuses.items()) if st.get(429) or st.get(403)
            ) or "none"
            text = ("Refusals per subscription need gateway logs (a Log Analytics workspace); per API per minute: "
                    f"{per_api}")
        return text

    def update_status(self) -> None:
        table = self.table
        self.set_status(f"{table.model.count_label()} causes · sort {table.sort_label()} · {self.status_suffix()}")

    def on_resource_table_selected(self, event: ResourceTable.Selected) -> None:
        row = self.table.model.get(event.key)
        if row is None or row.data is None:
            return
        from aiconsole.tui.screens.sub_live import SubscriptionLiveScreen

        self.app.push_screen(SubscriptionLiveScreen(row.data.subscription, source=self.source, window=self.window))
