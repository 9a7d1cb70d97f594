"""The time the services reason with: the gateway's.

Overrides expire at an instant the *gateway* evaluates, so "is this override active?" must be
asked on the gateway's clock. For Azure that is UTC. The sandbox's clock can be moved by tests
and demos (``/_sandbox/clock``), so for sandbox connections each reading asks the sandbox
(one loopback GET; the services read the time once per operation, not per row).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class SandboxClock:
    """``now()`` on the sandbox's clock; local UTC if the sandbox cannot say."""

    def __init__(self, management_url: str) -> None:
        self.url = management_url.rstrip("/") + "/_sandbox/clock"

    def __call__(self) -> datetime:
        import httpx

        try:
            data = httpx.get(self.url, timeout=2.0).json()
            if data.get("frozen"):
                return datetime.fromtimestamp(float(data["epoch"]), timezone.utc)
            return utc_now() + timedelta(seconds=float(data.get("offset_seconds", 0.0)))
        except Exception:  # noqa: BLE001 - a clock we cannot read is local UTC
            return utc_now()


def clock_for(connection) -> Clock:
    if getattr(connection, "kind", None) == "sandbox":
        return SandboxClock(connection.management_url)
    return utc_now
