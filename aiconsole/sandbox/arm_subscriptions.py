"""Subscriptions: list (service, product, user), get, HEAD, PUT, PATCH, DELETE, keys.

Shapes follow ``apimsubscriptions.json`` (2024-05-01): GET and list never carry keys; keys
come only from ``listSecrets``; regenerate answers 204 and the old key dies at once.
"""

from __future__ import annotations

from typing import Any

from aiconsole.sandbox.arm_common import (
    ArmError,
    Call,
    empty,
    json_response,
    paged,
    relative_id,
    resource,
    validation_error,
)
from aiconsole.sandbox.clock import parse_instant
from aiconsole.sandbox.odata import EQ_ONLY, Field
from aiconsole.sandbox.state import SUBSCRIPTION_STATES, SandboxState, Subscription, iso


def scope_path(sub: Subscription) -> str:
    if sub.scope_kind == "product":
        return f"/products/{sub.scope_id}"
    if sub.scope_kind == "api":
        return f"/apis/{sub.scope_id}"
    return "/apis"


def render(state: SandboxState, sub: Subscription) -> dict[str, Any]:
    return resource(
        state,
        "subscriptions",
        f"/subscriptions/{sub.sid}",
        sub.sid,
        {
            "ownerId": state.arm_id(f"/users/{sub.owner_id}") if sub.owner_id else None,
            "scope": state.arm_id(scope_path(sub)),
            "displayName": sub.display_name,
            "state": sub.state,
            "createdDate": iso(sub.created),
            "startDate": iso(sub.start),
            "expirationDate": iso(sub.expiration),
            "endDate": iso(sub.end),
            "notificationDate": iso(sub.notification),
            "stateComment": sub.state_comment,
            "allowTracing": sub.allow_tracing,
        },
    )


def filter_fields(state: SandboxState) -> dict[str, Field]:
    """The documented ``$filter`` fields; id-like fields match short, relative or full ids."""
    prefix = state.arm_id()

    def ids(relative: str | None) -> list[str | None]:
        if relative is None:
            return [None]
        return [relative.rsplit("/", 1)[-1], relative, prefix + relative]

    return {
        "name": Field(lambda s: s.sid),
        "displayName": Field(lambda s: s.display_name),
        "stateComment": Field(lambda s: s.state_comment),
        "ownerId": Field(lambda s: ids(f"/users/{s.owner_id}" if s.owner_id else None)),
        "userId": Field(lambda s: ids(f"/users/{s.owner_id}" if s.owner_id else None)),
        "scope": Field(lambda s: [*ids(scope_path(s)), scope_path(s)]),
        "productId": Field(lambda s: ids(f"/products/{s.scope_id}") if s.scope_kind == "product" else [None]),
        "state": Field(lambda s: s.state, EQ_ONLY),
    }


def list_all(call: Call):
    state = call.state
    return paged(call, state.iter_subscriptions(), lambda s: render(state, s), fields=filter_fields(state))


def list_for_product(call: Call):
    state = call.state
    items = list(state.subscriptions_of_product(call.params["productId"]))
    return paged(call, items, lambda s: render(state, s), fields=filter_fields(state))


def list_for_user(call: Call):
    state = call.state
    items = list(state.subscriptions_of_user(call.params["userId"]))
    return paged(call, items, lambda s: render(state, s), fields=filter_fields(state))


def get(call: Call):
    sub = call.state.get_subscription(call.params["sid"])
    return json_response(render(call.state, sub), etag=sub.etag)


def get_for_user(call: Call):
    user = call.state.get_user(call.params["userId"])
    sub = call.state.get_subscription(call.params["sid"])
    if sub.owner_id != user.uid:
        raise ArmError(404, "ResourceNotFound", "Subscription not found.")
    return json_response(render(call.state, sub), etag=sub.etag)


def head(call: Call):
    sub = call.state.get_subscription(call.params["sid"])
    return empty(200, etag=sub.etag)


def parse_scope(state: SandboxState, value: Any) -> tuple[str, str | None]:
    """``/products/x``, ``/apis/y``, ``/apis`` (relative or full ARM id) → (kind, id)."""
    if not isinstance(value, str) or not value.strip():
        raise validation_error("Subscription scope is required.", [{"code": "ValidationError", "target": "scope",
                                                                  "message": "Scope is required."}])
    rel = relative_id(state, value.strip()).rstrip("/")
    parts = [p for p in rel.split("/") if p]
    if parts and parts[0].lower() == "products" and len(parts) == 2:
        return state.resolve_scope("product", parts[1])
    if parts and parts[0].lower() == "apis" and len(parts) == 2:
        return state.resolve_scope("api", parts[1])
    if parts and parts[0].lower() == "apis" and len(parts) == 1:
        return "all_apis", None
    raise validation_error("Subscription scope must be /products/{productId}, /apis/{apiId} or /apis.",
                           [{"code": "ValidationError", "target": "scope", "message": "Invalid scope."}])


