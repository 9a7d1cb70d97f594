"""Domain models: what the console reasons about, independent of the SDK's classes.

Backends translate SDK/REST shapes into these; the UI and CLI render these. Ids here are the
short resource names (``sid``, ``productId``) unless a field says ``*_path``/``*_id`` for the
full ARM id. No I/O happens in this module.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from aiconsole.domain.secrets import fingerprint, mask


class _Model(BaseModel):
    model_config = ConfigDict(frozen=False, extra="ignore", populate_by_name=True)


class SubscriptionState(str, Enum):
    """The six states of an APIM subscription; ``submitted`` is the default on create."""

    active = "active"
    suspended = "suspended"
    submitted = "submitted"
    rejected = "rejected"
    cancelled = "cancelled"
    expired = "expired"


class ScopeKind(str, Enum):
    product = "product"
    api = "api"
    all_apis = "all_apis"
    unknown = "unknown"


class Scope(_Model):
    """A subscription's scope parsed from its ARM path (``.../products/x``, ``.../apis/y``, ``.../apis``)."""

    kind: ScopeKind
    id: str | None = None  # product or API id; None for all APIs
    path: str = ""

    @classmethod
    def parse(cls, path: str | None) -> "Scope":
        path = path or ""
        parts = [p for p in path.split("/") if p]
        lowered = [p.lower() for p in parts]
        if "products" in lowered:
            i = lowered.index("products")
            if i + 1 < len(parts):
                return cls(kind=ScopeKind.product, id=parts[i + 1], path=path)
        if "apis" in lowered:
            i = lowered.index("apis")
            if i + 1 < len(parts):
                return cls(kind=ScopeKind.api, id=parts[i + 1], path=path)
            return cls(kind=ScopeKind.all_apis, path=path)
        return cls(kind=ScopeKind.unknown, path=path)

    @property
    def label(self) -> str:
        """``product:starter``, ``api:openai`` or ``all-apis``: what the tables show."""
        if self.kind is ScopeKind.product:
            return f"product:{self.id}"
        if self.kind is ScopeKind.api:
            return f"api:{self.id}"
        if self.kind is ScopeKind.all_apis:
            return "all-apis"
        return self.path or "?"


def last_segment(path: str | None) -> str:
    """The last segment of an ARM id: ``.../users/alice`` → ``alice``."""
    return (path or "").rstrip("/").rsplit("/", 1)[-1]


class Subscription(_Model):
    name: str  # the sid
    display_name: str | None = None
    state: SubscriptionState
    scope: Scope
    owner_id: str | None = None  # full ARM id of the user, or None
    created_date: datetime | None = None
    start_date: datetime | None = None
    expiration_date: datetime | None = None
    end_date: datetime | None = None
    notification_date: datetime | None = None
    state_comment: str | None = None
    allow_tracing: bool | None = None
    etag: str | None = None

    @property
    def owner(self) -> str:
        return last_segment(self.owner_id) if self.owner_id else ""

    def is_expired(self, now: datetime) -> bool:
        """APIM never enforces ``expirationDate``; the console does (the expiry sweep)."""
        return self.expiration_date is not None and self.expiration_date <= now


class KeyPair(_Model):
    """A subscription's two key slots. Keys are secret; only masks and fingerprints print."""

    name: str
    primary_key: SecretStr
    secondary_key: SecretStr

    def key(self, slot: "Slot") -> SecretStr:
        return self.primary_key if slot == "primary" else self.secondary_key

    def masked(self) -> dict[str, str]:
        return {"name": self.name, "primary_key": mask(self.primary_key), "secondary_key": mask(self.secondary_key)}

    def revealed(self) -> dict[str, str]:
        return {
            "name": self.name,
            "primary_key": self.primary_key.get_secret_value(),
            "secondary_key": self.secondary_key.get_secret_value(),
        }

    def fingerprints(self) -> dict[str, str]:
        return {"primary": fingerprint(self.primary_key), "secondary": fingerprint(self.secondary_key)}


Slot = Literal["primary", "secondary"]


class Product(_Model):
    name: str
    display_name: str | None = None
    description: str | None = None
    state: str | None = None  # published | notPublished
    subscription_required: bool | None = None
    approval_required: bool | None = None
    subscriptions_limit: int | None = None
    etag: str | None = None


class Api(_Model):
    name: str
    display_name: str | None = None
    path: str | None = None
    service_url: str | None = None
    protocols: list[str] = Field(default_factory=list)
    subscription_required: bool | None = None
    subscription_key_header: str | None = None
    subscription_key_query: str | None = None
    api_type: str | None = None
    is_current: bool | None = None


class Operation(_Model):
    name: str
    api: str
    display_name: str | None = None
    method: str | None = None
    url_template: str | None = None


class User(_Model):
    name: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    state: str | None = None
    registration_date: datetime | None = None

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)


class PolicyScope(_Model):
    """Where a policy document lives: global, a product, an API or an operation.

    Written on the CLI as ``global``, ``product:ID``, ``api:ID``, ``operation:API/OP``.
    """

    kind: Literal["global", "product", "api", "operation"]
    product: str | None = None
    api: str | None = None
    operation: str | None = None

    @classmethod
    def parse(cls, text: str) -> "PolicyScope":
        from aiconsole.domain.errors import UsageError

        text = (text or "").strip()
        if text == "global":
            return cls(kind="global")
        kind, _, rest = text.partition(":")
        if kind == "product" and rest:
            return cls(kind="product", product=rest)
        if kind == "api" and rest:
            return cls(kind="api", api=rest)
        if kind == "operation" and "/" in rest:
            api, _, op = rest.partition("/")
            if api and op:
                return cls(kind="operation", api=api, operation=op)
        raise UsageError(
            f"'{text}' is not a scope.",
            "Use global, product:ID, api:ID or operation:API/OP.",
        )

    @property
    def label(self) -> str:
        if self.kind == "global":
            return "global"
        if self.kind == "product":
            return f"product:{self.product}"
        if self.kind == "api":
            return f"api:{self.api}"
        return f"operation:{self.api}/{self.operation}"


class PolicyDocument(_Model):
    """A policy's text with the ETag it was read with (needed to write it back)."""

    scope: PolicyScope
    xml: str
    format: Literal["xml", "rawxml"] = "xml"
    etag: str | None = None


class Gateway(_Model):
    name: str
    location: str | None = None  # location_data.name
    city: str | None = None
    country_or_region: str | None = None
    description: str | None = None
    etag: str | None = None


class GatewayKeys(_Model):
    name: str
    primary: SecretStr
    secondary: SecretStr


class GatewayToken(_Model):
    """An access token for a self-hosted gateway node. Never persisted; only its fingerprint is."""

    gateway: str
    slot: Slot
    value: SecretStr
    expires: datetime

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.value)


class ServiceInfo(_Model):
    """The APIM service the console is connected to."""

    name: str
    id: str = ""
    location: str | None = None
    sku: str | None = None
    gateway_url: str | None = None
    management_api_url: str | None = None
    etag: str | None = None


class Page(_Model):
    """One page of a list, with the total when the server tells it (``count``)."""

    items: list
    next_link: str | None = None
    count: int | None = None
