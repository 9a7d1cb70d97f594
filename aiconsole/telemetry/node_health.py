"""Probing self-hosted gateway nodes and reading their Prometheus metrics.

A node answers ``GET /status-0123456789abcdef`` with 200 while it is connected to its APIM
instance; it cannot say which token it runs, so health is what we can observe: reachable or
not, healthy or degraded, and how long the answer took. Probes run in parallel threads with a
short timeout so that one dead node never holds up the view of the others.

Metrics come from the node's OpenTelemetry collector in Prometheus text; we keep request and
error counters and turn two scrapes into rates (``RateTracker``) rather than assuming any
recording rules exist on the collector side.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from aiconsole.backends.urls import check_url
from aiconsole.domain.errors import AiconsoleError
from aiconsole.domain.text import sanitize

STATUS_PATH = "/status-0123456789abcdef"
DEFAULT_TIMEOUT = 3.0


@dataclass(frozen=True)
class NodeHealth:
    """One probe of one node. ``status`` is healthy | degraded | unreachable | invalid."""

    url: str
    healthy: bool
    status: str
    latency_ms: float | None = None
    http_status: int | None = None
    detail: str = ""
    #: the key slot / expiry of the node's token, when the node says (APIM's own nodes do not)
    token_slot: str | None = None
    token_expires: str | None = None

    def as_json(self) -> dict[str, Any]:
        """One element of ``nodes`` in ``gateways list``: a contract for scripts."""
        return {
            "url": self.url,
            "healthy": self.healthy,
            "status": self.status,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
            "detail": self.detail or None,
            "token_slot": self.token_slot,
            "token_expires": self.token_expires,
        }


def _status_from_body(response) -> str | None:
    """Some nodes (the sandbox among them) say why they are degraded in a JSON body."""
    try:
        body = response.json()
    except Exception:  # noqa: BLE001 - an empty or non-JSON body is the normal APIM answer
        return None
    if isinstance(body, dict):
        value = body.get("status")
        if isinstance(value, str):
            return sanitize(value.lower(), max_length=40)
    return None


def _token_from_body(response) -> tuple[str | None, str | None]:
    """(slot, expiry) of the node's token when its status body reports them."""
    try:
        body = response.json()
    except Exception:  # noqa: BLE001
        return None, None
    if not isinstance(body, dict):
        return None, None
    slot = body.get("tokenKeyType")
    expires = body.get("tokenExpires")
    slot = slot.lower() if isinstance(slot, str) and slot.lower() in ("primary", "secondary") else None
    expires = sanitize(expires, max_length=40) if isinstance(expires, str) else None
    return slot, expires


def _reason_from_body(response) -> str:
    try:
        body = response.json()
    except Exception:  # noqa: BLE001
        return ""
    if isinstance(body, dict):
        for key in ("reason", "detail", "message"):
            if isinstance(body.get(key), str):
                return sanitize(body[key], max_length=120)
    return ""


def probe_node(url: str, *, timeout: float = DEFAULT_TIMEOUT, client=None) -> NodeHealth:
    """Probe one node; never raises (a bad URL or a dead node is a result, not an error)."""
    import httpx

    try:
        base = check_url(url, what="gateway node URL")
    except AiconsoleError as exc:
        return NodeHealth(url=sanitize(url, max_length=200), healthy=False, status="invalid", detail=exc.message)
    started = time.perf_counter()
    try:
        if client is not None:
            response = client.get(base + STATUS_PATH, timeout=timeout)
        else:
            response = httpx.get(base + STATUS_PATH, timeout=timeout)
    except httpx.TimeoutException:
        return NodeHealth(url=base, healthy=False, status="unreachable", detail=f"no answer within {timeout:g} s")
    except httpx.HTTPError as exc:
        return NodeHealth(url=base, healthy=False, status="unreachable", detail=type(exc).__name__)
    latency = (time.perf_counter() - started) * 1000.0
    said = _status_from_body(response)
    healthy = response.status_code == 200 and said in (None, "healthy", "ok")
    status = "healthy" if healthy else (said if said and said != "healthy" else "degraded")
    detail = "" if healthy else (_reason_from_body(response) or f"HTTP {response.status_code}")
    slot, expires = _token_from_body(response)
    return NodeHealth(url=base, healthy=healthy, status=status, latency_ms=latency,
                      http_status=response.status_code, detail=detail, token_slot=slot, token_expires=expires)


def probe_nodes(urls: list[str], *, timeout: float = DEFAULT_TIMEOUT) -> list[NodeHealth]:
    """Probe every node in parallel; results come back in the order of ``urls``."""
    if not urls:
        return []
    if len(urls) == 1:
        return [probe_node(urls[0], timeout=timeout)]
    with ThreadPoolExecutor(max_workers=min(8, len(urls))) as pool:
        return list(pool.map(lambda u: probe_node(u, timeout=timeout), urls))


