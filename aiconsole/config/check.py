"""``aiconsole profile check``: does this profile sign in and reach what it names?

Turns the classic first-day mistakes (a service name typo, the wrong resource group, a gateway
id that belongs to another instance, a principal without Reader) into one sentence each,
before anyone tries a write.
"""

from __future__ import annotations

from typing import Any

from aiconsole.domain.errors import AiconsoleError, NotFoundError


def check_connection(connection, *, backend=None) -> dict[str, Any]:
    """Sign in, read the service (and the gateway of a self-hosted profile); raise on the first problem."""
    from aiconsole.backends.credentials import principal_for  # the principal the journal records

    backend = backend if backend is not None else connection.backend()
    where = f"service '{connection.service_name}' in resource group '{connection.resource_group}' " \
            f"of subscription {connection.subscription_id}"
    try:
        service = backend.get_service()
    except NotFoundError as exc:
        raise NotFoundError(
            f"Profile '{connection.profile}' points at {where}, which does not exist (or this principal cannot see it).",
            "Find the right names with `aiconsole profile discover --subscription-id ID`.",
            request_id=exc.request_id,
        ) from None
    result: dict[str, Any] = {
        "profile": connection.profile,
        "ok": True,
        "service": service.name,
        "location": service.location,
        "sku": service.sku,
        "gateway_url": service.gateway_url,
        "auth": connection.auth if connection.kind != "sandbox" else "sandbox",
        "read_only": connection.read_only,
        "production": connection.production,
    }
    gateway = (connection.extra or {}).get("gateway")
    if gateway:
        try:
            gw = backend.get_gateway(gateway)
        except NotFoundError as exc:
            raise NotFoundError(
                f"Profile '{connection.profile}' names gateway '{gateway}', which {where} does not have.",
                "List the gateways with `aiconsole gateways list` on the parent profile.",
                request_id=exc.request_id,
            ) from None
        result["gateway"] = getattr(gw, "id", None) or gateway
    try:
        principal = principal_for(connection, backend)
    except AiconsoleError:
        principal = None
    result["principal"] = principal or "(local user; the sandbox has no identity)"
    return result
