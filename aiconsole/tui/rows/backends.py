"""Rows of the ``:backends`` table: pools and their members, breaker rules, 429s/5xx, tripped."""

from __future__ import annotations

from aiconsole.domain.text import sanitize
from aiconsole.tui.widgets.table_model import Column, Row

STATE = {"tripped": ("✗ tripped", "throttled"), "failing": ("! failing", "warn"), "ok": ("✓ ok", "ok"),
         "pool": ("◇ pool", None), "unknown": ("? no data", "muted")}

BACKEND_COLUMNS = [
    Column("name", "Backend", min_width=24, max_width=26),
    Column("state", "State", width=10, min_width=9),
    Column("routing", "Pool / members", min_width=12, max_width=52, priority=1),
    Column("breaker", "Circuit breaker", min_width=22, max_width=44, priority=2),
    Column("429", "429s", width=5, min_width=4, align="right"),
    Column("5xx", "5xx", width=5, min_width=4, align="right"),
    Column("trip", "Closes in", width=9, min_width=6, align="right"),
]


def routing_text(row) -> str:
    info = row.info
    if info.is_pool:
        return ", ".join(f"p{m.priority if m.priority is not None else '-'} {m.backend}"
                         + (f" w{m.weight}" if m.weight not in (None, 1) else "") for m in info.members)
    return f"in {', '.join(row.pools)}" if row.pools else "single"


def breaker_text(info) -> str:
    return "; ".join(f"{r.condition} → {r.trip_duration or '?'}{' or Retry-After' if r.accept_retry_after else ''}"
                     for r in info.rules)


def backend_row(row) -> Row[str]:
    label, style = STATE[row.state]
    h = row.health
    cells = (
        sanitize(row.info.name, max_length=60), label, sanitize(routing_text(row), max_length=200),
        sanitize(breaker_text(row.info), max_length=200),
        "" if h is None else str(h.throttled), "" if h is None else str(h.errors_5xx),
        f"{round(h.seconds_left)}s" if h is not None and h.tripped else "",
    )
    sort = (cells[0], label, cells[2], cells[3], h.throttled if h else -1, h.errors_5xx if h else -1,
            h.seconds_left if h else 0)
    return Row(key=row.info.name, cells=cells, sort=sort, cell_styles={1: style} if style else {}, data=row)
