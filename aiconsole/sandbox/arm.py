"""The sandbox's management API: an ARM-shaped Starlette app over ``SandboxState``.

One catch-all route dispatches through a small case-insensitive router (ARM paths are
case-insensitive, and we want ARM's own 404/405 bodies rather than the framework's). Before a
handler runs, the request must carry ``api-version=2024-05-01`` and a bearer token (any value),
name this service's subscription, resource group and name, and pass the fault injector.
``/_sandbox/*`` is the sandbox's own control surface and needs no auth.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aiconsole.sandbox import arm_backends, arm_catalog, arm_gateways, arm_policies, arm_subscriptions
from aiconsole.sandbox.arm_common import API_VERSION, ArmError, Call, from_state_error
from aiconsole.sandbox.clock import parse_instant
from aiconsole.sandbox.faults import FaultsError
from aiconsole.sandbox.state import SandboxState, StateError

SERVICE_PREFIX = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)"
    r"/providers/microsoft\.apimanagement/service/(?P<svc>[^/]+)(?P<rest>(?:/.*)?)$",
    re.IGNORECASE,
)

SERVICE_LIST = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)(?:/resourcegroups/(?P<rg>[^/]+))?"
    r"/providers/microsoft\.apimanagement/service/?$",
    re.IGNORECASE,
)

Handler = Callable[[Call], Response]
log = logging.getLogger("aiconsole.sandbox.arm")


class Router:
    """Method + path template → handler, matched case-insensitively on literal segments."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, template: str, handler: Handler) -> None:
        pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template.rstrip("/"))) + "/?$"
        self._routes.append((method.upper(), re.compile(pattern, re.IGNORECASE), handler))

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        allowed = False
        for m, pattern, handler in self._routes:
            hit = pattern.match(path)
            if hit:
                if m == method:
                    return handler, hit.groupdict()
                allowed = True
        if allowed:
            raise ArmError(405, "MethodNotAllowed", f"The {method} method is not supported for this resource.")
        raise ArmError(404, "ResourceNotFound", "The requested resource was not found.")


def build_router() -> Router:
    router = Router()
    for module in (arm_backends, arm_catalog, arm_subscriptions, arm_policies, arm_gateways):  # arm_backends first: full backend shapes
        for method, template, handler in module.ROUTES:
            router.add(method, template, handler)
    return router


def _auth_error() -> ArmError:
    return ArmError(
        401,
        "AuthenticationFailed",
        "Authentication failed. The 'Authorization' header is missing or is not a bearer token.",
        headers={
            "WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com/common", '
            'error="invalid_token", error_description="The authentication failed because of missing '
            "'Authorization' header.\""
        },
    )


