"""Rendering command results: JSON for scripts, an aligned plain table for people.

JSON output escapes everything (``json.dumps``); table output passes every cell through
``sanitize`` so a hostile display name cannot inject terminal escape sequences.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime
from typing import Any

from aiconsole.domain.text import sanitize


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if hasattr(value, "value"):
        return value.value
    return str(value)


# json.dumps escapes C0 controls but, with ensure_ascii=False, passes DEL, C1 controls (an 8-bit
# CSI is one character), bidi overrides and other format characters through raw to the terminal.
_UNSAFE_IN_JSON = re.compile(r"[\x7f-\x9f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]"
                             r"|[\U000e0000-\U000e007f]")


def _escape_unsafe(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code > 0xFFFF:
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def to_json(data: Any, *, indent: int | None = 2) -> str:
    """JSON text that is safe to print: every control or invisible format character is escaped.
    ``indent=None`` gives one line (a stream of records)."""
    text = json.dumps(data, indent=indent, default=_default, ensure_ascii=False)
    return _UNSAFE_IN_JSON.sub(_escape_unsafe, text)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items())
    return sanitize(value, max_length=60)


def render_table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    if not rows:
        return "(none)"
    columns = columns or list(rows[0].keys())
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip()]
    for row in cells:
        lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
    return "\n".join(lines)


def render_record(record: dict[str, Any]) -> str:
    width = max((len(k) for k in record), default=0)
    return "\n".join(f"{k.ljust(width)}  {_cell(v)}" for k, v in record.items())


def emit(data: Any, *, json_mode: bool, columns: list[str] | None = None, title: str | None = None) -> None:
    if json_mode:
        sys.stdout.write(to_json(data) + "\n")
        return
    if title:
        sys.stdout.write(sanitize(title) + "\n")
    if isinstance(data, list):
        sys.stdout.write(render_table(data, columns) + "\n")
    elif isinstance(data, dict):
        sys.stdout.write(render_record(data) + "\n")
    else:
        sys.stdout.write(sanitize(data, keep_newlines=True) + "\n")
