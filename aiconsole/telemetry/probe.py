"""Probe: one small chat request through the gateway with a subscription's key, reading what the
limit policies say back — remaining tokens, remaining quota, tokens consumed, ``Retry-After``.

It spends real tokens (a one-token completion) on the subscription's budget, so it is only ever
an explicit action (``aiconsole probe SID``, ``p`` in the drill-in). The key travels in the
``api-key`` header and appears nowhere else: not in the result, not in errors, not in logs.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from aiconsole.backends.urls import check_url
from aiconsole.domain.text import sanitize
from aiconsole.telemetry.port import TelemetryError

AOAI_API_VERSION = "2024-10-21"
DEFAULT_TIMEOUT = 15.0
#: headers worth showing even when no policy names them (Azure OpenAI's own, APIM's Retry-After)
STANDARD_HEADERS = ("retry-after", "x-ratelimit-remaining-tokens", "x-ratelimit-remaining-requests",
                    "x-ratelimit-limit-tokens", "x-ratelimit-limit-requests")
LIMIT_HEADER_ATTRIBUTES = ("remaining-tokens-header-name", "remaining-quota-tokens-header-name",
                           "tokens-consumed-header-name", "retry-after-header-name", "remaining-calls-header-name",
                           "total-calls-header-name")


@dataclass(frozen=True)
class ProbeTarget:
    """Where to send the probe: the gateway, the API's path and kind, a deployment or model."""

    gateway_url: str
    api: str
    path: str
    kind: str  # "azure-openai" | "openai"
    model: str

    def url(self) -> str:
        base = check_url(self.gateway_url, what="gateway URL")
        path = self.path.strip("/")
        if self.kind == "azure-openai":
            return f"{base}/{path}/deployments/{self.model}/chat/completions?api-version={AOAI_API_VERSION}"
        return f"{base}/{path}/chat/completions"


@dataclass
class ProbeResult:
    subscription: str
    slot: str
    api: str
    status: int
    latency_ms: float
    headers: dict[str, str] = field(default_factory=dict)
    remaining_tokens: int | None = None
    remaining_quota_tokens: int | None = None
    tokens_consumed: int | None = None
    retry_after_seconds: int | None = None
    usage_total_tokens: int | None = None
    outcome: str = ""  # one sentence

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def header_names_from_limits(limits: Iterable[Any]) -> dict[str, str]:
    """``{header name (lower): what it is}`` named by the limit policies of a chain."""
    names: dict[str, str] = {}
    for lim in limits:
        get = getattr(lim, "get", None)
        if get is None:
            continue
        for attr in LIMIT_HEADER_ATTRIBUTES:
            value = get(attr)
            if value and not value.startswith("@"):
                names[value.lower()] = attr.removesuffix("-header-name")
    return names


def _int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value not in (None, "") else None
    except ValueError:
        return None


def send_probe(target: ProbeTarget, key: Any, *, subscription: str, slot: str,
               header_names: dict[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT, client=None) -> ProbeResult:
    """Send one request with ``key`` (a ``SecretStr``) and read the limit headers."""
    import httpx

    names = {h: "" for h in STANDARD_HEADERS}
    names.update(header_names or {})
    body = {"messages": [{"role": "user", "content": "ping"}], "max_tokens": 1}
    if target.kind != "azure-openai":
        body["model"] = target.model
    secret = key.get_secret_value() if hasattr(key, "get_secret_value") else str(key)
    http = client or httpx.Client(timeout=timeout)
    started = time.perf_counter()
    try:
        response = http.post(target.url(), json=body, headers={"api-key": secret})
    except httpx.TimeoutException:
        raise TelemetryError(f"The gateway did not answer the probe within {timeout:g}s.") from None
    except httpx.HTTPError as exc:
        raise TelemetryError(f"Cannot reach the gateway for the probe ({type(exc).__name__}).") from None
    finally:
        if client is None:
            http.close()
    latency = (time.perf_counter() - started) * 1000
    lowered = {k.lower(): v for k, v in response.headers.items()}
    read = {h: sanitize(lowered[h], max_length=80) for h in names if h in lowered}
    result = ProbeResult(subscription=subscription, slot=slot, api=target.api, status=response.status_code,
                         latency_ms=round(latency, 1), headers=read)
    for h, v in read.items():
        role = names.get(h, "")
        if role == "remaining-tokens" or (not role and h == "x-ratelimit-remaining-tokens"):
            result.remaining_tokens = _int(v)
        elif role == "remaining-quota-tokens":
            result.remaining_quota_tokens = _int(v)
        elif role == "tokens-consumed":
            result.tokens_consumed = _int(v)
        elif role == "retry-after" or h == "retry-after":
            result.retry_after_seconds = _int(v)
    if response.status_code == 200:
        try:
            result.usage_total_tokens = int(response.json().get("usage", {}).get("total_tokens"))
        except (ValueError, TypeError, AttributeError):
            result.usage_total_tokens = None
    result.outcome = _outcome(result)
    return result


def _outcome(r: ProbeResult) -> str:
    if r.status == 200:
        spent = f"; it spent {r.usage_total_tokens} tokens" if r.usage_total_tokens is not None else ""
        left = f"; {r.remaining_tokens} tokens left this minute" if r.remaining_tokens is not None else ""
        return f"The gateway accepted the probe{spent}{left}."
    if r.status == 429:
        wait = f" for {r.retry_after_seconds}s" if r.retry_after_seconds is not None else ""
        return f"Throttled (429): a rate limit refuses this subscription{wait}."
    if r.status == 403:
        return "Refused (403): a quota is spent for this period."
    if r.status == 401:
        return (f"The {r.slot} key was refused (401): the subscription may be suspended or the key regenerated.")
    if r.status == 404:
        return "The gateway has no such API or deployment (404)."
    return f"The gateway answered {r.status}."
