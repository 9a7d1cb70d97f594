"""Where a request goes after the policies admit it: backends, priority pools, circuit breakers.

The API's effective policy names a backend with ``<set-backend-service backend-id="..."/>``.
A single backend is a simulated model deployment with its own capacity (tokens per minute,
fixed minute windows on the sandbox clock): over capacity it answers 429 with ``Retry-After``,
as Azure OpenAI does. A pool sends each request to the best available priority group
(weighted round robin inside it). Each backend's circuit-breaker rules count failures
(status ranges) within their interval and trip for ``tripDuration`` — or for the deployment's
``Retry-After`` when ``acceptRetryAfter`` is set; a tripped backend gets no traffic, and a pool
with every member tripped (or a tripped single backend) answers 503. Time comes from the sandbox
clock only, so tests move it with ``POST /_sandbox/clock`` instead of sleeping.

The counters here are exported as Prometheus gauges (``aiconsole_sandbox_backend_*``) so the
console can show each backend's 429s/5xx and whether it is tripped.
"""

from __future__ import annotations

import math
import re
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiconsole.sandbox.clock import parse_iso_duration
from aiconsole.sandbox.state import SandboxState

_SET_BACKEND = re.compile(r"<set-backend-service\b[^>]*\bbackend-id\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)


def duration_seconds(text: str | None, default: float = 60.0) -> float:
    """ISO 8601 duration (``PT1M``, ``PT30S``, ``P1D``) in seconds; ``default`` when unreadable."""
    span = parse_iso_duration(text)
    return default if span is None else span.total_seconds()


@dataclass
class Lease:
    """The backend chosen for one request, or the answer to send instead (``refusal``)."""

    backend_id: str
    pool_id: str | None = None
    refusal: tuple[int, dict[str, Any], dict[str, str]] | None = None
    refused_by_backend: bool = False  # the deployment itself said no (not the gateway's open breaker)


@dataclass
class _Health:
    failures: deque = field(default_factory=deque)  # (ts, rule index)
    tripped_until: float = 0.0
    trips: int = 0
    window_start: float = -1.0
    window_tokens: int = 0


class BackendPools:
    """Routing, capacity and breakers for every backend of the state (one per gateway)."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self._lock = threading.Lock()
        self._health: dict[str, _Health] = {}
        self._responses: dict[tuple[str, str, int], int] = {}  # (backend, pool, status) -> count
        self._turn = 0

    # -- routing ---------------------------------------------------------------------------
    @staticmethod
    def backend_id(texts: Sequence[str]) -> str | None:
        """The last ``set-backend-service backend-id`` in chain order (the most specific wins)."""
        found = None
        for text in texts:
            for m in _SET_BACKEND.finditer(text or ""):
                found = m.group(1)
        return found

    def _entity(self, bid: str) -> Any:
        backends = self.state.backends
        entity = backends.get(bid)
        if entity is None:
            entity = next((b for k, b in backends.items() if k.lower() == bid.lower()), None)
        return entity

    def _tripped(self, bid: str, now: float) -> bool:
        h = self._health.get(bid)
        return h is not None and h.tripped_until > now

    def acquire(self, texts: Sequence[str], tokens: int) -> Lease | None:
        """Pick the backend for a request of ``tokens``; None when no managed backend is named."""
        bid = self.backend_id(texts)
        entity = self._entity(bid) if bid else None
        if entity is None:
            return None
        now = self.state.clock.time()
        with self._lock:
            pool_id = None
            if getattr(entity, "kind", "Single") == "Pool":
                pool_id = entity.bid
                member = self._pick(entity, now)
                if member is None:
                    return Lease(entity.bid, pool_id, self._unavailable(entity.bid, pool_id, now))
            else:
                member = entity
                if self._tripped(member.bid, now):
                    return Lease(member.bid, None, self._unavailable(member.bid, None, now))
            return self._consume(member, pool_id, tokens, now)

    def _pick(self, pool: Any, now: float) -> Any:
        groups: dict[int, list[tuple[Any, int]]] = {}
        for m in getattr(pool, "pool", []):
            member = self._entity(m["id"])
            if member is None or self._tripped(member.bid, now):
                continue
            groups.setdefault(m.get("priority") or 0, []).append((member, max(1, m.get("weight") or 1)))
        if not groups:
            return None
        best = groups[min(groups)]
        wheel = [member for member, weight in best for _ in range(weight)]
        self._turn += 1
        return wheel[self._turn % len(wheel)]

    def _consume(self, member: Any, pool_id: str | None, tokens: int, now: float) -> Lease:
        capacity = getattr(member, "capacity_tpm", None)
        if capacity:
            h = self._health.setdefault(member.bid, _Health())
            minute = now // 60 * 60
            if h.window_start != minute:
                h.window_start, h.window_tokens = minute, 0
            if h.window_tokens + tokens > capacity:
                retry = max(1, math.ceil(minute + 60 - now))
                body = {"error": {"code": "429", "message": (
                    "Requests to the ChatCompletions_Create Operation have exceeded the token rate limit of this "
                    f"deployment. Please retry after {retry} seconds.")}}
                refusal = (429, body, {"Retry-After": str(retry)})
                self._count(member.bid, pool_id, 429, now, retry_after=retry)
                return Lease(member.bid, pool_id, refusal, refused_by_backend=True)
            h.window_tokens += tokens
        return Lease(member.bid, pool_id)

    def _unavailable(self, bid: str, pool_id: str | None, now: float) -> tuple[int, dict[str, Any], dict[str, str]]:
        key = (bid, pool_id or "", 503)
        self._responses[key] = self._responses.get(key, 0) + 1
        waits = [self._health[b].tripped_until - now for b in self._health if self._health[b].tripped_until > now]
        retry = max(1, math.ceil(min(waits))) if waits else 1
        return 503, {"statusCode": 503, "message": "Service unavailable: the backend's circuit breaker is open."}, \
            {"Retry-After": str(retry)}

    # -- outcomes --------------------------------------------------------------------------
    def finish(self, lease: Lease, status: int, retry_after: int | None = None) -> None:
        """Record what the chosen backend answered (its own refusals are recorded when made)."""
        if lease.refusal is not None:
            return
        with self._lock:
            self._count(lease.backend_id, lease.pool_id, status, self.state.clock.time(), retry_after=retry_after)

    def _count(self, bid: str, pool_id: str | None, status: int, now: float, *, retry_after: int | None = None) -> None:
        key = (bid, pool_id or "", status)
        self._responses[key] = self._responses.get(key, 0) + 1
        entity = self._entity(bid)
        rules = getattr(entity, "breaker_rules", None) or []
        h = self._health.setdefault(bid, _Health())
        for i, rule in enumerate(rules):
            cond = rule.get("failureCondition") or {}
            ranges = cond.get("statusCodeRanges") or []
            if not any((r.get("min") or 0) <= status <= (r.get("max") or 0) for r in ranges):
                continue
            interval = duration_seconds(cond.get("interval"))
            h.failures.append((now, i))
            while h.failures and h.failures[0][0] <= now - interval:
                h.failures.popleft()
            count = sum(1 for _, idx in h.failures if idx == i)
            if count >= int(cond.get("count") or 1) and h.tripped_until <= now:
                trip = duration_seconds(rule.get("tripDuration"))
                if rule.get("acceptRetryAfter") and retry_after:
                    trip = float(retry_after)
                h.tripped_until = now + trip
                h.trips += 1
                h.failures.clear()

    # -- metrics ---------------------------------------------------------------------------
    def gauges(self) -> list[tuple[str, str, dict[str, str], float]]:
        """Per-backend series for the Prometheus exposition (see the module docstring)."""
        now = self.state.clock.time()
        out: list[tuple[str, str, dict[str, str], float]] = []
        with self._lock:
            for (bid, pool, status), n in sorted(self._responses.items()):
                out.append(("aiconsole_sandbox_backend_responses", "Responses per backend and status since start",
                            {"backend_id": bid, "pool_id": pool, "code": str(status)}, float(n)))
            with self.state.lock:
                singles = [b for b in self.state.backends.values() if getattr(b, "kind", "Single") == "Single"
                           and (getattr(b, "breaker_rules", None) or getattr(b, "capacity_tpm", None))]
            for b in singles:
                h = self._health.get(b.bid) or _Health()
                labels = {"backend_id": b.bid}
                out.append(("aiconsole_sandbox_backend_tripped", "1 while the backend's circuit breaker is open",
                            labels, 1.0 if h.tripped_until > now else 0.0))
                out.append(("aiconsole_sandbox_backend_trip_seconds_left", "Seconds until the breaker closes",
                            labels, max(0.0, h.tripped_until - now)))
                out.append(("aiconsole_sandbox_backend_trips", "Times the breaker tripped since start", labels,
                            float(h.trips)))
        return out
