"""What every management handler shares: the request wrapper, ARM errors, paging, responses.

ARM answers errors as ``{"error": {"code", "message", "details"?}}``, pages lists with an
absolute ``nextLink`` that repeats the query, and tags entities with an ``ETag`` header; these
helpers keep those rules in one place so that each resource module only describes its shapes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from aiconsole.sandbox.odata import Field, FilterError, compile_filter
from aiconsole.sandbox.state import SandboxState, StateError

API_VERSION = "2024-05-01"
PAGE_SIZE = 100


class ArmError(Exception):
    """An ARM error response: HTTP status, error code, plain message, optional details."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def from_state_error(exc: StateError) -> ArmError:
    return ArmError(exc.status, exc.code, str(exc))


def not_found(what: str) -> ArmError:
    return ArmError(404, "ResourceNotFound", f"{what} not found.")


def validation_error(message: str, details: list[dict[str, Any]] | None = None) -> ArmError:
    return ArmError(400, "ValidationError", message, details)


@dataclass
class Call:
    """One management request after routing: the state, path ids, query, headers and body."""

    request: Request
    state: SandboxState
    params: dict[str, str]
    raw_body: bytes

    @property
    def query(self):
        return self.request.query_params

    def header(self, name: str) -> str | None:
        return self.request.headers.get(name)

    @property
    def if_match(self) -> str | None:
        return self.request.headers.get("if-match")

    def json(self) -> dict[str, Any]:
        """The JSON object body; malformed JSON or a non-object answer 400 like ARM."""
        if not self.raw_body.strip():
            return {}
        try:
            data = json.loads(self.raw_body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ArmError(400, "InvalidRequestContent", f"The request content is not valid JSON: {exc}.") from None
        if not isinstance(data, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content must be a JSON object.")
        return data

    def properties(self, *, required: bool = True) -> dict[str, Any]:
        body = self.json()
        props = body.get("properties")
        if props is None:
            if required:
                raise validation_error("The request body must have a 'properties' object.")
            return {}
        if not isinstance(props, dict):
            raise validation_error("'properties' must be a JSON object.")
        return props

    def base_url(self) -> str:
        url = self.request.url
        return f"{url.scheme}://{url.netloc}"


def json_response(body: Any, status: int = 200, etag: str | None = None) -> JSONResponse:
    headers = {"ETag": etag} if etag else None
    return JSONResponse(body, status_code=status, headers=headers)


def empty(status: int, etag: str | None = None) -> Response:
    headers = {"ETag": etag} if etag else {}
    return Response(status_code=status, headers=headers)


def _int_param(call: Call, name: str) -> int | None:
    raw = call.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise validation_error(f"'{name}' must be a non-negative integer.") from None
    if value < 0 or (name == "$top" and value == 0):
        raise validation_error(f"'{name}' must be a {'positive' if name == '$top' else 'non-negative'} integer.")
    return value


def paged(
    call: Call,
    items: Iterable[Any],
    render: Callable[[Any], dict[str, Any]],
    *,
    fields: dict[str, Field] | None = None,
    with_count: bool = True,
) -> JSONResponse:
    """Filter, page and render a list the way APIM does.

    ``$top`` sets the page size (at most 100); ``$skip`` where to start; ``nextLink`` is absolute
    and keeps every other query parameter (api-version, $filter, $top) so a client can follow it
    blindly; ``count`` is the number of matching items.
    """
    text = call.query.get("$filter")
    if text and fields is None:
        raise validation_error("This list does not support $filter.")
    try:
        predicate = compile_filter(text, fields or {})
    except FilterError as exc:
        raise validation_error(str(exc)) from None
    top = _int_param(call, "$top")
    skip = _int_param(call, "$skip") or 0
    size = min(top or PAGE_SIZE, PAGE_SIZE)
    matched = [item for item in items if predicate(item)] if text else list(items)
    window = matched[skip : skip + size]
    body: dict[str, Any] = {"value": [render(item) for item in window]}
    if with_count:
        body["count"] = len(matched)
    if skip + size < len(matched):
        query = [(k, v) for k, v in call.query.multi_items() if k != "$skip"]
        query.append(("$skip", str(skip + size)))
        if top is None:
            query.append(("$top", str(size)))
        body["nextLink"] = f"{call.base_url()}{call.request.url.path}?{urlencode(query)}"
    return JSONResponse(body)


def prune(data: dict[str, Any]) -> dict[str, Any]:
    """Drop ``None`` values: APIM leaves unset properties out of its JSON."""
    return {k: v for k, v in data.items() if v is not None}


def resource(state: SandboxState, kind: str, path: str, name: str, properties: dict[str, Any]) -> dict[str, Any]:
    """The ARM envelope every APIM child resource has: id, type, name, properties."""
    return {
        "id": state.arm_id(path),
        "type": f"Microsoft.ApiManagement/service/{kind}",
        "name": name,
        "properties": prune(properties),
    }


def relative_id(state: SandboxState, value: str) -> str:
    """Strip the service prefix from an ARM id (case-insensitively); ``/users/x`` stays as is."""
    prefix = state.arm_id()
    if value.lower().startswith(prefix.lower()):
        return value[len(prefix) :]
    if value.lower().startswith("/subscriptions/"):
        raise validation_error("The id must refer to this API Management service.")
    return value if value.startswith("/") else "/" + value
