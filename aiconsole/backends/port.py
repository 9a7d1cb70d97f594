"""The management port: everything the services need from an APIM control plane.

``backends.azure_apim.AzureApimBackend`` implements it with azure-mgmt-apimanagement, against
Azure or against the sandbox (which speaks the same REST contract). Services depend on this
Protocol only, so they can be exercised without Textual and without knowing about the SDK.
Every method raises ``aiconsole.domain.errors.AiconsoleError`` subclasses, never SDK errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Protocol

from aiconsole.domain.models import (
    Api,
    Gateway,
    GatewayKeys,
    KeyPair,
    Operation,
    PolicyDocument,
    PolicyScope,
    Product,
    ServiceInfo,
    Slot,
    Subscription,
    User,
)


class ManagementPort(Protocol):
    """Operations on one APIM service instance."""

    #: short human description of the connection ("sandbox 127.0.0.1:8123 / apim-sandbox")
    label: str

    # -- service ---------------------------------------------------------------------------
    def get_service(self) -> ServiceInfo: ...

    # -- subscriptions ---------------------------------------------------------------------
    def iter_subscription_pages(
        self, *, odata_filter: str | None = None, page_size: int = 100
    ) -> Iterator[list[Subscription]]:
        """Yield pages as they arrive: the first page is yielded before the rest are fetched."""
        ...

    def get_subscription(self, sid: str) -> Subscription: ...

    def create_subscription(
        self,
        sid: str,
        *,
        display_name: str,
        scope_path: str,
        owner_id: str | None = None,
        state: str | None = None,
        expiration_date: datetime | None = None,
        allow_tracing: bool | None = None,
    ) -> Subscription: ...

    def update_subscription(self, sid: str, *, etag: str, **fields: object) -> Subscription:
        """PATCH with ``If-Match: etag``; fields: display_name, state, state_comment, expiration_date, owner_id, scope."""
        ...

    def clear_subscription_expiration(self, sid: str, *, etag: str) -> Subscription:
        """PATCH ``expirationDate`` to null (If-Match)."""
        ...

    def delete_subscription(self, sid: str, *, etag: str) -> None: ...

    def list_secrets(self, sid: str) -> KeyPair: ...

    def regenerate_key(self, sid: str, slot: Slot) -> None: ...

    # -- catalogue -------------------------------------------------------------------------
    def list_products(self) -> list[Product]: ...

    def get_product(self, product_id: str) -> Product: ...

    def list_product_apis(self, product_id: str) -> list[Api]: ...

    def list_users(self, *, odata_filter: str | None = None) -> list[User]: ...

    def get_user(self, user_id: str) -> User: ...

    def list_apis(self) -> list[Api]: ...

    def get_api(self, api_id: str) -> Api: ...

    def list_operations(self, api_id: str) -> list[Operation]: ...

    # -- policies --------------------------------------------------------------------------
    def get_policy(self, scope: PolicyScope, *, fmt: str = "xml") -> PolicyDocument | None:
        """The policy at ``scope`` with its ETag, or None when the scope has no policy."""
        ...

    def put_policy(self, scope: PolicyScope, xml: str, *, etag: str | None, fmt: str = "xml") -> PolicyDocument:
        """Write with ``If-Match: etag`` (``*``/None only when creating); returns the new ETag."""
        ...

    def delete_policy(self, scope: PolicyScope, *, etag: str) -> None: ...

    # -- self-hosted gateways --------------------------------------------------------------
    def list_gateways(self) -> list[Gateway]: ...

    def get_gateway(self, gateway_id: str) -> Gateway: ...

    def list_gateway_apis(self, gateway_id: str) -> list[Api]: ...

    def list_gateway_keys(self, gateway_id: str) -> GatewayKeys: ...

    def regenerate_gateway_key(self, gateway_id: str, slot: Slot) -> None: ...

    def generate_gateway_token(self, gateway_id: str, slot: Slot, expiry: datetime) -> str: ...

    # -- named values and backends ---------------------------------------------------------
    def list_named_values(self) -> list:
        """``NamedValueInfo`` items (``domain.gateway_config``): never a value, only how it is stored."""
        ...

    def list_backends(self) -> list:
        """``BackendInfo`` items: single backends and pools, breaker rules, credential references."""
        ...

    def get_backend(self, backend_id: str): ...
