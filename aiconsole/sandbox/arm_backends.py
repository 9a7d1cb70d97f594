"""Backends and named values with the whole 2024-05-01 contract: pools, circuit breakers, Key Vault.

``arm_catalog`` renders the basic fields; these routes are matched first and add what the
console's ``:backends`` and ``:auth`` views read: ``type``, ``pool.services`` (ARM ids with
priority and weight), ``circuitBreaker.rules``, ``credentials`` and a named value's
``keyVault``. Writes (PUT, PATCH, DELETE with If-Match) follow ``apimbackends.json``: 201 on
create, 200 on update (PUT and PATCH answer the entity and its ETag), 412 on a stale ETag, 204
when deleting what is not there.
"""

from __future__ import annotations

from typing import Any

from aiconsole.sandbox.arm_catalog import BACKEND_FIELDS, NAMED_VALUE_FIELDS
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
from aiconsole.sandbox.seed_backends import BackendEntity
from aiconsole.sandbox.state import NamedValue, SandboxState, check_if_match

MAX_POOL = 30


def render_backend(state: SandboxState, b: Any) -> dict[str, Any]:
    kind = getattr(b, "kind", "Single")
    props: dict[str, Any] = {
        "title": b.title,
        "description": b.description or None,
        "type": kind,
        "url": b.url or None,
        "protocol": b.protocol,
        "resourceId": getattr(b, "resource_id", None),
        "credentials": getattr(b, "credentials", None),
        "tls": {"validateCertificateChain": True, "validateCertificateName": True} if kind == "Single" else None,
    }
    rules = getattr(b, "breaker_rules", None)
    if rules:
        props["circuitBreaker"] = {"rules": rules}
    if kind == "Pool":
        props["pool"] = {"services": [
            {k: v for k, v in {"id": state.arm_id(f"/backends/{m['id']}"), "priority": m.get("priority"),
                               "weight": m.get("weight")}.items() if v is not None}
            for m in getattr(b, "pool", [])
        ]}
    body = resource(state, "backends", f"/backends/{b.bid}", b.bid, props)
    if kind == "Pool":
        # The swagger requires url and protocol on every backend (Microsoft's example answers null,
        # which its own schema rejects): a pool answers its first member's URL and http.
        first = state.backends.get(b.pool[0]["id"]) if getattr(b, "pool", None) else None
        body["properties"]["url"] = b.url or getattr(first, "url", None) or "https://pool.invalid"
        body["properties"]["protocol"] = "http"
    return body


def render_named_value(state: SandboxState, nv: NamedValue) -> dict[str, Any]:
    vault = getattr(nv, "key_vault_secret", None)
    props: dict[str, Any] = {
        "displayName": nv.display_name,
        "value": None if (nv.secret or vault) else nv.value,
        "tags": list(nv.tags),
        "secret": nv.secret,
        "provisioningState": "Succeeded",
    }
    if vault:
        props["keyVault"] = {"secretIdentifier": vault, "lastStatus": {"code": "Success", "timeStampUtc": "2026-01-01T00:00:00Z"}}
    return resource(state, "namedValues", f"/namedValues/{nv.nid}", nv.nid, props)


def list_backends(call: Call):
    state = call.state
    with state.lock:
        items = list(state.backends.values())
    return paged(call, items, lambda b: render_backend(state, b), fields=BACKEND_FIELDS)


def get_backend(call: Call):
    b = call.state.get_backend(call.params["backendId"])
    return json_response(render_backend(call.state, b), etag=b.etag)


def head_backend(call: Call):
    return empty(200, etag=call.state.get_backend(call.params["backendId"]).etag)


def _pool(state: SandboxState, pool: Any) -> list[dict[str, Any]]:
    services = (pool or {}).get("services") if isinstance(pool, dict) else None
    if not isinstance(services, list) or not services or len(services) > MAX_POOL:
        raise validation_error(f"A pool needs 'pool.services' with 1 to {MAX_POOL} backends.")
    out = []
    for item in services:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise validation_error("Each pool service needs the ARM 'id' of a backend.")
        rel = relative_id(state, item["id"])
        parts = [p for p in rel.split("/") if p]
        if len(parts) != 2 or parts[0].lower() != "backends":
            raise validation_error(f"'{item['id']}' is not the id of a backend of this service.")
        member = state.get_backend(parts[1])
        if getattr(member, "kind", "Single") == "Pool":
            raise validation_error("A pool may only contain single backends.")
        entry: dict[str, Any] = {"id": member.bid}
        for key in ("priority", "weight"):
            value = item.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100):
                raise validation_error(f"'{key}' must be an integer between 0 and 100.")
            entry[key] = value
        out.append(entry)
    return out


