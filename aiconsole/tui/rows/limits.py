"""Rows of the ``:limits`` table and of a subscription's effective chain.

Rendered in workers (sanitising is work). Overrides show as "▲ 2 active · 41m left" so the
state reads without colour; an expired override still in the policy shows "⌛ 1 expired".
"""

from __future__ import annotations

from datetime import datetime

from aiconsole.domain.text import sanitize
from aiconsole.tui.widgets.table_model import Column, Row

LIMIT_COLUMNS = [
    Column("scope", "Scope", min_width=10, max_width=34),
    Column("policy", "Policy", min_width=10, max_width=24, priority=2),
    Column("counter", "Counter key", min_width=10, max_width=30, priority=3),
    Column("tpm", "Tokens/min", width=10, min_width=8, align="right"),
    Column("quota", "Quota/period", min_width=10, max_width=22, priority=1),
    Column("overrides", "Overrides", min_width=10, max_width=30),
]

CHAIN_COLUMNS = [
    Column("binds", "", width=2, min_width=2),
    Column("scope", "Scope", min_width=10, max_width=34),
    Column("policy", "Policy", min_width=10, max_width=24, priority=2),
    Column("tpm", "Tokens/min", width=10, min_width=8, align="right"),
    Column("quota", "Quota/period", min_width=10, max_width=22, priority=1),
    Column("shared", "Counter shared", min_width=10, max_width=34, priority=3),
    Column("override", "Override", min_width=8, max_width=30),
]


def _left(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m left"
    if seconds >= 60:
        return f"{seconds // 60}m left"
    return f"{seconds}s left"


def _num(value) -> str:
    return f"{value:,}" if isinstance(value, int) else sanitize(value or "", max_length=20)


def quota_text(quota, period) -> str:
    if quota is None:
        return ""
    return f"{_num(quota)}/{sanitize(period or '?', max_length=10)}"


def overrides_text(overrides, now: datetime) -> tuple[str, str | None]:
    """(cell, style) summarising a limit's overrides."""
    active = [o for o in overrides if o.active_at(now)]
    expired = len(overrides) - len(active)
    parts = []
    style = None
    if active:
        soonest = min(o.expires for o in active)
        parts.append(f"▲ {len(active)} active · {_left((soonest - now).total_seconds())}")
        style = "warn"
    if expired:
        parts.append(f"⌛ {expired} expired")
        style = style or "stale"
    return " · ".join(parts), style


def limit_row(sl, now: datetime) -> Row[str]:
    lim = sl.limit
    tpm = lim.tokens_per_minute.to_json() if lim.tokens_per_minute else None
    quota = lim.token_quota.to_json() if lim.token_quota else (lim.calls.to_json() if lim.calls else None)
    period = lim.token_quota_period or (f"{lim.renewal_period.to_json()}s" if lim.renewal_period else None)
    ov_text, ov_style = overrides_text(sl.overrides, now)
    cells = (
        sanitize(sl.scope.label, max_length=120),
        lim.policy,
        sanitize(lim.counter_key or "", max_length=120),
        _num(tpm) if tpm is not None else "",
        quota_text(quota, period),
        ov_text,
    )
    sort = (cells[0], cells[1], cells[2], tpm if isinstance(tpm, int) else None,
            quota if isinstance(quota, int) else None, len(sl.overrides))
    styles = {5: ov_style} if ov_style else {}
    return Row(key=f"{sl.scope.label}#{lim.index}", cells=cells, sort=sort, cell_styles=styles, data=sl)


def chain_row(link, now: datetime, position: int) -> Row[int]:
    lim = link.limit
    override = ""
    if link.override is not None:
        override = f"▲ {link.override.id} · {_left((link.override.expires - now).total_seconds())}"
    cells = (
        "◀" if link.binds else "",
        sanitize(link.scope.label, max_length=120),
        lim.policy,
        _num(link.effective_tpm) if link.effective_tpm is not None else "",
        quota_text(link.effective_quota, lim.token_quota_period),
        sanitize(link.shared, max_length=120),
        sanitize(override, max_length=120),
    )
    style = "throttled" if link.binds else None
    return Row(key=position, cells=cells, style=style, data=link)
