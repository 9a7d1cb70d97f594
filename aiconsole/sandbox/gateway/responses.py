"""APIM-shaped error bodies and the .NET ``TimeSpan`` text they quote.

Clients (and the console's triage view) recognise throttling by these shapes: ``statusCode`` and
``message``, a ``Retry-After`` header in seconds. Kept in one place so the data plane, the engine
and the tests agree on the wording.
"""

from __future__ import annotations

from typing import Any

MISSING_KEY = (
    "Access denied due to missing subscription key. Make sure to include subscription key when making "
    "requests to an API."
)
INVALID_KEY = (
    "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription."
)


def timespan(seconds: float) -> str:
    """``00:00:59`` / ``1.02:03:04``: how APIM prints a quota's time to replenish."""
    total = max(0, int(round(seconds)))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    core = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}.{core}" if days else core


def body(status: int, message: str) -> dict[str, Any]:
    return {"statusCode": status, "message": message}


def token_rate_exceeded(retry_after: int) -> dict[str, Any]:
    return body(429, f"Token limit is exceeded. Try again in {retry_after} seconds.")


def token_quota_exceeded(seconds: float) -> dict[str, Any]:
    return body(403, f"Token quota is exceeded. Try again in {timespan(seconds)}.")


def rate_limit_exceeded(retry_after: int) -> dict[str, Any]:
    return body(429, f"Rate limit is exceeded. Try again in {retry_after} seconds.")


def call_quota_exceeded(seconds: float, *, bandwidth: bool = False) -> dict[str, Any]:
    what = "bandwidth" if bandwidth else "call volume"
    return body(403, f"Out of {what} quota. Quota will be replenished in {timespan(seconds)}.")
