"""Resolving what the user pointed us at (a sandbox URL, later a profile) into a connection.

A ``Connection`` knows where the management API is and how to authenticate; ``backend()``
builds the SDK-backed adapter on first use, so callers that only need ``--help`` or ``info``
never import the Azure SDK.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiconsole.backends.urls import check_url
from aiconsole.domain.errors import ConfigError, ConnectionFailedError, ServerError

SANDBOX_TOKEN = "sandbox-token"


@dataclass
class Connection:
    kind: str  # "sandbox" | "azure"
    management_url: str
    subscription_id: str
    resource_group: str
    service_name: str
    label: str
    profile: str | None = None
    read_only: bool = False
    production: bool = False
    sandbox_info: dict[str, Any] = field(default_factory=dict)
    auth: str = "default"  # sign-in mode for azure profiles
    tenant_id: str | None = None
    client_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def backend(self):
        from aiconsole.backends.azure_apim import AzureApimBackend

        return AzureApimBackend.from_connection(self)


def fetch_sandbox_info(url: str, *, timeout: float = 5.0) -> dict[str, Any]:
    """``GET {management_url}/_sandbox/info``: the sandbox's ids and URLs."""
    import httpx

    url = check_url(url, what="sandbox URL")
    try:
        response = httpx.get(f"{url}/_sandbox/info", timeout=timeout)
    except httpx.HTTPError as exc:
        raise ConnectionFailedError(
            f"No sandbox answers at {url} ({type(exc).__name__}).",
            "Start one with `aiconsole sandbox` (or run `aiconsole demo`) and pass the management_url it prints.",
        ) from None
    if response.status_code != 200:
        raise ServerError(f"{url} answered {response.status_code} to /_sandbox/info; is it an aiconsole sandbox?")
    try:
        info = response.json()
    except ValueError:
        raise ServerError(f"{url} did not answer /_sandbox/info with JSON; is it an aiconsole sandbox?") from None
    return info


def sandbox_connection(url: str, *, profile: str | None = None, read_only: bool = False, production: bool = False) -> Connection:
    url = check_url(url, what="sandbox URL")
    info = fetch_sandbox_info(url)
    try:
        return Connection(
            kind="sandbox",
            management_url=url,
            subscription_id=info["subscription_id"],
            resource_group=info["resource_group"],
            service_name=info["service_name"],
            label=f"sandbox {url.split('://', 1)[1]} / {info['service_name']}",
            profile=profile,
            read_only=read_only,
            production=production,
            sandbox_info=info,
        )
    except KeyError as exc:
        raise ServerError(f"The sandbox at {url} did not say its {exc.args[0]}.") from None


def sandbox_url(sandbox: str | None, profile: str | None) -> str | None:
    """The sandbox in effect: ``--sandbox``, else ``AICONSOLE_SANDBOX`` unless ``--profile`` names one."""
    import os

    if sandbox:
        return sandbox
    return None if profile else (os.environ.get("AICONSOLE_SANDBOX") or None)


def resolve_connection(*, sandbox: str | None = None, profile: str | None = None) -> Connection:
    """Flags first (``--sandbox``, then ``--profile``), then the environment
    (``AICONSOLE_SANDBOX``, then ``AICONSOLE_PROFILE``), then the config file's current profile."""
    url = sandbox_url(sandbox, profile)
    if url:
        return sandbox_connection(url)
    try:
        from aiconsole.config.profiles import connection_for_profile
    except ImportError:  # profiles not available yet
        connection_for_profile = None
    if connection_for_profile is not None:
        conn = connection_for_profile(profile)
        if conn is not None:
            return conn
    raise ConfigError(
        "No connection: give --sandbox URL or --profile NAME.",
        "Try `aiconsole demo` for a local sandbox, or `aiconsole profile add` for a real APIM instance.",
    )
