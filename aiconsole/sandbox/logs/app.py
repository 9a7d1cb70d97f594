"""Log Analytics' query API (``POST /v1/workspaces/{id}/query``) over the sandbox's gateway log.

Speaks what ``azure-monitor-query``'s ``LogsQueryClient`` sends and parses: a JSON body with
``query`` and an ISO-8601 ``timespan`` (``start/end``, ``start/duration`` or a duration back
from now, on the sandbox clock), a bearer token, and an answer of typed tables. Errors carry
Log Analytics' codes: 401 without a token, 404 for another workspace, 400 ``BadArgumentError``
with the inner syntax/semantic error for a query the interpreter does not take. Answers over
``MAX_ROWS`` are cut and flagged as a partial error, as the service does past its limit.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aiconsole.sandbox.clock import parse_instant, parse_iso_duration
from aiconsole.sandbox.logs.kql import KqlError, run
from aiconsole.sandbox.logs.table import COLUMNS, TABLE, gateway_log
from aiconsole.sandbox.metrics.store import MetricStore
from aiconsole.sandbox.state import SandboxState

log = logging.getLogger("aiconsole.sandbox.logs")

MAX_ROWS = 30_000


def _error(status: int, code: str, message: str, inner: str | None = None) -> JSONResponse:
    body: dict = {"error": {"code": code, "message": message}}
    if inner:
        body["error"]["innererror"] = {"code": inner, "message": message}
    return JSONResponse(body, status_code=status)


def _instant(text: str) -> datetime | None:
    try:
        return parse_instant(text)
    except ValueError:
        return None


def parse_timespan(text: str | None, now: datetime) -> tuple[datetime | None, datetime | None]:
    """``start/end``, ``start/duration`` or ``duration`` (back from now); None: the whole log."""
    if not text:
        return None, None
    first, sep, second = text.partition("/")
    if not sep:
        span = parse_iso_duration(first)
        if span is None:
            raise KqlError(f"'{text}' is not a timespan.")
        return now - span, now
    start = _instant(first)
    if start is None:
        raise KqlError(f"'{first}' is not an instant.")
    end = _instant(second)
    if end is None:
        span = parse_iso_duration(second)
        if span is None:
            raise KqlError(f"'{second}' is neither an instant nor a duration.")
        end = start + span
    return start, end


def _json(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def create_logs_app(state: SandboxState, store: MetricStore) -> Starlette:
    svc = state.service

    async def query(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer ") or not auth[7:].strip():
            return _error(401, "AuthorizationRequiredError", "Valid authentication was not provided.")
        workspace = request.path_params["workspace"]
        if workspace.lower() != svc.log_analytics_workspace_id:
            return _error(404, "WorkspaceNotFoundError", f"The workspace could not be found: {workspace[:64]}")
        if request.method == "GET":
            text, timespan = request.query_params.get("query"), request.query_params.get("timespan")
        else:
            try:
                body = await request.json()
            except ValueError:
                return _error(400, "BadArgumentError", "The request body must be JSON with a query.")
            if not isinstance(body, dict):
                return _error(400, "BadArgumentError", "The request body must be JSON with a query.")
            text, timespan = body.get("query"), body.get("timespan")
        if not isinstance(text, str) or not text.strip():
            return _error(400, "BadArgumentError", "The query is empty.")
        now = state.clock.now()
        try:
            start, end = parse_timespan(timespan if isinstance(timespan, str) else None, now)
            lo = None if start is None else start.timestamp() // 60 * 60
            hi = None if end is None else end.timestamp()
            columns, rows, cut = run(text, {TABLE: (COLUMNS, lambda: gateway_log(store, svc.resource_id, svc.location,
                                                                                  lo, hi))}, now, max_rows=MAX_ROWS)
        except KqlError as exc:
            log.warning("logs: refused query: %s", exc)
            return _error(400, "BadArgumentError", str(exc), exc.kind)
        names = list(columns)
        answer: dict = {"tables": [{"name": "PrimaryResult",
                                    "columns": [{"name": n, "type": columns[n]} for n in names],
                                    "rows": [[_json(r.get(n)) for n in names] for r in rows]}]}
        if cut:
            answer["error"] = {"code": "PartialError", "message": "There were some errors when processing your query.",
                               "details": [{"code": "EngineError", "message": f"Query result set has exceeded the "
                                            f"limit of {MAX_ROWS} rows; the answer is cut."}]}
        return JSONResponse(answer)

    return Starlette(routes=[Route("/v1/workspaces/{workspace}/query", query, methods=["GET", "POST"])])
