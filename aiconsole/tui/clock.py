"""A clock the console can be handed, so that time-based behaviour is testable and snapshots
are stable: data age ("updated 3s ago"), the 15-second key reveal, expiry marks.

The app owns one clock; screens ask ``self.app.clock`` instead of calling ``datetime.now``.
Tests pass a ``FrozenClock`` and ``advance`` it instead of sleeping.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Wall-clock time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (for countdowns)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def monotonic(self) -> float:
        return time.monotonic()


class FrozenClock:
    """A clock that moves only when told to."""

    def __init__(self, now: datetime | None = None) -> None:
        self._now = now or datetime(2026, 1, 15, 9, 30, tzinfo=timezone.utc)
        self._mono = 1000.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._mono += seconds


def age_label(seconds: float | None) -> str:
    """``updated 3s ago`` / ``updated 2m ago`` / ``not loaded yet``."""
    if seconds is None:
        return "not loaded yet"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"updated {seconds}s ago"
    if seconds < 3600:
        return f"updated {seconds // 60}m ago"
    return f"updated {seconds // 3600}h ago"