def _check_api_version(request: Request) -> None:
    version = request.query_params.get("api-version")
    if not version:
        raise ArmError(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    if version != API_VERSION:
        raise ArmError(
            400,
            "InvalidApiVersionParameter",
            f"The api-version '{version}' is invalid. The supported version is '{API_VERSION}'.",
        )


def _check_service(state: SandboxState, sub: str, rg: str, svc: str) -> None:
    service = state.service
    if sub.lower() != service.subscription_id.lower():
        raise ArmError(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")
    if rg.lower() != service.resource_group.lower():
        raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")
    if svc.lower() != service.name.lower():
        raise ArmError(
            404,
            "ResourceNotFound",
            f"The Resource 'Microsoft.ApiManagement/service/{svc}' under resource group '{rg}' was not found.",
        )


async def _apply_faults(state: SandboxState) -> None:
    faults = state.faults
    delay = faults.latency_seconds()
    if delay > 0:
        await asyncio.sleep(delay)
    if faults.roll_throttle():
        retry = faults.retry_after_seconds
        raise ArmError(
            429,
            "TooManyRequests",
            "The request is being throttled as the limit has been reached for operation type - "
            f"Read_ObservationWindow_00:05:00. Please retry after {retry} seconds.",
            headers={"Retry-After": str(retry)},
        )
    if faults.roll_error():
        raise ArmError(500, "InternalServerError", "An unexpected error occurred while processing the request.")


def create_management_app(state: SandboxState, info: Callable[[], dict[str, Any]] | None = None) -> Starlette:
    """The management app; ``info`` returns the start-up JSON object for ``/_sandbox/info``."""
    router = build_router()

    async def arm_endpoint(request: Request) -> Response:
        request_id = str(uuid.uuid4())
        try:
            response = await _dispatch(request)
        except ArmError as exc:
            response = exc.response()
        except StateError as exc:
            response = from_state_error(exc).response()
        except Exception:  # noqa: BLE001 - a sandbox bug must still answer like ARM, not crash
            log.exception("management request failed: %s %s", request.method, request.url.path)
            response = ArmError(500, "InternalServerError", "An unexpected error occurred in the sandbox.").response()
        if request.method == "HEAD" and response.status_code >= 400:
            response = Response(status_code=response.status_code, headers={
                k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")
            })
        response.headers["x-ms-request-id"] = request_id
        response.headers["x-ms-correlation-request-id"] = request.headers.get(
            "x-ms-correlation-request-id", request_id
        )
        return response

    async def _dispatch(request: Request) -> Response:
        hit = SERVICE_PREFIX.match(request.url.path)
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer ") or not auth[7:].strip():
            raise _auth_error()
        _check_api_version(request)
        if hit is None:
            listing = SERVICE_LIST.match(request.url.path)
            if listing is not None and request.method == "GET":
                return await _list_services(listing["sub"], listing["rg"])
            raise ArmError(404, "ResourceNotFound", "The requested resource was not found.")
        _check_service(state, hit["sub"], hit["rg"], hit["svc"])
        await _apply_faults(state)
        handler, params = router.match(request.method, hit["rest"] or "/")
        body = await request.body()
        return handler(Call(request=request, state=state, params=params, raw_body=body))

    async def _list_services(sub: str, rg: str | None) -> Response:
        """ApiManagementService_List / _ListByResourceGroup: this one service, where it lives."""
        service = state.service
        if sub.lower() != service.subscription_id.lower():
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")
        if rg is not None and rg.lower() != service.resource_group.lower():
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")
        await _apply_faults(state)
        return JSONResponse({"value": [arm_catalog.render_service(state)]})

    async def info_endpoint(request: Request) -> Response:
        return JSONResponse(info() if info else {})

    async def faults_endpoint(request: Request) -> Response:
        if request.method == "POST":
            try:
                data = await request.json()
            except ValueError:
                return ArmError(400, "InvalidRequestContent", "The request content is not valid JSON.").response()
            if not isinstance(data, dict):
                return ArmError(400, "InvalidRequestContent", "The request content must be a JSON object.").response()
            try:
                return JSONResponse(state.faults.update(**data))
            except FaultsError as exc:
                return ArmError(400, "ValidationError", str(exc)).response()
        return JSONResponse(state.faults.snapshot())

    async def clock_endpoint(request: Request) -> Response:
        if request.method == "POST":
            try:
                data = await request.json()
            except ValueError:
                return ArmError(400, "InvalidRequestContent", "The request content is not valid JSON.").response()
            if not isinstance(data, dict):
                return ArmError(400, "InvalidRequestContent", "The request content must be a JSON object.").response()
            try:
                if "set" in data:
                    state.clock.set(parse_instant(str(data["set"])))
                if "advance_seconds" in data:
                    seconds = data["advance_seconds"]
                    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
                        raise ValueError("advance_seconds must be a number")
                    state.clock.advance(float(seconds))
            except ValueError as exc:
                return ArmError(400, "ValidationError", f"Invalid clock change: {exc}.").response()
        return JSONResponse(state.clock.snapshot())

    routes = [
        Route("/_sandbox/info", info_endpoint, methods=["GET"]),
        Route("/_sandbox/faults", faults_endpoint, methods=["GET", "POST"]),
        Route("/_sandbox/clock", clock_endpoint, methods=["GET", "POST"]),
        Route("/{path:path}", arm_endpoint, methods=["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"]),
    ]
    return Starlette(routes=routes)
