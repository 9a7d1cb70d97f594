"""Run-time control of traffic and consumers, served under the management URL.

``GET/POST /_sandbox/traffic`` (``{"enabled": bool, "rps": n}``) and
``GET/POST /_sandbox/consumers/{sid}`` (``{"slot": "secondary"}``, ``{"enabled": false}``,
``{"refresh": true}``). The management app is wrapped by a tiny ASGI dispatcher, so these
paths sit next to ``/_sandbox/faults`` and ``/_sandbox/clock`` without touching its router.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

CONTROL_PREFIXES = ("/_sandbox/traffic", "/_sandbox/consumers")


def _bad(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def create_control_app(holder: Any) -> Starlette:
    """``holder`` has ``traffic`` (a TrafficGenerator or None) and async ``set_traffic(enabled, rps)``."""

    async def _json(request: Request) -> dict[str, Any] | Response:
        try:
            data = await request.json()
        except ValueError:
            return _bad(400, "InvalidRequestContent", "The request content is not valid JSON.")
        if not isinstance(data, dict):
            return _bad(400, "InvalidRequestContent", "The request content must be a JSON object.")
        return data

    async def traffic(request: Request) -> Response:
        if request.method == "POST":
            data = await _json(request)
            if isinstance(data, Response):
                return data
            enabled, rps = data.get("enabled"), data.get("rps")
            if enabled is not None and not isinstance(enabled, bool):
                return _bad(400, "ValidationError", "enabled must be true or false.")
            if rps is not None and (isinstance(rps, bool) or not isinstance(rps, (int, float)) or not 0 <= rps <= 1000):
                return _bad(400, "ValidationError", "rps must be a number between 0 and 1000.")
            await holder.set_traffic(enabled, rps)
        return JSONResponse(holder.traffic_snapshot())

    async def consumer(request: Request) -> Response:
        sid = request.path_params["sid"]
        generator = holder.traffic
        if request.method == "GET":
            found = generator.consumers.get(sid) if generator else None
            if found is None:
                return _bad(404, "NotFound", "No simulated consumer for this subscription.")
            return JSONResponse(found.describe())
        data = await _json(request)
        if isinstance(data, Response):
            return data
        if generator is None:
            generator = await holder.ensure_traffic()
        try:
            return JSONResponse(generator.configure_consumer(sid, data))
        except KeyError:
            return _bad(404, "NotFound", "Subscription not found.")
        except (TypeError, ValueError) as exc:
            return _bad(400, "ValidationError", str(exc))

    return Starlette(routes=[
        Route("/_sandbox/traffic", traffic, methods=["GET", "POST"]),
        Route("/_sandbox/consumers/{sid}", consumer, methods=["GET", "POST"]),
    ])


ASGIApp = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]


def with_control(inner: ASGIApp, control: ASGIApp) -> ASGIApp:
    """Send the control paths to ``control`` and everything else to ``inner``."""

    async def app(scope: dict, receive, send) -> None:  # noqa: ANN001
        if scope.get("type") == "http" and str(scope.get("path", "")).startswith(CONTROL_PREFIXES):
            await control(scope, receive, send)
        else:
            await inner(scope, receive, send)

    return app
