"""The metric store: every response the gateway served, as counters and per-minute buckets.

The gateway is the only writer; the Prometheus, Azure Monitor and Log Analytics apps only read.
Three shapes are kept because the consumers need different things: Prometheus wants
monotonically growing counters since start (it computes rates itself), Azure Monitor wants sums
per minute over a time range, and the gateway log (``ApiManagementGatewayLogs``) wants one
record per request with who called, what answered and which policy refused — kept here as
counts of identical records per minute, which is what every query of it aggregates anyway.
Minute buckets older than the retention (24 h by default) are dropped, so memory stays bounded
however long the sandbox runs. Times are sandbox-clock epoch seconds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

TOKEN_METRICS = (("Total Tokens", "total_tokens"), ("Prompt Tokens", "prompt_tokens"), ("Completion Tokens", "completion_tokens"))


def code_category(code: int) -> str:
    return f"{code // 100}xx"


@dataclass(frozen=True)
class ServedRequest:
    """One response, as the metrics see it. ``slot`` is the key slot the caller used, if any."""

    ts: float
    status: int
    api_id: str = ""
    product_id: str = ""
    subscription_id: str = ""
    slot: str | None = None
    throttle_reason: str | None = None  # token-rate | token-quota | rate-limit | quota
    throttle_policy: str | None = None
    throttle_scope: str | None = None
    operation_id: str = ""
    backend_status: int | None = None  # what the model deployment answered, when it was asked
    error_source: str = ""  # the log's LastErrorSource when no limit refused (a limit names its policy)
    error_reason: str = ""

    def log_record(self) -> "LogRecord":
        """This response as the gateway log's columns (without the time, kept by minute)."""
        return LogRecord(
            self.subscription_id, self.product_id, self.api_id, self.operation_id, self.status, self.backend_status,
            self.throttle_policy or self.error_source, self.error_reason or _LIMIT_REASONS.get(self.throttle_reason or "", ""),
            self.throttle_scope or "",
        )


# The LastErrorReason recorded per kind of limit refusal (APIM's own names for rate limits and
# quotas; the token limits' follow the same pattern, and triage classifies by the policy anyway).
_LIMIT_REASONS = {"token-rate": "TokenLimitExceeded", "token-quota": "TokenQuotaExceeded",
                  "rate-limit": "RateLimitExceeded", "quota": "QuotaExceeded"}


@dataclass(frozen=True)
class LogRecord:
    """The gateway log's columns for a group of identical requests (see ``sandbox.logs.table``)."""

    subscription_id: str
    product_id: str
    api_id: str
    operation_id: str
    status: int
    backend_status: int | None
    error_source: str
    error_reason: str
    error_scope: str


class _Agg:
    __slots__ = ("count", "total", "minimum", "maximum")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.minimum = float("inf")
        self.maximum = float("-inf")

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.minimum = min(self.minimum, value)
        self.maximum = max(self.maximum, value)


