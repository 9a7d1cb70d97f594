"""Per-backend health from a Prometheus exposition: responses by status and the circuit breaker.

The sandbox's gateway exports ``aiconsole_sandbox_backend_responses{backend_id,pool_id,code}``
(counts since start), ``aiconsole_sandbox_backend_tripped{backend_id}`` (1 while open),
``..._trip_seconds_left`` and ``..._trips``. Azure Monitor's platform metrics have no backend
dimension, so on Azure this reader has nothing to read; the gateway's resource log
(``ApiManagementGatewayLogs.BackendId`` with ``BackendResponseCode``) is where that lives.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiconsole.backends.urls import check_url
from aiconsole.telemetry.port import TelemetryError

PREFIX = "aiconsole_sandbox_backend_"


@dataclass
class BackendHealth:
    backend: str
    responses: dict[int, int] = field(default_factory=dict)
    tripped: bool = False
    seconds_left: float = 0.0
    trips: int = 0

    @property
    def throttled(self) -> int:
        return self.responses.get(429, 0)

    @property
    def errors_5xx(self) -> int:
        return sum(n for code, n in self.responses.items() if 500 <= code < 600)

    @property
    def total(self) -> int:
        return sum(self.responses.values())

    def to_json(self) -> dict:
        return {"responses": {str(k): v for k, v in sorted(self.responses.items())}, "429": self.throttled,
                "5xx": self.errors_5xx, "tripped": self.tripped, "trip_seconds_left": round(self.seconds_left),
                "trips": self.trips}


def parse_backend_health(text: str) -> dict[str, BackendHealth]:
    """Backend id (lower-case) → health, from exposition text."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, BackendHealth] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if not s.name.startswith(PREFIX):
                continue
            bid = s.labels.get("backend_id", "")
            h = out.setdefault(bid.lower(), BackendHealth(bid))
            kind = s.name[len(PREFIX):]
            if kind == "responses":
                try:
                    code = int(s.labels.get("code", "0"))
                except ValueError:
                    continue
                h.responses[code] = h.responses.get(code, 0) + int(s.value)
            elif kind == "tripped":
                h.tripped = s.value >= 1
            elif kind == "trip_seconds_left":
                h.seconds_left = float(s.value)
            elif kind == "trips":
                h.trips = int(s.value)
    return out


class BackendHealthReader:
    """One scrape per ``read()``; raises ``TelemetryError`` with a sentence on failure."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        self.url = check_url(url, what="metrics URL")
        self.timeout = timeout

    def read(self) -> dict[str, BackendHealth]:
        import httpx

        try:
            response = httpx.get(self.url, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise TelemetryError(f"Cannot reach the metrics endpoint {self.url} ({type(exc).__name__}).") from None
        if response.status_code != 200:
            raise TelemetryError(f"The metrics endpoint {self.url} answered HTTP {response.status_code}.")
        try:
            return parse_backend_health(response.text)
        except (ValueError, TypeError) as exc:
            raise TelemetryError(f"The metrics endpoint {self.url} sent text that is not Prometheus exposition "
                                 f"({type(exc).__name__}).") from None
