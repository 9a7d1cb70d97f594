"""Text glyphs for rates: an eight-level sparkline and a bar against a limit.

Plain strings, so the same cells serve the TUI's line-API table (one string per cell, cached)
and the CLI's ANSI refresh, and neither needs a widget per row.
"""

from __future__ import annotations

SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], width: int | None = None) -> str:
    """Eight-level block sparkline, scaled to the series' own maximum; blank where zero."""
    if width is not None:
        values = values[-width:]
    top = max(values, default=0.0)
    if top <= 0:
        return " " * len(values) if values else ""
    return "".join(SPARK[min(7, int(v / top * 7.999))] if v > 0 else " " for v in values)


def bar(fraction: float | None, width: int = 10) -> str:
    """``█████▌    `` for a share of a limit; at or over 100% it fills and ends with ``!``."""
    if fraction is None:
        return " " * width
    if fraction >= 1:
        return "█" * (width - 1) + "!"
    cells = max(0.0, fraction) * width
    full = int(cells)
    half = "▌" if cells - full >= 0.5 and full < width else ""
    return ("█" * full + half).ljust(width)
