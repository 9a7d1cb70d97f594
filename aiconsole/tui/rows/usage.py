"""Rows of the ``:usage`` table: totals per subscription/product/owner with a bar of the share."""

from __future__ import annotations

from aiconsole.domain.text import sanitize
from aiconsole.tui.widgets.table_model import Column, Row

BAR_WIDTH = 12

USAGE_COLUMNS = [
    Column("key", "Who", min_width=18, max_width=28),
    Column("bar", "Share", width=BAR_WIDTH, min_width=BAR_WIDTH),
    Column("tokens", "Tokens", width=10, min_width=8, align="right"),
    Column("prompt", "Prompt", width=9, min_width=7, align="right", priority=4),
    Column("completion", "Completion", width=10, min_width=10, align="right", priority=4),
    Column("requests", "Requests", width=8, min_width=8, align="right"),
    Column("refused", "Refused", width=7, min_width=6, align="right", priority=1),
    Column("cost", "Cost", width=9, min_width=6, align="right", priority=1),
    Column("detail", "Name · product · owner", min_width=8, max_width=50, priority=3),
]


def bar(value: float, biggest: float, width: int = BAR_WIDTH) -> str:
    """``██████░░░░░░``: a share that reads without colour (eighths for the last cell)."""
    if biggest <= 0:
        return "░" * width
    exact = max(0.0, min(1.0, value / biggest)) * width
    full = int(exact)
    part = "▏▎▍▌▋▊▉"[int((exact - full) * 7)] if full < width and exact - full >= 1 / 7 else ""
    return ("█" * full + part).ljust(width, "░")[:width]


def usage_row(row, biggest: float, by: str) -> Row[str]:
    """A ``UsageRow`` as table cells (counts shown whole, cost to the cent, names sanitised)."""
    if by == "subscription":
        detail = " · ".join(x for x in (sanitize(row.display_name), ", ".join(sorted(row.products)),
                                         ", ".join(sorted(row.owners))) if x)
    else:
        detail = f"{len(row.subscriptions)} subscriptions"
    cells = (
        sanitize(row.key, max_length=80), bar(row.total_tokens, biggest), f"{int(row.total_tokens):,}",
        f"{int(row.prompt_tokens):,}", f"{int(row.completion_tokens):,}", f"{int(row.requests):,}",
        "?" if row.refused is None else f"{int(row.refused):,}",
        "" if row.cost is None else f"{row.cost:,.2f}", sanitize(detail, max_length=80),
    )
    sort = (cells[0], row.total_tokens, row.total_tokens, row.prompt_tokens, row.completion_tokens, row.requests,
            row.refused or 0, row.cost or 0, cells[8])
    return Row(key=row.key, cells=cells, sort=sort, data=row)
