"""Parsing the durations and dates people type on the command line.

``--wait-idle 10m``, ``--within 7d`` and ``--expires 2026-12-31`` all arrive as text; these
helpers turn them into ``timedelta``/aware ``datetime`` values or raise a ``UsageError`` that
says what a valid value looks like, so every command rejects bad input the same way.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone

from aiconsole.domain.errors import UsageError
from aiconsole.domain.text import sanitize

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str, *, what: str = "duration") -> timedelta:
    """``90s``, ``10m``, ``1h30m``, ``7d``, ``2w`` (a bare number means seconds).

    ``what`` names the value in the message (``'soon' is not a token lifetime.``).
    """
    raw = (text or "").strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", raw):
        return _bounded(text, float(raw), what)
    pos, total = 0, 0.0
    for match in _PART.finditer(raw):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not raw or pos != len(raw):
        raise UsageError(f"'{sanitize(text, max_length=40)}' is not a {what}.", HINT)
    return _bounded(text, total, what)


HINT = "Use for example 90s, 10m, 1h30m, 7d or 2w."


def _bounded(text: str, seconds: float, what: str) -> timedelta:
    """A timedelta, or a UsageError for a duration too long to represent (not an OverflowError)."""
    try:
        return timedelta(seconds=seconds)
    except (OverflowError, ValueError):
        raise UsageError(f"'{sanitize(text, max_length=40)}' is too long a {what}.", HINT) from None


def format_duration(delta: timedelta) -> str:
    """The inverse, for messages: ``1h30m``, ``45s``, ``0s``."""
    seconds = int(round(delta.total_seconds()))
    if seconds <= 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(out)


def parse_date(text: str, *, now: datetime | None = None) -> datetime:
    """An expiry date: ``2026-12-31`` (midnight UTC), an ISO date-time, or ``+30d`` from now.

    Naive date-times are taken as UTC: APIM stores and compares expiry dates in UTC.
    """
    raw = (text or "").strip()
    if raw.startswith("+"):
        base = now or datetime.now(timezone.utc)
        try:
            return base + parse_duration(raw[1:])
        except OverflowError:
            raise UsageError(f"'{text}' is too far in the future.", "Use a date before the year 10000.") from None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            return datetime.combine(date.fromisoformat(raw), time(0, 0), tzinfo=timezone.utc)
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"'{text}' is not a date.", "Use YYYY-MM-DD, an ISO date-time (2026-12-31T18:00Z) or +30d."
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