class MetricStore:
    """Thread-safe counters and minute buckets; cheap to write (a few dict updates per request)."""

    def __init__(self, *, retention_minutes: int = 1440) -> None:
        self.retention_minutes = retention_minutes
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, str, int], int] = {}
        self.slots: dict[tuple[str, str], int] = {}
        self.throttles: dict[tuple[str, str, str, str, str, int], int] = {}
        self.tokens: dict[tuple[str, str, tuple[tuple[str, str], ...]], float] = {}
        self._request_minutes: dict[int, dict[tuple[int, str], int]] = {}
        self._token_minutes: dict[int, dict[tuple[str, str, tuple[tuple[str, str], ...]], _Agg]] = {}
        self._log_minutes: dict[int, dict[LogRecord, int]] = {}
        # Gauges computed at scrape time (remaining tokens, node health) come from providers.
        self.gauge_providers: list[Callable[[], list[tuple[str, str, dict[str, str], float]]]] = []

    def _minute(self, ts: float) -> int:
        minute = int(ts // 60) * 60
        tables = (self._request_minutes, self._token_minutes, self._log_minutes)
        if all(minute not in table for table in tables):
            # A new minute: keep at most ``retention_minutes`` of them, dropping the oldest.
            # Counting entries (not comparing with "now") keeps this bounded after clock jumps.
            for table in tables:
                excess = len(table) + 1 - self.retention_minutes
                if excess > 0:
                    for old in sorted(table)[:excess]:
                        del table[old]
        return minute

    def record_request(self, served: ServedRequest) -> None:
        with self._lock:
            key = (served.api_id, served.product_id, served.subscription_id, served.status)
            self.requests[key] = self.requests.get(key, 0) + 1
            if served.slot and served.subscription_id:
                skey = (served.subscription_id, served.slot)
                self.slots[skey] = self.slots.get(skey, 0) + 1
            if served.throttle_reason:
                tkey = (
                    served.subscription_id, served.api_id, served.throttle_reason,
                    served.throttle_policy or "", served.throttle_scope or "", served.status,
                )
                self.throttles[tkey] = self.throttles.get(tkey, 0) + 1
            minute = self._minute(served.ts)
            bucket = self._request_minutes.setdefault(minute, {})
            mkey = (served.status, served.api_id)
            bucket[mkey] = bucket.get(mkey, 0) + 1
            logs = self._log_minutes.setdefault(minute, {})
            record = served.log_record()
            logs[record] = logs.get(record, 0) + 1

    def record_tokens(self, ts: float, namespace: str, dimensions: tuple[tuple[str, str], ...],
                      prompt: int, completion: int) -> None:
        values = {"total_tokens": prompt + completion, "prompt_tokens": prompt, "completion_tokens": completion}
        with self._lock:
            bucket = self._token_minutes.setdefault(self._minute(ts), {})
            for metric, attr in TOKEN_METRICS:
                value = values[attr]
                ckey = (attr, namespace, dimensions)
                self.tokens[ckey] = self.tokens.get(ckey, 0.0) + value
                agg = bucket.get((namespace, metric, dimensions))
                if agg is None:
                    agg = bucket[(namespace, metric, dimensions)] = _Agg()
                agg.add(value)

    # ---- readers -------------------------------------------------------------------------
    def snapshot(self) -> dict[str, dict]:
        """Copies of the cumulative counters (for the Prometheus collector)."""
        with self._lock:
            return {
                "requests": dict(self.requests),
                "slots": dict(self.slots),
                "throttles": dict(self.throttles),
                "tokens": dict(self.tokens),
            }

    def request_minutes(self, start: float, end: float) -> Iterator[tuple[int, int, str, int]]:
        """``(minute, status, api_id, count)`` for minutes in ``[start, end)``."""
        with self._lock:
            rows = [
                (m, status, api, count)
                for m, bucket in self._request_minutes.items()
                if start <= m < end
                for (status, api), count in bucket.items()
            ]
        return iter(rows)

    def log_minutes(self, start: float | None = None, end: float | None = None) -> list[tuple[int, LogRecord, int]]:
        """``(minute, record, count)`` of the gateway log for minutes in ``[start, end)`` (None: open)."""
        lo = float("-inf") if start is None else start
        hi = float("inf") if end is None else end
        with self._lock:
            return [(m, record, n) for m, bucket in self._log_minutes.items() if lo <= m < hi
                    for record, n in bucket.items()]

    def token_minutes(self, namespace: str, metric: str, start: float, end: float) -> Iterator[tuple[int, tuple, tuple[int, float, float, float]]]:
        """``(minute, dimensions, (count, total, min, max))`` of one token metric in ``[start, end)``."""
        ns = namespace.lower()
        with self._lock:
            rows = [
                (m, dims, (agg.count, agg.total, agg.minimum, agg.maximum))
                for m, bucket in self._token_minutes.items()
                if start <= m < end
                for (n, name, dims), agg in bucket.items()
                if n.lower() == ns and name.lower() == metric.lower()
            ]
        return iter(rows)

    def token_namespaces(self) -> set[str]:
        with self._lock:
            return {n for bucket in self._token_minutes.values() for (n, _, _) in bucket}

    def slot_counts(self, subscription_id: str) -> dict[str, int]:
        """Calls per key slot for one subscription since start (the rotation flow reads this)."""
        with self._lock:
            return {slot: n for (sid, slot), n in self.slots.items() if sid == subscription_id}
