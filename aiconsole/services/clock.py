"""The time the services reason with: the server's, when the server says it differs.

Overrides expire at an instant the *gateway* evaluates, so "is this override active?" must be
asked on the gateway's clock. For Azure that is UTC; the sandbox's clock can be moved by tests
and demos (``/_sandbox/clock``), so for sandbox connections we read its offset (cached for a
few seconds; loopback is cheap) and apply it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class SandboxClock:
    """``now()`` on the sandbox's clock; falls back to local UTC if the sandbox cannot say."""

    def __init__(self, management_url: str, *, ttl: float = 5.0) -> None:
        self.url = management_url.rstrip("/") + "/_sandbox/clock"
        self.ttl = ttl
        self._offset = 0.0
        self._fetched = float("-inf")
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        import httpx

        try:
            data = httpx.get(self.url, timeout=2.0).json()
            self._offset = float(data.get("offset_seconds", 0.0))
            self._frozen_epoch = float(data["epoch"]) if data.get("frozen") else None
        except Exception:  # noqa: BLE001 - a clock we cannot read is local UTC
            self._offset, self._frozen_epoch = 0.0, None
        self._fetched = time.monotonic()

    def __call__(self) -> datetime:
        with self._lock:
            if time.monotonic() - self._fetched > self.ttl:
                self._refresh()
            frozen = getattr(self, "_frozen_epoch", None)
        if frozen is not None:
            return datetime.fromtimestamp(frozen, timezone.utc)
        return utc_now() + timedelta(seconds=self._offset)

    def invalidate(self) -> None:
        with self._lock:
            self._fetched = float("-inf")


def clock_for(connection) -> Clock:
    if getattr(connection, "kind", None) == "sandbox":
        return SandboxClock(connection.management_url)
    return utc_now
