"""An injectable clock for everything time-based in the sandbox.

Token windows, quota periods, subscription dates, gateway token expiry and `<choose>` overrides
all read the time from one ``Clock`` so that tests (and ``POST /_sandbox/clock``) can move time
forward without sleeping. By default it follows the real UTC clock; an offset shifts it, or it
can be frozen at a fixed instant.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 instant (``Z`` allowed); a naive value is taken as UTC."""
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


_ISO_DURATION = re.compile(r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
                           r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$", re.IGNORECASE)


def parse_iso_duration(text: str | None) -> timedelta | None:
    """An ISO 8601 duration (``PT1M``, ``PT30S``, ``P1D``, ``PT3600.0S``), or None when it is not one."""
    m = _ISO_DURATION.match((text or "").strip())
    if m is None or not any(m.groupdict().values()):
        return None
    parts = {k: float(v) for k, v in m.groupdict().items() if v}
    return timedelta(days=parts.get("d", 0), hours=parts.get("h", 0), minutes=parts.get("m", 0),
                     seconds=parts.get("s", 0))


class Clock:
    """UTC time with an adjustable offset, or frozen at an instant; thread-safe.

    ``advance`` keeps the clock running (it adds to the offset) unless it is frozen, in which
    case the frozen instant moves. ``set`` jumps to an instant and keeps running from there,
    so a sandbox with a moved clock still behaves like a live system.
    """

    def __init__(self, *, frozen_at: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0
        self._frozen: float | None = frozen_at.timestamp() if frozen_at is not None else None

    def time(self) -> float:
        """Seconds since the epoch (UTC), like ``time.time()`` but on this clock."""
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return time.time() + self._offset

    def now(self) -> datetime:
        """The current instant as an aware UTC datetime."""
        return datetime.fromtimestamp(self.time(), UTC)

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward (or back, with a negative value) by ``seconds``."""
        with self._lock:
            if self._frozen is not None:
                self._frozen += seconds
            else:
                self._offset += seconds
        return self.now()

    def set(self, instant: datetime) -> datetime:
        """Jump to ``instant``; a running clock keeps running from there."""
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
        with self._lock:
            if self._frozen is not None:
                self._frozen = instant.timestamp()
            else:
                self._offset = instant.timestamp() - time.time()
        return self.now()

    def freeze(self, instant: datetime | None = None) -> None:
        """Stop the clock (at ``instant`` or now): handy for deterministic tests."""
        at = (instant or self.now()).timestamp()
        with self._lock:
            self._frozen = at

    @property
    def frozen(self) -> bool:
        return self._frozen is not None

    def snapshot(self) -> dict:
        """What ``GET /_sandbox/clock`` answers."""
        now = self.now()
        return {
            "now": now.isoformat().replace("+00:00", "Z"),
            "epoch": now.timestamp(),
            "offset_seconds": round(now.timestamp() - time.time(), 3),
            "frozen": self.frozen,
        }
