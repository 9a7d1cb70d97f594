"""The management port implemented with azure-mgmt-apimanagement, as a user would use it.

The same code talks to Azure and to the sandbox (which serves the same REST contract). Plain
HTTP is allowed only for loopback URLs: a custom auth policy relaxes azure-core's HTTPS check
for those requests and nothing else. Every call goes through ``_call`` so SDK and transport
errors become domain errors with one sentence, and ETags are captured from response headers
for the conditional writes that follow.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, TypeVar

from azure.mgmt.apimanagement import ApiManagementClient
from azure.mgmt.apimanagement import models as m
from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy

from aiconsole.backends.errors import map_exception
from aiconsole.backends.urls import is_loopback_url
from aiconsole.domain.models import (
    Api,
    Gateway,
    GatewayKeys,
    KeyPair,
    Operation,
    PolicyDocument,
    PolicyScope,
    Product,
    Scope,
    ServiceInfo,
    Slot,
    Subscription,
    SubscriptionState,
    User,
)

T = TypeVar("T")
ARM_SCOPE = "https://management.azure.com/.default"
_RBAC = "Microsoft.ApiManagement/service"


class LoopbackAwareAuthPolicy(ARMChallengeAuthenticationPolicy):
    """ARM bearer auth that permits plain HTTP for loopback hosts only.

    azure-core refuses to send a bearer token over http; the sandbox runs on http://127.0.0.1.
    Marking just those requests keeps TLS enforcement for every other URL.
    """

    def on_request(self, request):  # type: ignore[override]
        if is_loopback_url(request.http_request.url):
            request.context.options["enforce_https"] = False
        return super().on_request(request)


class _Headers:
    """Captures response headers of the call in flight, per thread (workers run in parallel)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def hook(self, response) -> None:
        self._local.headers = dict(response.http_response.headers)

    @property
    def last(self) -> dict[str, str]:
        return getattr(self._local, "headers", {})


def _etag_cls(_response, obj, headers):
    return obj, (headers or {}).get("ETag")


def _state(value) -> SubscriptionState:
    raw = getattr(value, "value", value) or "submitted"
    try:
        return SubscriptionState(str(raw).lower())
    except ValueError:
        return SubscriptionState.submitted


def to_subscription(c: m.SubscriptionContract, etag: str | None = None) -> Subscription:
    return Subscription(
        name=c.name,
        display_name=c.display_name,
        state=_state(c.state),
        scope=Scope.parse(c.scope),
        owner_id=c.owner_id,
        created_date=c.created_date,
        start_date=c.start_date,
        expiration_date=c.expiration_date,
        end_date=c.end_date,
        notification_date=c.notification_date,
        state_comment=c.state_comment,
        allow_tracing=c.allow_tracing,
        etag=etag,
    )


def subscription_from_json(item: dict[str, Any]) -> Subscription:
    """A list item (ARM JSON) straight to the domain model; pydantic parses the dates.

    Owner and scope ARM ids repeat across thousands of subscriptions; interning them keeps one
    copy of each (about a sixth of a big table's memory).
    """
    p = item.get("properties") or {}
    owner, scope = p.get("ownerId"), p.get("scope")
    return Subscription(
        name=item.get("name") or "",
        display_name=p.get("displayName"),
        state=_state(p.get("state")),
        scope=Scope.parse(sys.intern(scope) if isinstance(scope, str) else scope),
        owner_id=sys.intern(owner) if isinstance(owner, str) else owner,
        created_date=p.get("createdDate"),
        start_date=p.get("startDate"),
        expiration_date=p.get("expirationDate"),
        end_date=p.get("endDate"),
        notification_date=p.get("notificationDate"),
        state_comment=p.get("stateComment"),
        allow_tracing=p.get("allowTracing"),
    )


def product_from_json(item: dict[str, Any]) -> Product:
    p = item.get("properties") or {}
    return Product(name=item.get("name") or "", display_name=p.get("displayName"), description=p.get("description"),
                   state=p.get("state"), subscription_required=p.get("subscriptionRequired"),
                   approval_required=p.get("approvalRequired"), subscriptions_limit=p.get("subscriptionsLimit"))


