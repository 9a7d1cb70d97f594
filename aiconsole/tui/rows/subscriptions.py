"""Subscription rows: name, display name, state (glyph + word), scope, owner, created, expires.

States are readable without colour: each has a glyph and a word; an active subscription whose
``expirationDate`` has passed (APIM never enforces it) gets an ⌛ mark and the ``warn`` style.
Every server string goes through ``sanitize`` here, before it can reach the terminal.
"""

from __future__ import annotations

from datetime import datetime

from aiconsole.domain.models import Scope, Subscription, SubscriptionState
from aiconsole.domain.text import sanitize
from aiconsole.tui.widgets.table_model import Column, Row

STATE_GLYPHS: dict[SubscriptionState, tuple[str, str]] = {
    SubscriptionState.active: ("●", "ok"),
    SubscriptionState.suspended: ("‖", "warn"),
    SubscriptionState.submitted: ("…", "muted"),
    SubscriptionState.rejected: ("✗", "throttled"),
    SubscriptionState.cancelled: ("✗", "muted"),
    SubscriptionState.expired: ("⌛", "expired"),
}
EXPIRED_MARK = "⌛"

COLUMNS = [
    Column("name", "Name", min_width=12, max_width=28),
    Column("display_name", "Display name", min_width=14, max_width=36),
    Column("state", "State", width=14, min_width=14),
    Column("scope", "Scope", min_width=12, max_width=26, priority=1),
    Column("owner", "Owner", min_width=10, max_width=18, priority=2),
    Column("created", "Created", width=10, min_width=10, priority=3),
    Column("expires", "Expires", width=10, min_width=10, priority=4),
]
STATE_COLUMN = 2


def state_label(sub: Subscription, now: datetime) -> tuple[str, str]:
    """(cell text, style) for the state column."""
    glyph, style = STATE_GLYPHS.get(sub.state, ("?", "muted"))
    text = f"{glyph} {sub.state.value}"
    if sub.state is not SubscriptionState.expired and sub.is_expired(now):
        text += f" {EXPIRED_MARK}"
        style = "expired" if sub.state is SubscriptionState.active else style
    return text, style


def _date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else ""


class SubscriptionRef:
    """What a table row keeps of a subscription: every field, in about a tenth of the memory of
    the pydantic model (which a 100,000-row table cannot afford per row); ``subscription()``
    rebuilds the model when a row is opened or acted on."""

    __slots__ = ("name", "display_name", "state", "scope_path", "owner_id", "created_date", "start_date",
                 "expiration_date", "end_date", "notification_date", "state_comment", "allow_tracing", "etag")

    def __init__(self, sub: Subscription) -> None:
        for field in self.__slots__:
            if field != "scope_path":
                setattr(self, field, getattr(sub, field))
        self.scope_path = sub.scope.path

    def subscription(self) -> Subscription:
        fields = {f: getattr(self, f) for f in self.__slots__ if f != "scope_path"}
        return Subscription(scope=Scope.parse(self.scope_path), **fields)


def subscription_row(sub: Subscription, now: datetime) -> Row[str]:
    state, style = state_label(sub, now)
    cells = (
        sanitize(sub.name, max_length=120),
        sanitize(sub.display_name or "", max_length=200),
        state,
        sanitize(sub.scope.label, max_length=120),
        sanitize(sub.owner, max_length=120),
        _date(sub.created_date),
        _date(sub.expiration_date),
    )
    sort = (
        cells[0].lower(),
        cells[1].lower(),
        sub.state.value,
        cells[3].lower(),
        cells[4].lower(),
        sub.created_date,
        sub.expiration_date,
    )
    return Row(key=sub.name, cells=cells, sort=sort, cell_styles={STATE_COLUMN: style}, data=SubscriptionRef(sub))
