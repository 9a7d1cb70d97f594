"""The sandbox's in-memory APIM: one service and everything in it.

Every sandbox app (management API, gateway data plane, metrics, traffic) reads and writes this
one ``SandboxState``. It is plain Python, knows nothing about HTTP, and guards every mutation
with one re-entrant lock (``state.lock``) so that the asyncio servers and any worker threads see
consistent data. Entities are small ``__slots__`` dataclasses so that a world with 100,000
subscriptions stays cheap to build and to hold.

Conventions the other sandbox modules rely on:

- ids are APIM's short resource names (``sid``, ``productId``, ``apiId``...), case-sensitive
  keys in insertion-ordered dicts; lookups by id are case-insensitive like APIM
  (``get_subscription`` etc. try the exact id first, then a lower-cased index);
- times are epoch seconds (floats) on the sandbox ``Clock``; ``iso()`` formats them;
- every write bumps the entity's ``version`` from one state-wide counter, and ``etag_of(v)``
  renders it as a quoted opaque string, so an ETag changes on every write and never repeats;
- a subscription's scope is ``scope_kind`` ("product" | "api" | "all_apis") plus ``scope_id``;
- policy documents are stored per scope key (``"global"``, ``"product:ID"``, ``"api:ID"``,
  ``"operation:API/OP"``) as the canonical ``format=xml`` text, byte for byte as written.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import secrets
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiconsole.sandbox.clock import Clock
from aiconsole.sandbox.faults import Faults

SUBSCRIPTION_STATES = ("active", "suspended", "submitted", "rejected", "cancelled", "expired")
SCOPE_KINDS = ("product", "api", "all_apis")
KEY_TYPES = ("primary", "secondary")
MAX_GATEWAY_TOKEN_DAYS = 30


class StateError(Exception):
    """Base of the errors state methods raise; the HTTP layer maps them to ARM error bodies."""

    code = "BadRequest"
    status = 400


class NotFound(StateError):
    code = "ResourceNotFound"
    status = 404


class Conflict(StateError):
    code = "Conflict"
    status = 409


class PreconditionFailed(StateError):
    code = "PreconditionFailed"
    status = 412


class Invalid(StateError):
    code = "ValidationError"
    status = 400


def iso(ts: float | None) -> str | None:
    """Epoch seconds → ``2026-01-02T03:04:05.123Z`` (APIM's date-time style), ``None`` kept."""
    if ts is None:
        return None
    dt = datetime.fromtimestamp(ts, UTC)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        text += f".{dt.microsecond // 1000:03d}"
    return text + "Z"


def etag_of(version: int) -> str:
    """A quoted opaque ETag for an entity version, shaped like APIM's (base64 of 8 bytes)."""
    return '"' + base64.b64encode(version.to_bytes(8, "big")).decode("ascii") + '"'


def new_key(rng: random.Random | None = None) -> str:
    """A subscription or gateway key: 32 lowercase hex chars, like APIM's generated keys."""
    if rng is None:
        return secrets.token_hex(16)
    return f"{rng.getrandbits(128):032x}"


# --------------------------------------------------------------------------- entities


@dataclass(slots=True)
class Subscription:
    sid: str
    display_name: str | None
    state: str
    scope_kind: str  # "product" | "api" | "all_apis"
    scope_id: str | None  # product or API id; None for all APIs
    owner_id: str | None  # user id (short), or None
    created: float
    primary_key: str
    secondary_key: str
    version: int
    start: float | None = None
    expiration: float | None = None
    end: float | None = None
    notification: float | None = None
    state_comment: str | None = None
    allow_tracing: bool | None = None

    @property
    def etag(self) -> str:
        return etag_of(self.version)

    def covers_api(self, api_id: str, products: dict[str, "Product"]) -> bool:
        """Whether this subscription's scope grants access to ``api_id`` (state not considered)."""
        if self.scope_kind == "all_apis":
            return True
        if self.scope_kind == "api":
            return (self.scope_id or "").lower() == api_id.lower()
        product = products.get(self.scope_id or "")
        return product is not None and any(a.lower() == api_id.lower() for a in product.api_ids)


@dataclass(slots=True)
class User:
    uid: str
    first_name: str
    last_name: str
    email: str
    registered: float
    version: int
    state: str = "active"  # active | blocked | pending | deleted
    note: str | None = None

    @property
    def etag(self) -> str:
        return etag_of(self.version)


@dataclass(slots=True)
class Product:
    pid: str
    display_name: str
    description: str
    version: int
    subscription_required: bool = True
    approval_required: bool = False
    subscriptions_limit: int | None = None
    state: str = "published"  # published | notPublished
    terms: str | None = None
    api_ids: list[str] = field(default_factory=list)

    @property
    def etag(self) -> str:
        return etag_of(self.version)


@dataclass(slots=True)
class Operation:
    oid: str
    api_id: str
    display_name: str
    method: str
    url_template: str
    version: int
    description: str = ""
    template_parameters: list[dict] = field(default_factory=list)

    @property
    def etag(self) -> str:
        return etag_of(self.version)


@dataclass(slots=True)
class Api:
    aid: str
    display_name: str
    path: str
    service_url: str
    version: int
    kind: str  # "azure-openai" | "openai": which data-plane shape the gateway serves
    description: str = ""
    protocols: list[str] = field(default_factory=lambda: ["https"])
    subscription_required: bool = True
    header_name: str = "api-key"
    query_name: str = "subscription-key"
    api_type: str = "http"
    deployments: list[str] = field(default_factory=list)  # azure-openai: deployment names
    models: list[str] = field(default_factory=list)  # openai: model names
    operations: dict[str, Operation] = field(default_factory=dict)

    @property
    def etag(self) -> str:
        return etag_of(self.version)


@dataclass(slots=True)
class PolicyDoc:
    """One stored policy document; ``xml`` is the canonical ``format=xml`` text, verbatim."""

    scope: str  # "global" | "product:ID" | "api:ID" | "operation:API/OP"
    xml: str
    version: int

    @property
    def etag(self) -> str:
        return etag_of(self.version)


@dataclass(slots=True)
class HostnameConfiguration:
    hcid: str
    hostname: str
    certificate_id: str | None
    version: int
    negotiate_client_certificate: bool = False
    tls10_enabled: bool = False
    tls11_enabled: bool = False
    http2_enabled: bool = True


@dataclass(slots=True)
class Gateway:
    gid: str
    description: str
    location_name: str
    city: str | None
    district: str | None
    country_or_region: str | None
    primary_key: str
    secondary_key: str
    version: int
    api_ids: list[str] = field(default_factory=list)
    hostname_configurations: dict[str, HostnameConfiguration] = field(default_factory=dict)

    @property
    def etag(self) -> str:
        return etag_of(self.version)

    def key(self, key_type: str) -> str:
        return self.primary_key if key_type == "primary" else self.secondary_key


@dataclass(slots=True)
class NamedValue:
    nid: str
    display_name: str
    value: str | None
    secret: bool
    version: int
    tags: list[str] = field(default_factory=list)

    @property
    def etag(self) -> str:
        return etag_of(self.version)


@dataclass(slots=True)
class Backend:
    bid: str
    url: str
    protocol: str
    description: str
    version: int
    title: str | None = None

    @property
    def etag(self) -> str:
        return etag_of(self.version)


@dataclass(slots=True)
class ServiceInfo:
    """The APIM service resource itself and where it lives in ARM."""

    subscription_id: str
    resource_group: str
    name: str
    location: str
    sku: str
    publisher_email: str
    publisher_name: str
    created: float
    version: int
    app_insights_name: str

    @property
    def resource_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.ApiManagement/service/{self.name}"
        )

    @property
    def app_insights_resource_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Insights/components/{self.app_insights_name}"
        )

    @property
    def log_analytics_workspace_id(self) -> str:
        """The workspace the gateway log goes to (a customer id is a GUID); stable per service."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, "workspace:" + self.resource_id.lower()))

    @property
    def gateway_host(self) -> str:
        return f"{self.name}.azure-api.net"


# --------------------------------------------------------------------------- gateway tokens


def _token_expiry_text(expiry: datetime) -> str:
    return expiry.astimezone(UTC).strftime("%Y%m%d%H%M")


def sign_gateway_token(gateway_id: str, expiry: datetime, key: str) -> str:
    """APIM's self-hosted gateway token: ``<gatewayId>&<yyyyMMddHHmm>&<signature>``.

    The signature is base64(HMAC-SHA512(key, "gatewayId\\nexpiry")), so the token dies with
    the key it was minted from.
    """
    stamp = _token_expiry_text(expiry)
    digest = hmac.new(key.encode("utf-8"), f"{gateway_id}\n{stamp}".encode(), hashlib.sha512).digest()
    return f"{gateway_id}&{stamp}&{base64.b64encode(digest).decode('ascii')}"


@dataclass(frozen=True, slots=True)
class TokenCheck:
    """Result of verifying a gateway token: ``ok`` plus which slot signed it and why not."""

    ok: bool
    reason: str  # "valid" | "malformed" | "unknown-gateway" | "expired" | "bad-signature"
    gateway_id: str | None = None
    key_type: str | None = None
    expires: datetime | None = None


# --------------------------------------------------------------------------- the state


ChangeListener = Callable[[str, str], None]


class SandboxState:
    """The whole sandbox world. Build it with ``aiconsole.sandbox.seed.build_state``.

    Public attributes (read them under ``state.lock`` if you iterate while others may write):
    ``service``, ``products``, ``apis``, ``users``, ``subscriptions``, ``policies``,
    ``gateways``, ``named_values``, ``backends``, ``clock``, ``faults``, ``seed``,
    ``noisy_subscription_ids``, ``quota_subscription_ids``.
    """

    def __init__(self, service: ServiceInfo, *, clock: Clock | None = None, faults: Faults | None = None, seed: int = 0) -> None:
        self.lock = threading.RLock()
        self.seed = seed
        self.clock = clock or Clock()
        self.faults = faults or Faults(seed=seed)
        self.service = service
        self.products: dict[str, Product] = {}
        self.apis: dict[str, Api] = {}
        self.users: dict[str, User] = {}
        self.subscriptions: dict[str, Subscription] = {}
        self.policies: dict[str, PolicyDoc] = {}
        self.gateways: dict[str, Gateway] = {}
        self.named_values: dict[str, NamedValue] = {}
        self.backends: dict[str, Backend] = {}
        self.noisy_subscription_ids: list[str] = []
        self.quota_subscription_ids: list[str] = []
        self._version = 0
        self._key_index: dict[str, Subscription] = {}  # primary or secondary key -> subscription
        self._lower_sids: dict[str, str] = {}  # only ids that are not already lower-case
        self._listeners: list[ChangeListener] = []
        self._keys_rng = random.Random(f"keys:{seed}")

    # ------------------------------------------------------------------ plumbing

    def next_version(self) -> int:
        """A fresh entity version (state-wide monotonic, so ETags never repeat)."""
        with self.lock:
            self._version += 1
            return self._version

    def add_listener(self, listener: ChangeListener) -> None:
        """Call ``listener(kind, id)`` after every write (kind: "subscription", "policy", ...).

        Listeners run on the writer's thread while the lock is held; keep them short and
        never let them raise.
        """
        with self.lock:
            self._listeners.append(listener)

    def _changed(self, kind: str, ident: str) -> None:
        for listener in list(self._listeners):
            try:
                listener(kind, ident)
            except Exception:  # noqa: BLE001 - a faulty listener must not break a write
                pass

    def new_random_key(self) -> str:
        """A new random key for regeneration (unpredictable, unlike the seeded originals)."""
        return new_key()

    def now(self) -> float:
        return self.clock.time()

    def arm_id(self, suffix: str = "") -> str:
        """The ARM id of the service, or of something under it (``suffix`` starts with '/')."""
        return self.service.resource_id + suffix

    # ------------------------------------------------------------------ lookups

    @staticmethod
    def _find(table: dict, ident: str, what: str):
        item = table.get(ident)
        if item is None:
            lowered = ident.lower()
            for key, value in table.items():
                if key.lower() == lowered:
                    return value
            raise NotFound(f"{what} not found.")
        return item

    def get_product(self, pid: str) -> Product:
        return self._find(self.products, pid, "Product")

    def get_api(self, aid: str) -> Api:
        return self._find(self.apis, aid, "API")

    def get_operation(self, aid: str, oid: str) -> Operation:
        api = self.get_api(aid)
        return self._find(api.operations, oid, "Operation")

    def get_user(self, uid: str) -> User:
        return self._find(self.users, uid, "User")

    def get_gateway(self, gid: str) -> Gateway:
        return self._find(self.gateways, gid, "Gateway")

    def get_named_value(self, nid: str) -> NamedValue:
        return self._find(self.named_values, nid, "Named value")

    def get_backend(self, bid: str) -> Backend:
        return self._find(self.backends, bid, "Backend")

    def get_subscription(self, sid: str) -> Subscription:
        with self.lock:
            sub = self.subscriptions.get(sid)
            if sub is None:
                lowered = sid.lower()
                sub = self.subscriptions.get(lowered)
                if sub is None:
                    real = self._lower_sids.get(lowered)
                    sub = self.subscriptions.get(real) if real else None
            if sub is None:
                raise NotFound("Subscription not found.")
            return sub

    def find_subscription(self, sid: str) -> Subscription | None:
        try:
            return self.get_subscription(sid)
        except NotFound:
            return None

    def subscription_by_key(self, key: str) -> tuple[Subscription, str] | None:
        """The subscription that owns ``key`` and the slot it is in, or ``None`` (gateway auth)."""
        with self.lock:
            sub = self._key_index.get(key)
            if sub is None:
                return None
            if sub.primary_key == key:
                return sub, "primary"
            if sub.secondary_key == key:
                return sub, "secondary"
            return None

    def subscriptions_of_product(self, pid: str) -> Iterator[Subscription]:
        product = self.get_product(pid)
        with self.lock:
            items = [s for s in self.subscriptions.values() if s.scope_kind == "product" and s.scope_id == product.pid]
        return iter(items)

    def subscriptions_of_user(self, uid: str) -> Iterator[Subscription]:
        user = self.get_user(uid)
        with self.lock:
            items = [s for s in self.subscriptions.values() if s.owner_id == user.uid]
        return iter(items)

    def products_of_api(self, aid: str) -> list[Product]:
        api = self.get_api(aid)
        return [p for p in self.products.values() if api.aid in p.api_ids]

    def api_by_path(self, path: str) -> Api | None:
        """The API whose ``path`` is the first segment(s) of a gateway request path."""
        path = path.strip("/")
        best: Api | None = None
        for api in self.apis.values():
            p = api.path.strip("/")
            if path == p or path.startswith(p + "/"):
                if best is None or len(p) > len(best.path.strip("/")):
                    best = api
        return best

    # ------------------------------------------------------------------ subscriptions

    def _index_keys(self, sub: Subscription) -> None:
        self._key_index[sub.primary_key] = sub
        self._key_index[sub.secondary_key] = sub

    def _unindex_keys(self, sub: Subscription) -> None:
        for key in (sub.primary_key, sub.secondary_key):
            if self._key_index.get(key) is sub:
                del self._key_index[key]

    def add_subscription(self, sub: Subscription) -> Subscription:
        """Insert a fully-built subscription (used by the seeder; no validation)."""
        with self.lock:
            self.subscriptions[sub.sid] = sub
            if sub.sid != sub.sid.lower():
                self._lower_sids[sub.sid.lower()] = sub.sid
            self._index_keys(sub)
        return sub

    def key_in_use(self, key: str) -> bool:
        with self.lock:
            return key in self._key_index

    def resolve_scope(self, kind: str, ident: str | None) -> tuple[str, str | None]:
        """Check that a scope exists and return it with the stored id spelling."""
        if kind == "all_apis":
            return kind, None
        if kind == "product":
            return kind, self.get_product(ident or "").pid
        if kind == "api":
            return kind, self.get_api(ident or "").aid
        raise Invalid("Unknown scope.")

    def create_subscription(
        self,
        sid: str,
        *,
        scope_kind: str,
        scope_id: str | None,
        display_name: str,
        owner_id: str | None = None,
        state: str = "submitted",
        primary_key: str | None = None,
        secondary_key: str | None = None,
        allow_tracing: bool | None = None,
        state_comment: str | None = None,
    ) -> Subscription:
        """Create a new subscription (``submitted`` by default, like APIM)."""
        with self.lock:
            if self.find_subscription(sid) is not None:
                raise Conflict("A subscription with this id already exists.")
            scope_kind, scope_id = self.resolve_scope(scope_kind, scope_id)
            if owner_id is not None:
                owner_id = self.get_user(owner_id).uid
            if state not in SUBSCRIPTION_STATES:
                raise Invalid("Invalid subscription state.")
            primary = primary_key or self.new_random_key()
            secondary = secondary_key or self.new_random_key()
            self._check_new_keys(None, primary, secondary)
            now = self.now()
            sub = Subscription(
                sid=sid,
                display_name=display_name,
                state=state,
                scope_kind=scope_kind,
                scope_id=scope_id,
                owner_id=owner_id,
                created=now,
                primary_key=primary,
                secondary_key=secondary,
                version=self.next_version(),
                allow_tracing=allow_tracing,
                state_comment=state_comment,
            )
            if state == "active":
                sub.start = _day_start(now)
            self.add_subscription(sub)
            self._changed("subscription", sid)
            return sub

    def _check_new_keys(self, sub: Subscription | None, *keys: str | None) -> None:
        for key in keys:
            if key is None:
                continue
            if not (1 <= len(key) <= 256):
                raise Invalid("Subscription keys must be between 1 and 256 characters.")
            owner = self._key_index.get(key)
            if owner is not None and owner is not sub:
                raise Conflict("The key is already used by another subscription.")

    def update_subscription(self, sid: str, if_match: str | None = None, **changes) -> Subscription:
        """Apply a partial update. ``if_match`` (``*`` or a quoted ETag) is checked when given.

        Accepted changes: display_name, state, scope_kind+scope_id, owner_id, expiration,
        state_comment, allow_tracing, primary_key, secondary_key.
        """
        with self.lock:
            sub = self.get_subscription(sid)
            check_if_match(sub.etag, if_match)
            if "scope_kind" in changes:
                kind, ident = self.resolve_scope(changes.pop("scope_kind"), changes.pop("scope_id", None))
                sub.scope_kind, sub.scope_id = kind, ident
            if "owner_id" in changes:
                owner = changes.pop("owner_id")
                sub.owner_id = self.get_user(owner).uid if owner else None
            if "state" in changes:
                new_state = changes.pop("state")
                if new_state not in SUBSCRIPTION_STATES:
                    raise Invalid("Invalid subscription state.")
                if new_state != sub.state:
                    self._enter_state(sub, new_state)
            keys = {k: changes.pop(k) for k in ("primary_key", "secondary_key") if k in changes}
            if keys:
                self._check_new_keys(sub, *keys.values())
                self._unindex_keys(sub)
                for name, value in keys.items():
                    if value:
                        setattr(sub, name, value)
                self._index_keys(sub)
            for name in ("display_name", "expiration", "state_comment", "allow_tracing"):
                if name in changes:
                    setattr(sub, name, changes.pop(name))
            if changes:
                raise Invalid(f"Unsupported subscription fields: {', '.join(sorted(changes))}.")
            sub.version = self.next_version()
            self._changed("subscription", sub.sid)
            return sub

    def _enter_state(self, sub: Subscription, new_state: str) -> None:
        """APIM stamps startDate on activation and endDate when a subscription ends."""
        now = self.now()
        if new_state == "active" and sub.start is None:
            sub.start = _day_start(now)
        if new_state in ("cancelled", "expired", "rejected"):
            sub.end = _day_start(now)
        sub.state = new_state

    def delete_subscription(self, sid: str, if_match: str | None) -> Subscription:
        with self.lock:
            sub = self.get_subscription(sid)
            check_if_match(sub.etag, if_match, required=True)
            self._unindex_keys(sub)
            del self.subscriptions[sub.sid]
            self._lower_sids.pop(sub.sid.lower(), None)
            self._changed("subscription", sub.sid)
            return sub

    def regenerate_key(self, sid: str, key_type: str) -> Subscription:
        """Replace one key slot with a new random key; the old one stops working at once."""
        if key_type not in KEY_TYPES:
            raise Invalid("keyType must be primary or secondary.")
        with self.lock:
            sub = self.get_subscription(sid)
            self._unindex_keys(sub)
            key = self.new_random_key()
            while key in self._key_index:
                key = self.new_random_key()
            if key_type == "primary":
                sub.primary_key = key
            else:
                sub.secondary_key = key
            self._index_keys(sub)
            sub.version = self.next_version()
            self._changed("subscription", sub.sid)
            return sub

    # ------------------------------------------------------------------ policies

    @staticmethod
    def policy_scope_key(product: str | None = None, api: str | None = None, operation: str | None = None) -> str:
        """``global``, ``product:ID``, ``api:ID`` or ``operation:API/OP``."""
        if operation is not None:
            return f"operation:{api}/{operation}"
        if api is not None:
            return f"api:{api}"
        if product is not None:
            return f"product:{product}"
        return "global"

    def canonical_scope(self, scope: str) -> str:
        """Check the entity behind a scope key exists; return the key with stored id spelling."""
        if scope == "global":
            return scope
        kind, _, rest = scope.partition(":")
        if kind == "product":
            return f"product:{self.get_product(rest).pid}"
        if kind == "api":
            return f"api:{self.get_api(rest).aid}"
        if kind == "operation":
            aid, _, oid = rest.partition("/")
            op = self.get_operation(aid, oid)
            return f"operation:{op.api_id}/{op.oid}"
        raise Invalid("Unknown policy scope.")

    def get_policy(self, scope: str) -> PolicyDoc:
        scope = self.canonical_scope(scope)
        with self.lock:
            doc = self.policies.get(scope)
            if doc is None:
                raise NotFound("Policy not found.")
            return doc

    def find_policy(self, scope: str) -> PolicyDoc | None:
        """The policy at ``scope`` or ``None`` (no 404 for a missing document)."""
        with self.lock:
            return self.policies.get(scope)

    def put_policy(self, scope: str, xml: str, if_match: str | None = None) -> tuple[PolicyDoc, bool]:
        """Store ``xml`` (canonical xml form, already validated) verbatim; returns (doc, created)."""
        scope = self.canonical_scope(scope)
        with self.lock:
            existing = self.policies.get(scope)
            if existing is not None:
                check_if_match(existing.etag, if_match)
            elif if_match not in (None, "*"):
                raise PreconditionFailed("The policy does not exist, so the If-Match ETag cannot match.")
            doc = PolicyDoc(scope=scope, xml=xml, version=self.next_version())
            self.policies[scope] = doc
            self._changed("policy", scope)
            return doc, existing is None

    def delete_policy(self, scope: str, if_match: str | None) -> None:
        scope = self.canonical_scope(scope)
        with self.lock:
            doc = self.policies.get(scope)
            if doc is None:
                raise NotFound("Policy not found.")
            check_if_match(doc.etag, if_match, required=True)
            del self.policies[scope]
            self._changed("policy", scope)

    def policy_chain(self, api_id: str, operation_id: str | None = None, product_id: str | None = None) -> list[PolicyDoc]:
        """The documents in effect for a request, outermost first: global, product, API, operation.

        Missing scopes are skipped; the gateway's engine resolves ``<base />`` between them.
        """
        keys = ["global"]
        if product_id:
            keys.append(f"product:{product_id}")
        keys.append(f"api:{api_id}")
        if operation_id:
            keys.append(f"operation:{api_id}/{operation_id}")
        with self.lock:
            return [self.policies[k] for k in keys if k in self.policies]

    # ------------------------------------------------------------------ gateways

    def regenerate_gateway_key(self, gid: str, key_type: str) -> Gateway:
        if key_type not in KEY_TYPES:
            raise Invalid("keyType must be primary or secondary.")
        with self.lock:
            gw = self.get_gateway(gid)
            if key_type == "primary":
                gw.primary_key = self.new_random_key()
            else:
                gw.secondary_key = self.new_random_key()
            gw.version = self.next_version()
            self._changed("gateway", gw.gid)
            return gw

    def generate_gateway_token(self, gid: str, key_type: str, expiry: datetime) -> str:
        """Mint a gateway access token; expiry must be in the future and at most 30 days away."""
        if key_type not in KEY_TYPES:
            raise Invalid("keyType must be primary or secondary.")
        if expiry.tzinfo is None:
            expiry = expiry.replace(tzinfo=UTC)
        now = self.clock.now()
        if expiry <= now:
            raise Invalid("The token expiry must be in the future.")
        if (expiry - now).total_seconds() > MAX_GATEWAY_TOKEN_DAYS * 86400 + 60:
            raise Invalid(f"The token expiry must be at most {MAX_GATEWAY_TOKEN_DAYS} days in the future.")
        with self.lock:
            gw = self.get_gateway(gid)
            return sign_gateway_token(gw.gid, expiry, gw.key(key_type))

    def verify_gateway_token(self, token: str) -> TokenCheck:
        """Check a token against the gateway's current keys and the clock (for sandbox nodes)."""
        parts = (token or "").split("&")
        if len(parts) != 3:
            return TokenCheck(False, "malformed")
        gid, stamp, _sig = parts
        try:
            expires = datetime.strptime(stamp, "%Y%m%d%H%M").replace(tzinfo=UTC)
        except ValueError:
            return TokenCheck(False, "malformed", gid)
        with self.lock:
            gw = self.gateways.get(gid)
            if gw is None:
                return TokenCheck(False, "unknown-gateway", gid, expires=expires)
            keys = {kt: gw.key(kt) for kt in KEY_TYPES}
        for key_type, key in keys.items():
            if hmac.compare_digest(sign_gateway_token(gid, expires, key), token):
                if expires <= self.clock.now():
                    return TokenCheck(False, "expired", gid, key_type, expires)
                return TokenCheck(True, "valid", gid, key_type, expires)
        return TokenCheck(False, "bad-signature", gid, expires=expires)

    # ------------------------------------------------------------------ misc

    def iter_subscriptions(self) -> Iterable[Subscription]:
        """A snapshot list of all subscriptions, in creation order."""
        with self.lock:
            return list(self.subscriptions.values())


def _day_start(ts: float) -> float:
    return ts - (ts % 86400)


def normalize_etag(value: str) -> str:
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    if not (value.startswith('"') and value.endswith('"')):
        value = f'"{value}"'
    return value


def check_if_match(current_etag: str, if_match: str | None, *, required: bool = False) -> None:
    """Enforce ``If-Match``: ``*`` matches anything; a stale value raises ``PreconditionFailed``."""
    if if_match is None or if_match.strip() == "":
        if required:
            raise Invalid("The If-Match header is required.")
        return
    candidates = [c for c in (p.strip() for p in if_match.split(",")) if c]
    if any(c == "*" for c in candidates):
        return
    if normalize_etag(current_etag) in {normalize_etag(c) for c in candidates}:
        return
    raise PreconditionFailed(
        "The entity has been modified since it was read (the If-Match ETag is stale). Read it again and retry."
    )
