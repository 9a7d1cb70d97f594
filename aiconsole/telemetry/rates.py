"""Turning cumulative counters into per-minute rates, safely across restarts.

A Prometheus counter only grows — until the process behind it restarts and it starts again
from zero. Read naively, that is a huge negative rate. Here a value lower than the previous
one is a restart: the old value is folded into an offset, so the *adjusted* counter keeps
growing and every rate is ≥ 0 (Prometheus's own ``rate()`` does the same). A series that
appears after the first reading started from zero since then; series present at the first
reading are the baseline.

Readings are kept as checkpoints (at most one per ``spacing`` seconds, plus the newest), long
enough for the largest window and the 15-minute history. Values are stored in flat ``array``s
indexed by series number, so 10,000 series over 16 minutes cost a few MB, not a dict per
reading.
"""

from __future__ import annotations

from array import array
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass


@dataclass
class _Checkpoint:
    t: float
    values: array  # adjusted counter values, by series index; shorter arrays mean 0 for later series


class CounterTracker:
    """Adjusted counters over time; ``increase``/``rates`` over a window; per-minute history."""

    def __init__(self, *, keep_seconds: float = 17 * 60, spacing: float = 5.0) -> None:
        self.keep_seconds = keep_seconds
        self.spacing = spacing
        self._index: dict[Hashable, int] = {}
        self._keys: list[Hashable] = []
        self._last_raw = array("d")
        self._offset = array("d")
        self._checkpoints: list[_Checkpoint] = []
        self._latest: _Checkpoint | None = None
        self.resets_total = 0

    @property
    def keys(self) -> list[Hashable]:
        return self._keys

    @property
    def readings(self) -> int:
        return len(self._checkpoints) + (1 if self._latest is not None else 0)

    @property
    def latest_time(self) -> float | None:
        return self._latest.t if self._latest is not None else None

    def observe(self, t: float, values: Mapping[Hashable, float]) -> int:
        """Record one reading at time ``t``; returns how many series restarted since the last one."""
        resets = 0
        index, keys, last_raw, offset = self._index, self._keys, self._last_raw, self._offset
        for key, raw in values.items():
            raw = float(raw)
            if raw != raw or raw < 0:  # NaN or negative: not a counter value; ignore the sample
                continue
            i = index.get(key)
            if i is None:
                i = index[key] = len(keys)
                keys.append(key)
                last_raw.append(raw)
                offset.append(0.0)
                # Born after our first reading: it counted from zero since then (older
                # checkpoints hold no value for it, which reads as 0).
                continue
            if raw < last_raw[i]:
                offset[i] += last_raw[i]
                resets += 1
            last_raw[i] = raw
        # Series seen at the first reading are the baseline (that checkpoint holds them), not increases.
        adjusted = array("d", (o + r for o, r in zip(offset, last_raw)))
        self._push(_Checkpoint(t, adjusted))
        self.resets_total += resets
        return resets

    def _push(self, cp: _Checkpoint) -> None:
        if not self._checkpoints or cp.t - self._checkpoints[-1].t >= self.spacing:
            self._checkpoints.append(cp)
        self._latest = cp
        cutoff = cp.t - self.keep_seconds
        # keep one checkpoint at or before the cutoff so the longest window still has a start
        while len(self._checkpoints) >= 2 and self._checkpoints[1].t <= cutoff:
            self._checkpoints.pop(0)

    def _at_or_before(self, t: float) -> _Checkpoint | None:
        """The newest reading taken at or before ``t`` (None if all are newer)."""
        best = None
        for cp in self._checkpoints:
            if cp.t <= t:
                best = cp
            else:
                break
        if self._latest is not None and self._latest.t <= t:
            best = self._latest
        return best

    def _oldest(self) -> _Checkpoint | None:
        return self._checkpoints[0] if self._checkpoints else self._latest

    def window_start(self, window: float) -> _Checkpoint | None:
        """The reading a window of ``window`` seconds starts from: the newest at or before
        ``now - window``, else the oldest we have (the window is then shorter; see ``covered``)."""
        latest = self._latest
        if latest is None:
            return None
        start = self._at_or_before(latest.t - window)
        if start is None or start is latest:
            start = self._oldest()
        return None if start is None or start.t >= latest.t else start

    def covered(self, window: float) -> float:
        """Seconds the rates over ``window`` really cover (0 before the second reading)."""
        start = self.window_start(window)
        return 0.0 if start is None or self._latest is None else self._latest.t - start.t

    def increases(self, window: float) -> dict[Hashable, float]:
        """``{key: increase}`` over the window, for series that increased (never negative)."""
        start = self.window_start(window)
        latest = self._latest
        if start is None or latest is None:
            return {}
        a, b = start.values, latest.values
        n_a = len(a)
        out: dict[Hashable, float] = {}
        keys = self._keys
        for i, v in enumerate(b):
            d = v - (a[i] if i < n_a else 0.0)
            if d > 0:
                out[keys[i]] = d
        return out

    def rates(self, window: float) -> tuple[dict[Hashable, float], float]:
        """``({key: per-minute rate}, covered seconds)`` over the window."""
        covered = self.covered(window)
        if covered <= 0:
            return {}, 0.0
        scale = 60.0 / covered
        return {k: d * scale for k, d in self.increases(window).items()}, covered

    def history(self, keys: Iterable[Hashable], minutes: int, *, end: float | None = None) -> dict[Hashable, list[float]]:
        """Per-minute increases of ``keys`` for the ``minutes`` minutes ending at ``end`` (the
        newest reading by default), oldest first; minutes before our first reading are 0."""
        latest = self._latest
        if latest is None:
            return {k: [0.0] * minutes for k in keys}
        end = latest.t if end is None else end
        bounds = [self._at_or_before(end - 60.0 * (minutes - j)) for j in range(minutes)] + [self._at_or_before(end)]
        out: dict[Hashable, list[float]] = {}
        for key in keys:
            i = self._index.get(key)
            series = [0.0] * minutes
            if i is not None:
                prev = None
                for j, cp in enumerate(bounds):
                    value = None
                    if cp is not None:
                        value = cp.values[i] if i < len(cp.values) else 0.0
                    if j > 0 and prev is not None and value is not None:
                        series[j - 1] = max(0.0, value - prev)
                    if value is not None:
                        prev = value
            out[key] = series
        return out
