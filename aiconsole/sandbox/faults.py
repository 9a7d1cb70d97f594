"""Fault injection shared by the management API and the gateway data plane.

One ``Faults`` object per sandbox holds the knobs (latency, error rate, ARM throttling) and a
seeded RNG, so a reliability test can switch faults on at start (CLI flags) or at run time
(``POST /_sandbox/faults``) and get reproducible rolls. Every method is thread-safe: the
management app, the gateway and the traffic generator may roll from different threads.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any


class FaultsError(ValueError):
    """A fault setting is out of range (shown to the caller as a 400)."""


@dataclass(frozen=True)
class FaultSettings:
    latency_ms: float = 0.0
    error_rate: float = 0.0
    arm_throttle_rate: float = 0.0
    retry_after_seconds: int = 5
    drop_rate: float = 0.0
    drop_response_rate: float = 0.0


class Faults:
    """Current fault settings plus a seeded RNG to decide which requests fail."""

    FIELDS = (
        "latency_ms", "error_rate", "arm_throttle_rate", "retry_after_seconds", "drop_rate", "drop_response_rate",
    )

    def __init__(
        self,
        *,
        latency_ms: float = 0.0,
        error_rate: float = 0.0,
        arm_throttle_rate: float = 0.0,
        retry_after_seconds: int = 5,
        seed: int = 0,
    ) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(f"faults:{seed}")
        self._settings = FaultSettings()
        self.update(
            latency_ms=latency_ms,
            error_rate=error_rate,
            arm_throttle_rate=arm_throttle_rate,
            retry_after_seconds=retry_after_seconds,
        )

    @property
    def settings(self) -> FaultSettings:
        with self._lock:
            return self._settings

    @property
    def latency_ms(self) -> float:
        return self.settings.latency_ms

    @property
    def error_rate(self) -> float:
        return self.settings.error_rate

    @property
    def arm_throttle_rate(self) -> float:
        return self.settings.arm_throttle_rate

    @property
    def retry_after_seconds(self) -> int:
        return self.settings.retry_after_seconds

    def update(self, **values: Any) -> dict[str, Any]:
        """Change some settings; unknown names or out-of-range values raise ``FaultsError``."""
        unknown = sorted(set(values) - set(self.FIELDS))
        if unknown:
            raise FaultsError(f"Unknown fault setting: {', '.join(unknown)}.")
        current = self.settings
        merged = {name: getattr(current, name) for name in self.FIELDS}
        for name, value in values.items():
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise FaultsError(f"{name} must be a number.")
            merged[name] = value
        if merged["latency_ms"] < 0 or merged["latency_ms"] > 60_000:
            raise FaultsError("latency_ms must be between 0 and 60000.")
        for name in ("error_rate", "arm_throttle_rate", "drop_rate", "drop_response_rate"):
            if not 0.0 <= merged[name] <= 1.0:
                raise FaultsError(f"{name} must be between 0 and 1.")
        if int(merged["retry_after_seconds"]) < 0 or merged["retry_after_seconds"] > 3600:
            raise FaultsError("retry_after_seconds must be between 0 and 3600.")
        new = FaultSettings(
            latency_ms=float(merged["latency_ms"]),
            error_rate=float(merged["error_rate"]),
            arm_throttle_rate=float(merged["arm_throttle_rate"]),
            retry_after_seconds=int(merged["retry_after_seconds"]),
            drop_rate=float(merged["drop_rate"]),
            drop_response_rate=float(merged["drop_response_rate"]),
        )
        with self._lock:
            self._settings = new
        return self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        s = self.settings
        return {name: getattr(s, name) for name in self.FIELDS}

    def _roll(self, rate: float) -> bool:
        if rate <= 0.0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def roll_error(self) -> bool:
        """True if this request should fail with a 500."""
        return self._roll(self.settings.error_rate)

    def roll_throttle(self) -> bool:
        """True if this management request should get an ARM 429."""
        return self._roll(self.settings.arm_throttle_rate)

    def roll_drop(self) -> bool:
        """True if this management request's connection should be dropped before it is handled."""
        return self._roll(self.settings.drop_rate)

    def roll_drop_response(self) -> bool:
        """True if this request should be handled (a write lands) but its answer lost to a dropped connection."""
        return self._roll(self.settings.drop_response_rate)

    def latency_seconds(self) -> float:
        """The injected delay to apply before answering, in seconds."""
        return self.settings.latency_ms / 1000.0


class _QuietDrops:
    """Hides uvicorn's one error line per deliberately dropped connection (the fault is the point)."""

    def filter(self, record: Any) -> bool:
        return "without completing response" not in record.getMessage()


def _is_write(scope: dict) -> bool:
    """PUT/PATCH/DELETE, and POSTs other than the list-secrets/list-keys reads that ARM makes POSTs."""
    method = scope.get("method")
    if method == "POST":
        return not str(scope.get("path", "")).lower().endswith(("/listsecrets", "/listkeys"))
    return method in ("PUT", "PATCH", "DELETE")


def with_connection_drops(app: Any, faults: Faults) -> Any:
    """Wrap an ASGI app so that ARM requests can lose their connection, before or after handling.

    A dropped connection is what a reliability test needs and an HTTP error cannot imitate: the
    client gets a transport error with no status, and after a write it cannot know whether the
    write landed. The wrapper starts a response promising more bytes than it sends and returns,
    so the server closes the socket mid-body. ``/_sandbox/`` control paths are never dropped.
    """
    import logging

    logging.getLogger("uvicorn.error").addFilter(_QuietDrops())

    async def abort(send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b'{"value": [', "more_body": True})

    async def wrapped(scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or str(scope.get("path", "")).startswith("/_sandbox/"):
            await app(scope, receive, send)
            return
        if faults.roll_drop():
            await abort(send)
            return
        if _is_write(scope) and faults.roll_drop_response():
            async def swallow(message: dict) -> None:
                return None

            await app(scope, receive, swallow)
            await abort(send)
            return
        await app(scope, receive, send)

    return wrapped
