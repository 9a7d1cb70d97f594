"""Rows of the ``:auth`` table: one API, a verdict per layer readable without colour."""

from __future__ import annotations

from aiconsole.domain.text import sanitize
from aiconsole.services.posture import VERDICTS
from aiconsole.tui.widgets.table_model import Column, Row

GLYPHS = {"ok": "✓ ok", "none": "· none", "warn": "! warn", "fail": "✗ fail"}
STYLES = {"ok": "ok", "warn": "warn", "fail": "throttled", "none": "muted"}
#: sort keys: worst first (fail, warn, none, ok), the reverse of ``posture.VERDICTS``
ORDER = {verdict: -rank for rank, verdict in enumerate(VERDICTS)}

POSTURE_COLUMNS = [
    Column("api", "API", min_width=10, max_width=24),
    Column("verdict", "Verdict", width=7, min_width=7),
    Column("key", "Key", width=7, min_width=7),
    Column("jwt", "JWT", width=7, min_width=7),
    Column("backend", "Backend", width=7, min_width=7),
    Column("finding", "Finding", min_width=16, max_width=120, priority=1),
]


def posture_row(p) -> Row[str]:
    layers = [p.layer("subscription"), p.layer("jwt"), p.layer("backend")]
    cells = (sanitize(p.api, max_length=60), GLYPHS[p.verdict], *(GLYPHS[x.verdict] for x in layers),
             sanitize(p.worst_layer.finding, max_length=300))
    styles = {i: STYLES[v] for i, v in enumerate([p.verdict, *(x.verdict for x in layers)], start=1)}
    return Row(key=p.api, cells=cells, sort=(cells[0], ORDER[p.verdict], *(ORDER[x.verdict] for x in layers), cells[5]),
               cell_styles=styles, data=p)


def detail_text(p) -> str:
    """The three findings of one API, for the pane under the table."""
    names = {"subscription": "Key    ", "jwt": "JWT    ", "backend": "Backend"}
    lines = [f"{sanitize(p.display_name, max_length=60)} (/{sanitize(p.path, max_length=40)})"]
    for layer in p.layers:
        lines.append(f"{names[layer.name]} {GLYPHS[layer.verdict]:<7} {sanitize(layer.finding, max_length=400)}")
    return "\n".join(lines)
