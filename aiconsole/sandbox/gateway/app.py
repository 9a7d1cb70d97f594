"""The gateway's HTTP surface: a Starlette app on its own loopback port (``gateway_url``).

Thin by design: it reads the request (with a body-size cap, so a huge upload cannot tie up a
worker), hands it to ``GatewayPipeline`` and writes JSON or server-sent events back. The
self-hosted gateway health endpoint lives here too.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from aiconsole.sandbox.gateway.pipeline import MAX_BODY_BYTES, GatewayPipeline, IncomingRequest

STATUS_PATH = "/status-0123456789abcdef"


async def _read_body(request: Request) -> tuple[bytes, bool]:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return b"", True
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return b"", True
        chunks.append(chunk)
    return b"".join(chunks), False


def create_gateway_app(pipeline: GatewayPipeline) -> Starlette:
    """The data plane app serving every API path of the state, plus the health endpoint."""

    async def status(request: Request) -> Response:
        if pipeline.node is None:
            return Response(status_code=200)
        health = pipeline.node.health()
        return JSONResponse(health.body(), status_code=200 if health.healthy else 503)

    async def endpoint(request: Request) -> Response:
        body, too_large = await _read_body(request)
        incoming = IncomingRequest(
            method=request.method,
            path=request.url.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            query=dict(request.query_params),
            body=body,
            client_ip=request.client.host if request.client else "127.0.0.1",
            body_too_large=too_large,
        )
        outcome = await pipeline.handle(incoming)
        if outcome.events is not None:
            return StreamingResponse(_aiter(outcome.events), status_code=outcome.status,
                                     media_type="text/event-stream", headers=outcome.headers)
        return JSONResponse(outcome.json, status_code=outcome.status, headers=outcome.headers)

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    return Starlette(routes=[
        Route(STATUS_PATH, status, methods=["GET", "HEAD"]),
        Route("/{path:path}", endpoint, methods=methods),
    ])


async def _aiter(events):  # noqa: ANN001, ANN202 - a sync iterator of SSE frames
    for frame in events:
        yield frame