def user_from_json(item: dict[str, Any]) -> User:
    p = item.get("properties") or {}
    return User(name=item.get("name") or "", first_name=p.get("firstName"), last_name=p.get("lastName"),
                email=p.get("email"), state=p.get("state"), registration_date=p.get("registrationDate"))


def api_from_json(item: dict[str, Any]) -> Api:
    p = item.get("properties") or {}
    names = p.get("subscriptionKeyParameterNames") or {}
    return Api(name=item.get("name") or "", display_name=p.get("displayName"), path=p.get("path"),
               service_url=p.get("serviceUrl"), protocols=p.get("protocols") or [],
               subscription_required=p.get("subscriptionRequired"), subscription_key_header=names.get("header"),
               subscription_key_query=names.get("query"), api_type=p.get("type") or p.get("apiType"),
               is_current=p.get("isCurrent"))


def to_product(c: m.ProductContract, etag: str | None = None) -> Product:
    return Product(
        name=c.name,
        display_name=c.display_name,
        description=c.description,
        state=getattr(c.state, "value", c.state),
        subscription_required=c.subscription_required,
        approval_required=c.approval_required,
        subscriptions_limit=c.subscriptions_limit,
        etag=etag,
    )


def to_api(c) -> Api:
    names = getattr(c, "subscription_key_parameter_names", None)
    return Api(
        name=c.name,
        display_name=getattr(c, "display_name", None),
        path=getattr(c, "path", None),
        service_url=getattr(c, "service_url", None),
        protocols=[getattr(p, "value", p) for p in (getattr(c, "protocols", None) or [])],
        subscription_required=getattr(c, "subscription_required", None),
        subscription_key_header=getattr(names, "header", None) if names else None,
        subscription_key_query=getattr(names, "query", None) if names else None,
        api_type=getattr(getattr(c, "api_type", None), "value", getattr(c, "api_type", None)),
        is_current=getattr(c, "is_current", None),
    )


def to_user(c: m.UserContract) -> User:
    return User(
        name=c.name,
        first_name=c.first_name,
        last_name=c.last_name,
        email=c.email,
        state=getattr(c.state, "value", c.state),
        registration_date=c.registration_date,
    )


def to_gateway(c: m.GatewayContract, etag: str | None = None) -> Gateway:
    loc = c.location_data
    return Gateway(
        name=c.name,
        location=getattr(loc, "name", None),
        city=getattr(loc, "city", None),
        country_or_region=getattr(loc, "country_or_region", None),
        description=c.description,
        etag=etag,
    )