def parse_owner(state: SandboxState, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise validation_error("ownerId must be a string like /users/{userId}.")
    rel = relative_id(state, value.strip())
    parts = [p for p in rel.split("/") if p]
    if len(parts) != 2 or parts[0].lower() != "users":
        raise validation_error("ownerId must be a user id path like /users/{userId}.")
    return state.get_user(parts[1]).uid


def _state_value(value: Any) -> str:
    if not isinstance(value, str) or value not in SUBSCRIPTION_STATES:
        raise validation_error(f"state must be one of: {', '.join(SUBSCRIPTION_STATES)}.")
    return value


def _optional_str(props: dict[str, Any], name: str, *, max_len: int | None = None, min_len: int = 0) -> str | None:
    value = props.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise validation_error(f"{name} must be a string.")
    if len(value) < min_len or (max_len is not None and len(value) > max_len):
        raise validation_error(f"{name} must be between {min_len} and {max_len} characters long.")
    return value


def put(call: Call):
    state = call.state
    props = call.properties()
    sid = call.params["sid"]
    if len(sid) > 256:
        raise validation_error("The subscription id is too long.")
    kind, scope_id = parse_scope(state, props.get("scope"))
    display_name = _optional_str(props, "displayName", max_len=100, min_len=1)
    owner = parse_owner(state, props.get("ownerId"))
    primary = _optional_str(props, "primaryKey", max_len=256, min_len=1)
    secondary = _optional_str(props, "secondaryKey", max_len=256, min_len=1)
    allow_tracing = props.get("allowTracing")
    if allow_tracing is not None and not isinstance(allow_tracing, bool):
        raise validation_error("allowTracing must be true or false.")
    with state.lock:
        existing = state.find_subscription(sid)
        if existing is None:
            if call.if_match not in (None, "", "*"):
                raise ArmError(412, "PreconditionFailed", "The subscription does not exist, so the If-Match ETag cannot match.")
            if display_name is None:
                raise validation_error("displayName is required.", [{"code": "ValidationError", "target": "displayName",
                                                                     "message": "displayName is required."}])
            sub = state.create_subscription(
                sid, scope_kind=kind, scope_id=scope_id, display_name=display_name, owner_id=owner,
                state=_state_value(props["state"]) if props.get("state") is not None else "submitted",
                primary_key=primary, secondary_key=secondary, allow_tracing=allow_tracing,
            )
            return json_response(render(state, sub), status=201, etag=sub.etag)
        changes: dict[str, Any] = {"scope_kind": kind, "scope_id": scope_id, "owner_id": owner}
        if display_name is not None:
            changes["display_name"] = display_name
        if props.get("state") is not None:
            changes["state"] = _state_value(props["state"])
        if primary is not None:
            changes["primary_key"] = primary
        if secondary is not None:
            changes["secondary_key"] = secondary
        if allow_tracing is not None:
            changes["allow_tracing"] = allow_tracing
        sub = state.update_subscription(existing.sid, if_match=call.if_match, **changes)
        return json_response(render(state, sub), status=200, etag=sub.etag)


def patch(call: Call):
    state = call.state
    if not call.if_match:
        raise ArmError(400, "ValidationError", "The If-Match header is required.")
    props = call.properties()
    changes: dict[str, Any] = {}
    if "scope" in props:
        changes["scope_kind"], changes["scope_id"] = parse_scope(state, props["scope"])
    if "ownerId" in props:
        changes["owner_id"] = parse_owner(state, props["ownerId"])
    if "displayName" in props:
        changes["display_name"] = _optional_str(props, "displayName", max_len=100)
    if props.get("state") is not None:
        changes["state"] = _state_value(props["state"])
    if "stateComment" in props:
        changes["state_comment"] = _optional_str(props, "stateComment")
    if "allowTracing" in props:
        if props["allowTracing"] is not None and not isinstance(props["allowTracing"], bool):
            raise validation_error("allowTracing must be true or false.")
        changes["allow_tracing"] = props["allowTracing"]
    if "expirationDate" in props:
        value = props["expirationDate"]
        if value is None:
            changes["expiration"] = None
        else:
            try:
                changes["expiration"] = parse_instant(str(value)).timestamp()
            except ValueError:
                raise validation_error("expirationDate must be an ISO 8601 date-time.") from None
    for name, attr in (("primaryKey", "primary_key"), ("secondaryKey", "secondary_key")):
        value = _optional_str(props, name, max_len=256, min_len=1)
        if value is not None:
            changes[attr] = value
    sub = state.update_subscription(call.params["sid"], if_match=call.if_match, **changes)
    return json_response(render(state, sub), status=200, etag=sub.etag)


def delete(call: Call):
    state = call.state
    if not call.if_match:
        raise ArmError(400, "ValidationError", "The If-Match header is required.")
    if state.find_subscription(call.params["sid"]) is None:
        return empty(204)
    state.delete_subscription(call.params["sid"], call.if_match)
    return empty(200)


def regenerate_primary(call: Call):
    call.state.regenerate_key(call.params["sid"], "primary")
    return empty(204)


def regenerate_secondary(call: Call):
    call.state.regenerate_key(call.params["sid"], "secondary")
    return empty(204)


def list_secrets(call: Call):
    sub = call.state.get_subscription(call.params["sid"])
    return json_response({"primaryKey": sub.primary_key, "secondaryKey": sub.secondary_key}, etag=sub.etag)


ROUTES = [
    ("GET", "/subscriptions", list_all),
    ("GET", "/subscriptions/{sid}", get),
    ("HEAD", "/subscriptions/{sid}", head),
    ("PUT", "/subscriptions/{sid}", put),
    ("PATCH", "/subscriptions/{sid}", patch),
    ("DELETE", "/subscriptions/{sid}", delete),
    ("POST", "/subscriptions/{sid}/regeneratePrimaryKey", regenerate_primary),
    ("POST", "/subscriptions/{sid}/regenerateSecondaryKey", regenerate_secondary),
    ("POST", "/subscriptions/{sid}/listSecrets", list_secrets),
    ("GET", "/products/{productId}/subscriptions", list_for_product),
    ("GET", "/users/{userId}/subscriptions", list_for_user),
    ("GET", "/users/{userId}/subscriptions/{sid}", get_for_user),
]
