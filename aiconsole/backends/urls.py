"""Transport rules for URLs: TLS everywhere except loopback.

Plain HTTP is accepted only for 127.0.0.0/8, ::1 and localhost (the sandbox); any other
``http://`` URL is refused with a clear message. There is no switch that turns this off.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from aiconsole.domain.errors import InsecureTransportError, UsageError


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    return is_loopback_host(urlsplit(url).hostname)


def check_url(url: str, *, what: str = "URL") -> str:
    """Return ``url`` without a trailing slash, or raise if it is not safe to use."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"'{url}' is not a valid {what}.", "Give a full URL such as http://127.0.0.1:8123.")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise InsecureTransportError(
            f"Refusing plain HTTP to {parts.hostname}: only loopback addresses may use http://.",
            "Use an https:// URL.",
        )
    return url.rstrip("/")