# --------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class MetricsSample:
    """Cumulative counters from one scrape; ``at`` is a monotonic timestamp in seconds."""

    at: float
    requests: float
    errors: float


@dataclass(frozen=True)
class MetricsRates:
    """Rates between two scrapes, or ``None`` before the second scrape."""

    requests_per_min: float | None
    error_rate: float | None  # share of requests that failed, 0..1
    requests_total: float
    errors_total: float

    def as_json(self) -> dict[str, Any]:
        return {
            "requests_per_min": None if self.requests_per_min is None else round(self.requests_per_min, 1),
            "error_rate": None if self.error_rate is None else round(self.error_rate, 4),
            "requests_total": self.requests_total,
            "errors_total": self.errors_total,
        }


#: request counters, best first; a collector exports one of them (the sandbox the first)
_PREFERRED = ("azure_apim_requests", "apim_requests", "gateway_requests", "http_requests", "requests")
_NOT_REQUESTS = ("token", "throttled", "slot", "limit")
_STATUS_LABELS = ("gateway_response_code", "status", "code", "status_code", "response_code",
                  "gatewayresponsecode", "http_status")


def _request_family(names: list[str]) -> str | None:
    """The one counter family to count requests from (never two: they would double count)."""
    bases = {n.lower().removesuffix("_total"): n for n in names}
    for preferred in _PREFERRED:
        if preferred in bases:
            return bases[preferred]
    for base, name in bases.items():
        if base.endswith("requests") and not any(word in base for word in _NOT_REQUESTS):
            return name
    return None


def _is_error(labels: dict[str, str]) -> bool:
    lowered = {k.lower(): v for k, v in labels.items()}
    for key in _STATUS_LABELS:
        if key in lowered:
            try:
                return int(str(lowered[key])[:3]) >= 500
            except ValueError:
                return str(lowered[key]).lower().startswith("5")
    return lowered.get("outcome", "").lower() in ("error", "failure", "failed")


def parse_metrics(text: str, gateway: str | None = None) -> tuple[float, float]:
    """Sum request counters and their 5xx share from Prometheus text (optionally one gateway)."""
    from prometheus_client.parser import text_string_to_metric_families

    requests = errors = 0.0
    families = [f for f in text_string_to_metric_families(text) if f.type in ("counter", "unknown")]
    chosen = _request_family([f.name for f in families])
    for family in families:
        if family.name != chosen:
            continue
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            gw_label = sample.labels.get("gateway") or sample.labels.get("gateway_id")
            if gateway and gw_label and gw_label != gateway:
                continue
            requests += sample.value
            if _is_error(sample.labels):
                errors += sample.value
    return requests, errors


def scrape(url: str, *, gateway: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> MetricsSample:
    """One scrape of a Prometheus endpoint; raises ConnectionFailedError with one sentence."""
    import httpx

    from aiconsole.domain.errors import ConnectionFailedError

    base = check_url(url, what="metrics URL")
    try:
        response = httpx.get(base, timeout=timeout)
        response.raise_for_status()
        requests, errors = parse_metrics(response.text, gateway)
    except httpx.HTTPError as exc:
        raise ConnectionFailedError(f"Could not read metrics from {base} ({type(exc).__name__}).",
                                    "Check the metrics URL of the gateway (its OpenTelemetry collector).") from None
    except ValueError:
        raise ConnectionFailedError(f"{base} did not answer with Prometheus text.",
                                    "Point --metrics at the collector's /metrics endpoint.") from None
    return MetricsSample(at=time.monotonic(), requests=requests, errors=errors)


class RateTracker:
    """Keeps the previous scrape per key and turns counters into per-minute rates."""

    def __init__(self) -> None:
        self._last: dict[str, MetricsSample] = {}

    def update(self, key: str, sample: MetricsSample) -> MetricsRates:
        previous = self._last.get(key)
        self._last[key] = sample
        if previous is None or sample.at <= previous.at or sample.requests < previous.requests:
            return MetricsRates(None, None, sample.requests, sample.errors)
        minutes = (sample.at - previous.at) / 60.0
        delta_req = sample.requests - previous.requests
        delta_err = max(0.0, sample.errors - previous.errors)
        return MetricsRates(
            requests_per_min=delta_req / minutes if minutes > 0 else None,
            error_rate=(delta_err / delta_req) if delta_req > 0 else 0.0,
            requests_total=sample.requests,
            errors_total=sample.errors,
        )