class AzureApimBackend:
    """``ManagementPort`` over the SDK for one service (``resource_group``/``service_name``)."""

    def __init__(self, client: ApiManagementClient, resource_group: str, service_name: str, *,
                 label: str, headers: _Headers | None = None) -> None:
        self.client = client
        self.rg = resource_group
        self.service = service_name
        self.label = label
        self._headers = headers or _Headers()

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def from_connection(cls, connection, *, credential=None, retry_total: int = 3) -> "AzureApimBackend":
        if credential is None:
            credential = _credential_for(connection)
        headers = _Headers()
        client = ApiManagementClient(
            credential,
            connection.subscription_id,
            base_url=connection.management_url,
            authentication_policy=LoopbackAwareAuthPolicy(credential, _scope_for(connection)),
            raw_response_hook=headers.hook,
            retry_total=retry_total,
            retry_backoff_max=30,
            connection_timeout=10,
            read_timeout=60,
        )
        return cls(client, connection.resource_group, connection.service_name,
                   label=connection.label, headers=headers)

    @property
    def last_request_id(self) -> str | None:
        return self._headers.last.get("x-ms-request-id")

    def _call(self, what: str, fn: Callable[..., T], *args: Any, action: str | None = None, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a domain error
            raise map_exception(exc, what=what, action=action) from None

    # -- service ---------------------------------------------------------------------------
    def get_service(self) -> ServiceInfo:
        svc = self._call("read the API Management service", self.client.api_management_service.get,
                         self.rg, self.service, action=f"{_RBAC}/read")
        sku = getattr(svc.sku, "name", None)
        return ServiceInfo(
            name=svc.name, id=svc.id or "", location=svc.location,
            sku=getattr(sku, "value", sku), gateway_url=svc.gateway_url,
            management_api_url=svc.management_api_url, etag=svc.etag,
        )

    # -- subscriptions ---------------------------------------------------------------------
    def _service_path(self, suffix: str) -> str:
        sub = self.client._config.subscription_id
        return (f"/subscriptions/{sub}/resourceGroups/{self.rg}/providers/Microsoft.ApiManagement/service/"
                f"{self.service}/{suffix}")

    def _get_json(self, url: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET through the SDK's own pipeline (auth, Retry-After-aware retries, logging), raw JSON back.

        Used for list pages only: the generated client's model deserialisation costs about
        three times the HTTP round trip per page of 100, which is what makes big tenants slow.
        """
        from azure.core.exceptions import HttpResponseError, map_error
        from azure.core.rest import HttpRequest
        from azure.mgmt.core.exceptions import ARMErrorFormat

        response = self.client._send_request(HttpRequest("GET", url, params=params))
        if response.status_code != 200:
            map_error(status_code=response.status_code, response=response, error_map={})
            raise HttpResponseError(response=response, error_format=ARMErrorFormat)
        return response.json()

    def _iter_pages(self, suffix: str, convert: Callable[[dict[str, Any]], T], *, what: str, action: str,
                    odata_filter: str | None = None, page_size: int = 100, concurrency: int = 8,
                    key: Callable[[T], str] = lambda item: item.name) -> Iterator[list[T]]:
        """The first page at once, then the rest fetched ``concurrency`` at a time by ``$skip``.

        ARM list APIs page by ``$top``/``$skip`` and say so in ``nextLink``; when they do, later
        pages are requested in parallel (bounded, within ARM's read budget; each request keeps
        the SDK pipeline's Retry-After-aware retry policy) and yielded in order. A short page
        ends the walk. Servers whose ``nextLink`` is opaque are walked sequentially. Items are
        de-duplicated by name in case the collection shifts while we page.
        """
        url = self._service_path(suffix)

        def fetch(skip: int | None = None, link: str | None = None) -> tuple[list[T], str | None]:
            if link:
                data = self._get_json(link)
            else:
                params: dict[str, Any] = {"api-version": self.client._config.api_version, "$top": page_size}
                if odata_filter:
                    params["$filter"] = odata_filter
                if skip:
                    params["$skip"] = skip
                data = self._get_json(url, params)
            return [convert(item) for item in data.get("value") or []], data.get("nextLink")

        first, next_link = self._page_call(what, fetch, action=action)
        seen = {key(s) for s in first}
        yield first

        def fresh_of(items: list[T]) -> list[T]:
            out = [s for s in items if key(s) not in seen]
            seen.update(key(s) for s in out)
            return out

        if not next_link:
            return
        from urllib.parse import unquote

        if "$skip=" not in unquote(next_link).lower() or concurrency <= 1:
            # A server whose nextLink repeats, or that keeps sending nothing new, must not keep
            # us paging forever: stop at a link already followed or after 10 pages with no news.
            followed: set[str] = set()
            stale = 0
            while next_link and next_link not in followed and stale < 10:
                followed.add(next_link)
                items, next_link = self._page_call(what, fetch, link=next_link, action=action)
                if fresh := fresh_of(items):
                    stale = 0
                    yield fresh
                else:
                    stale += 1
            return
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="apim-page") as pool:
            next_skip = len(first)
            window: list = []
            done = False
            stale = 0
            while not done or window:
                while not done and len(window) < concurrency:
                    window.append(pool.submit(self._page_call, what, fetch, next_skip, action=action))
                    next_skip += page_size
                items, _ = window.pop(0).result()
                fresh = fresh_of(items)
                stale = 0 if fresh else stale + 1
                if stale >= 2 * concurrency:  # full pages with nothing new, again and again: stop
                    done, window = True, []
                    continue
                if len(items) < page_size:
                    done = True
                    for f in window:  # pages past the end: normally empty, kept if the list grew
                        fresh.extend(fresh_of(f.result()[0]))
                    window = []
                if fresh:
                    yield fresh

    #: extra rounds for one list page after the SDK's own retries gave up on a 429 or a 5xx
    PAGE_RETRIES = 3

    def _page_call(self, what: str, fn: Callable[..., T], *args: Any, action: str | None = None, **kwargs: Any) -> T:
        """``_call`` for one page of a long listing: a throttled or failed page waits its
        ``Retry-After`` (or a short backoff) and is asked again, a few rounds at most, so one unlucky
        page does not throw away a listing of thousands. Reads only: repeating them is harmless."""
        import time

        from aiconsole.domain.errors import ServerError, ThrottledError

        for attempt in range(self.PAGE_RETRIES + 1):
            try:
                return self._call(what, fn, *args, action=action, **kwargs)
            except (ThrottledError, ServerError) as exc:
                if attempt == self.PAGE_RETRIES:
                    raise
                wait = getattr(exc, "retry_after", 0.0) or 0.5 * (2 ** attempt)
                time.sleep(min(wait, 30.0))
        raise AssertionError("unreachable")  # pragma: no cover

    def _list_all(self, suffix: str, convert: Callable[[dict[str, Any]], T], *, what: str, action: str,
                  odata_filter: str | None = None) -> list[T]:
        return [item for page in self._iter_pages(suffix, convert, what=what, action=action,
                                                  odata_filter=odata_filter) for item in page]

    def iter_subscription_pages(self, *, odata_filter: str | None = None, page_size: int = 100,
                                concurrency: int = 8) -> Iterator[list[Subscription]]:
        return self._iter_pages("subscriptions", subscription_from_json, what="list subscriptions",
                                action=f"{_RBAC}/subscriptions/read", odata_filter=odata_filter,
                                page_size=page_size, concurrency=concurrency)

    def get_subscription(self, sid: str) -> Subscription:
        obj, etag = self._call(f"read subscription '{sid}'", self.client.subscription.get, self.rg,
                               self.service, sid, cls=_etag_cls, action=f"{_RBAC}/subscriptions/read")
        return to_subscription(obj, etag)

    def create_subscription(self, sid: str, *, display_name: str, scope_path: str, owner_id: str | None = None,
                            state: str | None = None, expiration_date: datetime | None = None,
                            allow_tracing: bool | None = None) -> Subscription:
        params = m.SubscriptionCreateParameters(
            scope=scope_path, display_name=display_name, owner_id=owner_id, state=state,
            allow_tracing=allow_tracing,
        )
        obj, etag = self._call(f"create subscription '{sid}'", self.client.subscription.create_or_update,
                               self.rg, self.service, sid, params, notify=False, cls=_etag_cls,
                               action=f"{_RBAC}/subscriptions/write")
        sub = to_subscription(obj, etag)
        if expiration_date is not None:
            sub = self.update_subscription(sid, etag=etag or "*", expiration_date=expiration_date)
        return sub

    def update_subscription(self, sid: str, *, etag: str, **fields: Any) -> Subscription:
        if not etag:
            raise ValueError("update_subscription needs the ETag of a fresh read (If-Match)")
        params = m.SubscriptionUpdateParameters(**fields)
        obj, new_etag = self._call(f"update subscription '{sid}'", self.client.subscription.update, self.rg,
                                   self.service, sid, if_match=etag, parameters=params, cls=_etag_cls,
                                   action=f"{_RBAC}/subscriptions/write")
        return to_subscription(obj, new_etag)

    def clear_subscription_expiration(self, sid: str, *, etag: str) -> Subscription:
        """PATCH ``"expirationDate": null``: the SDK's model drops ``None`` fields, so the body is
        sent as JSON through the same operation (same pipeline, same If-Match)."""
        import io
        import json

        body = io.BytesIO(json.dumps({"properties": {"expirationDate": None}}).encode())
        obj, new_etag = self._call(f"update subscription '{sid}'", self.client.subscription.update, self.rg,
                                   self.service, sid, if_match=etag, parameters=body,
                                   content_type="application/json", cls=_etag_cls,
                                   action=f"{_RBAC}/subscriptions/write")
        return to_subscription(obj, new_etag)

    def delete_subscription(self, sid: str, *, etag: str) -> None:
        self._call(f"delete subscription '{sid}'", self.client.subscription.delete, self.rg, self.service,
                   sid, if_match=etag, action=f"{_RBAC}/subscriptions/delete")

    def list_secrets(self, sid: str) -> KeyPair:
        keys = self._call(f"read the keys of subscription '{sid}'", self.client.subscription.list_secrets,
                          self.rg, self.service, sid, action=f"{_RBAC}/subscriptions/listSecrets/action")
        return KeyPair(name=sid, primary_key=keys.primary_key or "", secondary_key=keys.secondary_key or "")

    def regenerate_key(self, sid: str, slot: Slot) -> None:
        ops = self.client.subscription
        fn = ops.regenerate_primary_key if slot == "primary" else ops.regenerate_secondary_key
        action = f"{_RBAC}/subscriptions/regenerate{'Primary' if slot == 'primary' else 'Secondary'}Key/action"
        self._call(f"regenerate the {slot} key of subscription '{sid}'", fn, self.rg, self.service, sid,
                   action=action)

    # -- catalogue -------------------------------------------------------------------------
    def list_products(self) -> list[Product]:
        return self._list_all("products", product_from_json, what="list products", action=f"{_RBAC}/products/read")

    def get_product(self, product_id: str) -> Product:
        obj, etag = self._call(f"read product '{product_id}'", self.client.product.get, self.rg, self.service,
                               product_id, cls=_etag_cls, action=f"{_RBAC}/products/read")
        return to_product(obj, etag)

    def list_product_apis(self, product_id: str) -> list[Api]:
        return [to_api(a) for a in self._call(
            f"list the APIs of product '{product_id}'",
            lambda: list(self.client.product_api.list_by_product(self.rg, self.service, product_id)),
            action=f"{_RBAC}/products/apis/read")]

    def list_users(self, *, odata_filter: str | None = None) -> list[User]:
        return self._list_all("users", user_from_json, what="list users", action=f"{_RBAC}/users/read",
                              odata_filter=odata_filter)

    def get_user(self, user_id: str) -> User:
        return to_user(self._call(f"read user '{user_id}'", self.client.user.get, self.rg, self.service, user_id,
                                  action=f"{_RBAC}/users/read"))

    def list_apis(self) -> list[Api]:
        return self._list_all("apis", api_from_json, what="list APIs", action=f"{_RBAC}/apis/read")

    def get_api(self, api_id: str) -> Api:
        return to_api(self._call(f"read API '{api_id}'", self.client.api.get, self.rg, self.service, api_id,
                                 action=f"{_RBAC}/apis/read"))

    def list_operations(self, api_id: str) -> list[Operation]:
        ops = self._call(f"list the operations of API '{api_id}'",
                         lambda: list(self.client.api_operation.list_by_api(self.rg, self.service, api_id)),
                         action=f"{_RBAC}/apis/operations/read")
        return [Operation(name=o.name, api=api_id, display_name=o.display_name, method=o.method,
                          url_template=o.url_template) for o in ops]

    # -- policies --------------------------------------------------------------------------
    def _policy_ops(self, scope: PolicyScope) -> tuple[Any, tuple[Any, ...], str]:
        if scope.kind == "global":
            return self.client.policy, (self.rg, self.service), f"{_RBAC}/policies"
        if scope.kind == "product":
            return self.client.product_policy, (self.rg, self.service, scope.product), f"{_RBAC}/products/policies"
        if scope.kind == "api":
            return self.client.api_policy, (self.rg, self.service, scope.api), f"{_RBAC}/apis/policies"
        return (self.client.api_operation_policy, (self.rg, self.service, scope.api, scope.operation),
                f"{_RBAC}/apis/operations/policies")

    def get_policy(self, scope: PolicyScope, *, fmt: str = "xml") -> PolicyDocument | None:
        from aiconsole.domain.errors import NotFoundError

        ops, args, rbac = self._policy_ops(scope)
        try:
            obj, etag = self._call(f"read the {scope.label} policy", ops.get, *args, "policy", format=fmt,
                                   cls=_etag_cls, action=f"{rbac}/read")
        except NotFoundError:
            return None
        return PolicyDocument(scope=scope, xml=obj.value or "", format=fmt, etag=etag)

    def put_policy(self, scope: PolicyScope, xml: str, *, etag: str | None, fmt: str = "xml") -> PolicyDocument:
        ops, args, rbac = self._policy_ops(scope)
        params = m.PolicyContract(value=xml, format=fmt)
        kwargs: dict[str, Any] = {"cls": _etag_cls, "action": f"{rbac}/write"}
        if etag:
            kwargs["if_match"] = etag
        obj, new_etag = self._call(f"write the {scope.label} policy", ops.create_or_update, *args, "policy",
                                   params, **kwargs)
        return PolicyDocument(scope=scope, xml=xml, format=fmt, etag=new_etag)

    def delete_policy(self, scope: PolicyScope, *, etag: str) -> None:
        ops, args, rbac = self._policy_ops(scope)
        self._call(f"delete the {scope.label} policy", ops.delete, *args, "policy", if_match=etag,
                   action=f"{rbac}/delete")

    # -- self-hosted gateways --------------------------------------------------------------
    def list_gateways(self) -> list[Gateway]:
        return [to_gateway(g) for g in self._call(
            "list gateways", lambda: list(self.client.gateway.list_by_service(self.rg, self.service)),
            action=f"{_RBAC}/gateways/read")]

    def get_gateway(self, gateway_id: str) -> Gateway:
        obj, etag = self._call(f"read gateway '{gateway_id}'", self.client.gateway.get, self.rg, self.service,
                               gateway_id, cls=_etag_cls, action=f"{_RBAC}/gateways/read")
        return to_gateway(obj, etag)

    def list_gateway_apis(self, gateway_id: str) -> list[Api]:
        return [to_api(a) for a in self._call(
            f"list the APIs of gateway '{gateway_id}'",
            lambda: list(self.client.gateway_api.list_by_service(self.rg, self.service, gateway_id)),
            action=f"{_RBAC}/gateways/apis/read")]

    def list_gateway_keys(self, gateway_id: str) -> GatewayKeys:
        keys = self._call(f"read the keys of gateway '{gateway_id}'", self.client.gateway.list_keys, self.rg,
                          self.service, gateway_id, action=f"{_RBAC}/gateways/listKeys/action")
        return GatewayKeys(name=gateway_id, primary=keys.primary or "", secondary=keys.secondary or "")

    def regenerate_gateway_key(self, gateway_id: str, slot: Slot) -> None:
        params = m.GatewayKeyRegenerationRequestContract(key_type=slot)
        self._call(f"regenerate the {slot} key of gateway '{gateway_id}'", self.client.gateway.regenerate_key,
                   self.rg, self.service, gateway_id, params, action=f"{_RBAC}/gateways/regenerateKey/action")

    def generate_gateway_token(self, gateway_id: str, slot: Slot, expiry: datetime) -> str:
        params = m.GatewayTokenRequestContract(key_type=slot, expiry=expiry)
        token = self._call(f"generate a token for gateway '{gateway_id}'", self.client.gateway.generate_token,
                           self.rg, self.service, gateway_id, params, action=f"{_RBAC}/gateways/token/action")
        return token.value or ""

    # -- named values and backends (issue #11: authentication posture, backend pools) ------
    def list_named_values(self) -> list:
        """Named values without their values: only secret / Key Vault / plain is kept."""
        from aiconsole.domain.gateway_config import named_value_from_json

        return self._list_all("namedValues", named_value_from_json, what="list named values",
                              action=f"{_RBAC}/namedValues/read")

    def list_backends(self) -> list:
        """Backends with pools, circuit-breaker rules and credentials (names and references only)."""
        from aiconsole.domain.gateway_config import backend_from_json

        return self._list_all("backends", backend_from_json, what="list backends", action=f"{_RBAC}/backends/read")

    def get_backend(self, backend_id: str):
        from aiconsole.domain.gateway_config import backend_from_json

        url = self._service_path(f"backends/{backend_id}")
        data = self._call(f"read backend '{backend_id}'", self._get_json, url,
                          {"api-version": self.client._config.api_version}, action=f"{_RBAC}/backends/read")
        return backend_from_json(data)


def _scope_for(connection) -> str:
    """The token scope of the connection's ARM endpoint (sovereign clouds differ)."""
    if connection.kind == "sandbox":
        return ARM_SCOPE
    from aiconsole.backends.credentials import management_scope

    return management_scope(connection)


def _credential_for(connection):
    from aiconsole.backends.credentials import build_credential

    return build_credential(connection)
