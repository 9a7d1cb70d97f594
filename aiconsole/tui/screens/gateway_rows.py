"""Rows of the ``:gw`` view: pure functions from ``GatewayStatus`` to table cells.

Token states are readable without colour: each has a glyph and a word (``⚠ expiring``), and the
expiry cell says how far away it is. Rows whose token is dead or expires within 7 days also get a
row style, so the danger shows in colour as well. Server strings are sanitised here, in the worker
that builds the rows, before anything reaches the terminal. No Textual import: rows are data.
"""

from __future__ import annotations

from datetime import datetime

from aiconsole.domain.text import sanitize
from aiconsole.services.gateway_tokens import STATE_GLYPHS
from aiconsole.services.gateways import GatewayStatus
from aiconsole.tui.widgets.table_model import Column, Row

STATE_STYLES = {
    "valid": "ok",
    "expiring": "warn",
    "expired": "expired",
    "invalidated": "throttled",
    "unknown": "muted",
}

COLUMNS = [
    Column("name", "Gateway", min_width=19, max_width=28),
    Column("token", "Token", width=13, min_width=13),
    Column("expires", "Expires", width=13, min_width=13),
    Column("slot", "Slot", width=9, min_width=9, priority=1),
    Column("nodes", "Nodes", width=14, min_width=8),
    Column("location", "Location", min_width=8, max_width=18, priority=4),
    Column("apis", "APIs", width=4, min_width=4, priority=5, align="right"),
    Column("rate", "Req/min", width=7, min_width=7, priority=3, align="right"),
    Column("errors", "Err%", width=5, min_width=5, priority=3, align="right"),
]
TOKEN, EXPIRES, NODES = 1, 2, 4


def relative(delta_seconds: float) -> str:
    """``in 3d`` / ``in 5h`` / ``2d ago``: what an operator reads at a glance."""
    future = delta_seconds >= 0
    s = abs(delta_seconds)
    if s >= 86400:
        text = f"{int(s // 86400)}d"
    elif s >= 3600:
        text = f"{int(s // 3600)}h"
    else:
        text = f"{max(1, int(s // 60))}m"
    return f"in {text}" if future else f"{text} ago"


def token_cells(status: GatewayStatus, now: datetime) -> tuple[str, str, str]:
    """(token state, expiry, slot) cells."""
    state = status.token_state
    token = f"{STATE_GLYPHS[state]} {state}"
    if status.token is None:
        return token, "", ""
    expires = status.token.expires
    return token, f"{expires:%m-%d} {relative((expires - now).total_seconds())}", status.token.slot


def nodes_cell(status: GatewayStatus) -> tuple[str, str | None]:
    """``2/2 ✓ 14ms`` with a style, or ``-`` when no node URL is configured."""
    if not status.nodes:
        return "-", None
    healthy = sum(1 for n in status.nodes if n.healthy)
    total = len(status.nodes)
    latencies = [n.latency_ms for n in status.nodes if n.latency_ms is not None and n.healthy]
    glyph, style = ("✓", "ok") if healthy == total else (("⚠", "warn") if healthy else ("✗", "throttled"))
    text = f"{healthy}/{total} {glyph}"
    if latencies:
        text += f" {max(latencies):.0f}ms"
    return text, style


def gateway_row(status: GatewayStatus, now: datetime) -> Row[str]:
    token, expires, slot = token_cells(status, now)
    nodes, nodes_style = nodes_cell(status)
    m = status.metrics
    # "…" while waiting for the second scrape that turns counters into a rate.
    rate = "" if m is None else ("…" if m.requests_per_min is None else f"{m.requests_per_min:.0f}")
    errors = "" if m is None else ("…" if m.error_rate is None else f"{m.error_rate * 100:.1f}")
    cells = (
        sanitize(status.name, max_length=80),
        token,
        expires,
        slot,
        nodes,
        sanitize(status.gateway.location or "", max_length=80),
        str(len(status.apis)),
        rate,
        errors,
    )
    state_style = STATE_STYLES[status.token_state]
    styles = {TOKEN: state_style, EXPIRES: state_style}
    if nodes_style:
        styles[NODES] = nodes_style
    # Dead or soon-dead tokens colour the whole row, not just one cell.
    row_style = state_style if status.token_state in ("expiring", "expired", "invalidated") else None
    order = status.sort_key()
    sort = (cells[0].lower(), order, order, slot, nodes, cells[5].lower(), len(status.apis),
            m.requests_per_min if m else None, m.error_rate if m else None)
    return Row(key=status.name, cells=cells, sort=sort, style=row_style, cell_styles=styles, data=status)
