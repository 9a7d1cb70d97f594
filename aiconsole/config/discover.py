"""``aiconsole profile discover``: which API Management services can this principal see?

Uses the real ARM client (``ApiManagementClient.api_management_service.list``) with the same
credential a profile would use, so a successful discover also proves the sign-in works.
"""

from __future__ import annotations

from typing import Any

from aiconsole.config.model import AZURE_MANAGEMENT_URL


def _resource_group(resource_id: str | None) -> str | None:
    parts = (resource_id or "").split("/")
    for i, part in enumerate(parts[:-1]):
        if part.lower() == "resourcegroups":
            return parts[i + 1]
    return None


def discover_services(*, sandbox: str | None = None, profile: str | None = None, subscription_id: str | None = None,
                      tenant_id: str | None = None, auth: str | None = None, client_id: str | None = None,
                      management_url: str | None = None, credential: Any = None,
                      **client_options: Any) -> list[dict[str, Any]]:
    """One row per service: name, resource group, location, SKU, gateway URL.

    The credential comes from (in order) ``--sandbox``, explicit ``--auth``/``--tenant-id``,
    the profile in effect when it is an azure profile, else ``az login`` (mode ``cli``).
    ``credential`` and ``client_options`` (e.g. ``transport``) are for callers that already
    hold them; the CLI passes neither.
    """
    from aiconsole.backends.connect import Connection, sandbox_connection, sandbox_url
    from aiconsole.backends.credentials import build_credential, cli_device_code_prompt
    from aiconsole.backends.urls import check_url, is_loopback_url
    from aiconsole.domain.errors import UsageError

    conn: Connection | None = None
    sandbox = sandbox_url(sandbox, profile)
    if sandbox:
        conn = sandbox_connection(sandbox)
    elif not (auth or tenant_id or management_url):
        from aiconsole.config.profiles import connection_for_profile

        candidate = connection_for_profile(profile)
        if candidate is not None and candidate.kind in ("azure", "sandbox"):
            conn = candidate
    if conn is None:
        conn = Connection(
            kind="azure",
            management_url=check_url(management_url or AZURE_MANAGEMENT_URL, what="management URL"),
            subscription_id=subscription_id or "",
            resource_group="",
            service_name="",
            label="discover",
            auth=auth or "cli",
            tenant_id=tenant_id,
            client_id=client_id,
        )
    sub = subscription_id or conn.subscription_id
    if not sub:
        raise UsageError("Which Azure subscription? Give --subscription-id ID.", "List yours with `az account list -o table`.")
    if credential is None:
        credential = build_credential(conn, device_code_prompt=cli_device_code_prompt)

    from azure.core.exceptions import AzureError
    from azure.mgmt.apimanagement import ApiManagementClient

    from aiconsole.backends.credentials import map_azure_error

    options: dict[str, Any] = {}
    if is_loopback_url(conn.management_url):
        options["enforce_https"] = False  # loopback only (the sandbox); see DESIGN.md §3
    client = ApiManagementClient(credential, sub, base_url=conn.management_url, **client_options)
    rows = []
    try:
        for svc in client.api_management_service.list(**options):
            rows.append(
                {
                    "name": svc.name,
                    "resource_group": _resource_group(svc.id),
                    "location": svc.location,
                    "sku": f"{svc.sku.name}" + (f" x{svc.sku.capacity}" if svc.sku and svc.sku.capacity else "") if svc.sku else None,
                    "gateway_url": svc.gateway_url,
                    "id": svc.id,
                }
            )
    except AzureError as exc:
        raise map_azure_error(exc, what=f"list API Management services in subscription {sub}",
                              action="Microsoft.ApiManagement/service/read") from None
    finally:
        client.close()
    return sorted(rows, key=lambda r: (r["resource_group"] or "", r["name"] or ""))