def _apply(state: SandboxState, b: BackendEntity, props: dict[str, Any]) -> None:
    kind = props.get("type", b.kind) or "Single"
    if kind not in ("Single", "Pool"):
        raise validation_error("'type' must be Single or Pool.")
    b.kind = kind
    for key, attr in (("title", "title"), ("description", "description"), ("url", "url"), ("protocol", "protocol"),
                      ("resourceId", "resource_id")):
        if key in props:
            setattr(b, attr, props[key] if props[key] is not None else ("" if attr in ("url", "description") else None))
    if "credentials" in props:
        b.credentials = props["credentials"] if isinstance(props["credentials"], dict) else None
    if "circuitBreaker" in props:
        rules = (props["circuitBreaker"] or {}).get("rules") or []
        if not isinstance(rules, list) or len(rules) > 15 or not all(isinstance(r, dict) for r in rules):
            raise validation_error("'circuitBreaker.rules' must be a list of at most 15 rules.")
        b.breaker_rules = rules
    if kind == "Pool":
        b.pool = _pool(state, props.get("pool") if "pool" in props else {"services": [
            {"id": state.arm_id(f"/backends/{m['id']}"), "priority": m.get("priority"), "weight": m.get("weight")}
            for m in b.pool]})
    elif not b.url or b.protocol not in ("http", "soap"):
        raise validation_error("A single backend needs 'url' and 'protocol' (http or soap).")


def put_backend(call: Call):
    state = call.state
    bid = call.params["backendId"]
    props = call.properties()
    with state.lock:
        existing = state.backends.get(bid)
        if existing is not None:
            check_if_match(existing.etag, call.if_match)
        entity = BackendEntity(bid=bid, url="", protocol="http", description="", version=0)
        _apply(state, entity, props)
        entity.capacity_tpm = getattr(existing, "capacity_tpm", None)
        entity.version = state.next_version()
        state.backends[bid] = entity
    return json_response(render_backend(state, entity), status=200 if existing is not None else 201, etag=entity.etag)


def patch_backend(call: Call):
    state = call.state
    props = call.properties()
    with state.lock:
        current = state.get_backend(call.params["backendId"])
        check_if_match(current.etag, call.if_match, required=True)
        entity = current if isinstance(current, BackendEntity) else BackendEntity(
            bid=current.bid, url=current.url, protocol=current.protocol, description=current.description,
            version=current.version, title=current.title)
        _apply(state, entity, props)
        entity.version = state.next_version()
        state.backends[entity.bid] = entity
    return json_response(render_backend(state, entity), etag=entity.etag)


def delete_backend(call: Call):
    state = call.state
    with state.lock:
        try:
            current = state.get_backend(call.params["backendId"])
        except Exception:  # noqa: BLE001 - deleting what is not there is a 204 in ARM
            return empty(204)
        check_if_match(current.etag, call.if_match, required=True)
        users = [b.bid for b in state.backends.values() if any(m["id"] == current.bid for m in getattr(b, "pool", []))]
        if users:
            raise ArmError(409, "Conflict", f"Backend '{current.bid}' is a member of pool '{users[0]}'.")
        del state.backends[current.bid]
    return empty(200)


def list_named_values(call: Call):
    state = call.state
    with state.lock:
        items = list(state.named_values.values())
    return paged(call, items, lambda n: render_named_value(state, n), fields=NAMED_VALUE_FIELDS)


def get_named_value(call: Call):
    nv = call.state.get_named_value(call.params["namedValueId"])
    return json_response(render_named_value(call.state, nv), etag=nv.etag)


ROUTES = [
    ("GET", "/backends", list_backends),
    ("GET", "/backends/{backendId}", get_backend),
    ("HEAD", "/backends/{backendId}", head_backend),
    ("PUT", "/backends/{backendId}", put_backend),
    ("PATCH", "/backends/{backendId}", patch_backend),
    ("DELETE", "/backends/{backendId}", delete_backend),
    ("GET", "/namedValues", list_named_values),
    ("GET", "/namedValues/{namedValueId}", get_named_value),
]
