"""Azure Monitor batch metrics (``POST /subscriptions/{sub}/metrics:getBatch``) over the store.

Answers for two resources, as the console's Azure adapter asks them in the cloud:
- the APIM service: platform metric ``Requests`` in ``Microsoft.ApiManagement/service``, split by
  ``GatewayResponseCode``, ``GatewayResponseCodeCategory`` and ``ApiId``;
- the Application Insights component: the custom metrics ``Total Tokens``, ``Prompt Tokens`` and
  ``Completion Tokens`` that ``llm-emit-token-metric`` writes, in the namespace the policy names
  (``API Management`` by default), split by whatever dimensions the policy emits.
The response shape is metricBatch 2024-02-01's, which ``MetricsClient.query_resources`` parses.
A bearer token is required (any value: this is loopback-only), as Azure requires one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aiconsole.sandbox.metrics.monitor_query import Query, QueryError, build_timeseries, parse_query
from aiconsole.sandbox.metrics.store import TOKEN_METRICS, MetricStore, code_category
from aiconsole.sandbox.state import SandboxState

log = logging.getLogger("aiconsole.sandbox.metrics")

APIM_NAMESPACE = "Microsoft.ApiManagement/service"
REQUEST_DIMENSIONS = ("GatewayResponseCode", "GatewayResponseCodeCategory", "ApiId")
DESCRIPTIONS = {
    "Requests": "Total number of gateway requests, split by response code and API.",
    "Total Tokens": "Prompt plus completion tokens served (llm-emit-token-metric).",
    "Prompt Tokens": "Prompt tokens served (llm-emit-token-metric).",
    "Completion Tokens": "Completion tokens served (llm-emit-token-metric).",
}


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


class MonitorView:
    """Reads the store for one batch query; kept apart from Starlette for direct testing."""

    def __init__(self, state: SandboxState, store: MetricStore) -> None:
        self.state = state
        self.store = store

    def _metric(self, resource_id: str, name: str, unit: str, timeseries: list[dict]) -> dict:
        return {
            "id": f"{resource_id}/providers/Microsoft.Insights/metrics/{name}",
            "type": "Microsoft.Insights/metrics",
            "name": {"value": name, "localizedValue": name},
            "displayDescription": DESCRIPTIONS.get(name, ""),
            "unit": unit,
            "timeseries": timeseries,
            "errorCode": "Success",
        }

    def _requests(self, query: Query) -> list[dict]:
        start, end = query.start.timestamp() // 60 * 60, query.end.timestamp()
        rows = (
            (minute, {"GatewayResponseCode": str(status), "GatewayResponseCodeCategory": code_category(status),
                      "ApiId": api}, (count, float(count), 1.0, 1.0))
            for minute, status, api, count in self.store.request_minutes(start, end)
        )
        return build_timeseries(query, rows, REQUEST_DIMENSIONS)

    def _tokens(self, query: Query, namespace: str, metric: str) -> list[dict]:
        start, end = query.start.timestamp() // 60 * 60, query.end.timestamp()
        rows = [(m, dict(dims), agg) for m, dims, agg in self.store.token_minutes(namespace, metric, start, end)]
        names: dict[str, str] = {}
        for _, dims, _ in rows:
            for n in dims:
                names.setdefault(n.lower(), n)
        for default in ("Subscription ID", "API ID", "Product ID"):
            names.setdefault(default.lower(), default)
        return build_timeseries(query, rows, names.values())

    def answer(self, resource_id: str, namespace: str, metric_names: list[str], query: Query) -> dict:
        svc = self.state.service
        rid = resource_id.lower()
        metrics: list[dict] = []
        if rid == svc.resource_id.lower():
            if namespace.lower() != APIM_NAMESPACE.lower():
                raise QueryError(f"Metric namespace {namespace!r} is not valid for this resource.")
            for name in metric_names:
                if name.lower() != "requests":
                    raise QueryError(f"Failed to find metric configuration for provider: {APIM_NAMESPACE}, metric: {name}")
                metrics.append(self._metric(svc.resource_id, "Requests", "Count", self._requests(query)))
            return self._value(svc.resource_id, APIM_NAMESPACE, svc.location, metrics, query)
        if rid == svc.app_insights_resource_id.lower():
            known = {m.lower(): m for m, _ in TOKEN_METRICS}
            for name in metric_names:
                canonical = known.get(name.lower())
                if canonical is None:
                    raise QueryError(f"Failed to find metric configuration for namespace: {namespace}, metric: {name}")
                metrics.append(self._metric(svc.app_insights_resource_id, canonical, "Count",
                                            self._tokens(query, namespace, canonical)))
            return self._value(svc.app_insights_resource_id, namespace, svc.location, metrics, query)
        raise QueryError(f"The resource {resource_id!r} was not found in this subscription.", "ResourceNotFound")

    @staticmethod
    def _value(resource_id: str, namespace: str, region: str, metrics: list[dict], query: Query) -> dict:
        interval = query.interval_text
        if query.interval_seconds is None:
            interval = f"PT{max(1, int((query.end - query.start).total_seconds() // 60))}M"
        return {
            "starttime": query.start.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "endtime": query.end.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "interval": interval,
            "namespace": namespace,
            "resourceregion": region.lower().replace(" ", ""),
            "resourceid": resource_id,
            "value": metrics,
        }


def create_monitor_app(state: SandboxState, store: MetricStore, now: Callable[[], datetime] | None = None) -> Starlette:
    view = MonitorView(state, store)
    clock_now = now or state.clock.now

    async def get_batch(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer ") or not auth[7:].strip():
            return _error(401, "InvalidAuthenticationToken", "Authentication failed: a bearer token is required.")
        if request.path_params["sub"].lower() != state.service.subscription_id.lower():
            return _error(403, "AuthorizationFailed", "The client does not have access to this subscription.")
        params = dict(request.query_params)
        if not params.get("metricnamespace") or not params.get("metricnames"):
            return _error(400, "BadRequest", "metricnamespace and metricnames are required.")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "BadRequest", "The request body must be JSON: {\"resourceids\": [...]}.")
        ids = body.get("resourceids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids) or len(ids) > 50:
            return _error(400, "BadRequest", "resourceids must be a list of 1 to 50 resource ids.")
        names = [n.replace("%2", ",").strip() for n in params["metricnames"].split(",") if n.strip()]
        try:
            query = parse_query(params, clock_now())
            values = [view.answer(rid, params["metricnamespace"], names, query) for rid in ids]
        except QueryError as exc:
            log.warning("monitor: refused query: %s", exc)
            return _error(400, exc.code, str(exc))
        return JSONResponse({"values": values})

    return Starlette(routes=[Route("/subscriptions/{sub}/metrics:getBatch", get_batch, methods=["POST"])])
