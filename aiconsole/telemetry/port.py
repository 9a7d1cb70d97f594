"""The metrics port: what every telemetry adapter returns, whatever it reads.

The views ask one question — "per subscription (product, API), how many tokens, requests and
refusals per minute, and how old is that?" — and the answer must say how old it is, because
cloud metrics arrive about a minute late and the on-call engineer must never mistake them for
live numbers (DESIGN.md §4). Adapters (Prometheus scrapes, Azure Monitor queries, probes) all
produce a ``TrafficSnapshot``; joining it with limits and subscriptions is ``services.triage``.

Nothing here does I/O or imports an SDK, so the TUI and the CLI can import it freely.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from aiconsole.domain.errors import AiconsoleError

HISTORY_MINUTES = 15

#: Why a request was refused. The first four come from the gateway's limit policies; the last
#: two from elsewhere (the model deployment, the key check).
TOKEN_RATE = "token-rate"  # 429 from llm-token-limit / azure-openai-token-limit tokens-per-minute
TOKEN_QUOTA = "token-quota"  # 403 from a token-quota
RATE_LIMIT = "rate-limit"  # 429 from rate-limit-by-key (calls, not tokens)
CALL_QUOTA = "quota"  # 403 from quota-by-key
BACKEND_429 = "backend-429"  # the model deployment itself answered 429
AUTH = "auth"  # 401: missing, wrong, suspended or regenerated key
UNCLASSIFIED_429 = "429"  # a 429 the source cannot attribute (no per-policy series)
UNCLASSIFIED_403 = "403"

REASON_LABELS = {
    TOKEN_RATE: "token rate (429)",
    TOKEN_QUOTA: "token quota (403)",
    RATE_LIMIT: "request rate limit (429)",
    CALL_QUOTA: "call quota (403)",
    BACKEND_429: "backend 429 (model deployment)",
    AUTH: "auth (401)",
    UNCLASSIFIED_429: "429 (cause not reported)",
    UNCLASSIFIED_403: "403 (cause not reported)",
}


class TelemetryError(AiconsoleError):
    """A metrics source could not be read: down, slow, garbage, refused. Shown as a stale marker."""


@dataclass(frozen=True)
class SeriesKey:
    """Who the numbers belong to. Empty strings mean "not reported by the source"."""

    subscription: str = ""
    product: str = ""
    api: str = ""


@dataclass(frozen=True)
class ThrottleKey:
    """One kind of refusal: why (``reason``), by which policy at which scope, with which status."""

    reason: str
    status: int
    policy: str = ""
    scope: str = ""


@dataclass
class Usage:
    """Per-minute rates of one series over the snapshot's window, plus its recent history.

    ``history`` and ``refused_history`` hold one value per minute, oldest first, ending with the
    newest minute the source has (``HISTORY_MINUTES`` long; zeros where nothing happened).
    """

    key: SeriesKey
    tokens: float = 0.0
    prompt_tokens: float = 0.0
    completion_tokens: float = 0.0
    requests: float = 0.0
    statuses: dict[int, float] = field(default_factory=dict)
    throttles: dict[ThrottleKey, float] = field(default_factory=dict)
    history: list[float] = field(default_factory=list)
    refused_history: list[float] = field(default_factory=list)

    def status(self, code: int) -> float:
        return self.statuses.get(code, 0.0)


@dataclass
class TrafficSnapshot:
    """One reading of a source: rates over ``window_seconds`` ending at ``observed_at``.

    ``per_subscription_status`` is False when the source cannot split response codes by
    subscription (Azure Monitor's platform ``Requests`` metric has no such dimension): the
    views then show refusals per API and say why. ``truncated`` means the source returned as
    many series as it was asked for, so some may be missing.
    """

    source: str
    window_seconds: float
    observed_at: datetime
    data_age_seconds: float
    delay_note: str
    usages: list[Usage] = field(default_factory=list)
    per_subscription_status: bool = True
    api_statuses: dict[str, dict[int, float]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    truncated: bool = False
    resets: int = 0  # counter resets (restarts) seen in this reading

    @property
    def age_label(self) -> str:
        """``data 4s old`` / ``data 1m 20s old (~1 min delay)``: what the header shows."""
        seconds = max(0, int(self.data_age_seconds))
        text = f"data {seconds}s old" if seconds < 60 else f"data {seconds // 60}m {seconds % 60:02d}s old"
        return f"{text} ({self.delay_note})" if self.delay_note else text


class TelemetrySource(Protocol):
    """A metrics adapter. ``sample`` blocks (call it from a worker thread) and raises
    ``TelemetryError`` with a sentence when the source cannot be read."""

    name: str

    def sample(self, window_seconds: float) -> TrafficSnapshot: ...

    def close(self) -> None: ...
