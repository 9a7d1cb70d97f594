"""Counters behind the limits: rolling (per-minute, per-renewal-period) and fixed-window totals.

One counter exists per counter-key value, whichever scope's policy names it, which is how APIM
shares a token budget across scopes. Rolling windows keep one bucket per second (at most
``window`` buckets per key, each remembering its newest entry, which is when the whole bucket
ages out), so a check is a short sum however busy the key is. Times are epoch
seconds from the sandbox clock; if the clock jumps back, entries "from the future" still count
until they age out, which errs on the side of enforcing the limit, and Retry-After stays within
one window.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    """The outcome of checking a rolling window before admitting a request."""

    used: int
    limit: int
    allowed: bool
    retry_after: int  # seconds until the request would fit; 0 when allowed

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


class RollingCounter:
    """Amounts per key over the last ``window`` seconds (sliding) or the current window (fixed)."""

    def __init__(self, window: int = 60, *, mode: str = "sliding") -> None:
        if mode not in ("sliding", "fixed"):
            raise ValueError("mode must be 'sliding' or 'fixed'")
        self.window = window
        self.mode = mode
        self._buckets: dict[str, deque[list[float]]] = {}
        self._lock = threading.Lock()

    def _start(self, now: float) -> float:
        if self.mode == "fixed":
            return math.floor(now / self.window) * self.window
        return now - self.window

    def _live(self, key: str, now: float) -> deque[list[float]]:
        buckets = self._buckets.get(key)
        if buckets is None:
            return deque()
        start = self._start(now)
        if self.mode == "sliding":
            while buckets and buckets[0][2] <= start:  # the bucket's newest entry has aged out
                buckets.popleft()
        else:
            while buckets and buckets[0][0] < start:
                buckets.popleft()
        if not buckets:
            del self._buckets[key]
        return buckets

    def used(self, key: str, now: float) -> int:
        with self._lock:
            return int(sum(b[1] for b in self._live(key, now)))

    def add(self, key: str, amount: float, now: float) -> None:
        if amount == 0:
            return
        second = math.floor(now)
        with self._lock:
            buckets = self._buckets.setdefault(key, deque())
            if buckets and buckets[-1][0] == second:
                buckets[-1][1] += amount
                buckets[-1][2] = max(buckets[-1][2], now)
            else:
                buckets.append([second, amount, now])
            if len(self._buckets) > 100_000:  # a hostile counter-key cannot grow memory forever
                for stale in [k for k, b in self._buckets.items() if not b][:1000]:
                    del self._buckets[stale]

    def check(self, key: str, limit: int, need: int, now: float) -> Check:
        """Would a request needing ``need`` more (0: just "under the limit") be admitted now?"""
        threshold = limit - max(need, 1)
        with self._lock:
            buckets = list(self._live(key, now))
        used = int(sum(b[1] for b in buckets))
        if used <= threshold:
            return Check(used, limit, True, 0)
        if threshold < 0:
            return Check(used, limit, False, self.window)
        if self.mode == "fixed":
            wait = self._start(now) + self.window - now
        else:
            remaining, wait = used, float(self.window)
            for _second, amount, newest in buckets:
                remaining -= amount
                if remaining <= threshold:
                    wait = newest + self.window - now
                    break
        return Check(used, limit, False, max(1, min(self.window, math.ceil(wait))))


class WindowTotals:
    """Totals per key within a fixed window identified by its start; a new window starts at zero."""

    def __init__(self) -> None:
        self._totals: dict[tuple, tuple[float, float]] = {}  # key -> (window start epoch, total)
        self._lock = threading.Lock()

    def used(self, key: tuple, window_start: float) -> int:
        with self._lock:
            start, total = self._totals.get(key, (window_start, 0.0))
        return int(total) if start == window_start else 0

    def add(self, key: tuple, amount: float, window_start: float) -> None:
        if amount == 0:
            return
        with self._lock:
            start, total = self._totals.get(key, (window_start, 0.0))
            if start != window_start:
                total = 0.0
            self._totals[key] = (window_start, total + amount)
            if len(self._totals) > 100_000:
                for stale in [k for k, (s, _) in self._totals.items() if s < window_start][:1000]:
                    del self._totals[stale]
