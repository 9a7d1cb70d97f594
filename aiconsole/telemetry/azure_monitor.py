"""Azure Monitor adapter: platform ``Requests`` of the APIM service and the token metrics in
Application Insights, per minute, through ``azure-monitor-querymetrics``'s ``MetricsClient``.

Queries (``metrics:getBatch``, PT1M, aggregation Total):
- APIM resource, namespace ``Microsoft.ApiManagement/service``, metric ``Requests``, filter
  ``GatewayResponseCode eq '*' and ApiId eq '*'`` — refusals per API (this metric has no
  subscription dimension, so 429s per subscription need the logs, see ``gateway_logs``);
- Application Insights resource, namespace ``API Management`` (what ``llm-emit-token-metric``
  uses by default), metrics ``Total Tokens``, ``Prompt Tokens``, ``Completion Tokens``, filter
  ``Subscription ID eq '*' and API ID eq '*' and Product ID eq '*'`` (falling back to the
  subscription alone when the policy emits fewer dimensions).
``top`` (``max_results``) starts at ``DEFAULT_TOP`` and is raised fourfold (up to ``MAX_TOP``)
while an answer comes back full, so a series is never cut without the snapshot saying
``truncated``.

Cloud metrics arrive about a minute late: only complete minutes up to ``now - ingestion_delay``
are used, and the snapshot's data age says so. ``now`` is the gateway's clock (the sandbox's
when on a sandbox), so tests can move time instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from aiconsole.telemetry.port import HISTORY_MINUTES, SeriesKey, TelemetryError, TrafficSnapshot, Usage

APIM_NAMESPACE = "Microsoft.ApiManagement/service"
TOKEN_NAMESPACE = "API Management"
TOKEN_METRICS = ("Total Tokens", "Prompt Tokens", "Completion Tokens")
TOKEN_FILTER = "Subscription ID eq '*' and API ID eq '*' and Product ID eq '*'"
TOKEN_FILTER_SUBSCRIPTION_ONLY = "Subscription ID eq '*'"
REQUESTS_FILTER = "GatewayResponseCode eq '*' and ApiId eq '*'"
DEFAULT_TOP = 1000
MAX_TOP = 20000
METRICS_SCOPE = "https://metrics.monitor.azure.com/.default"


def floor_minute(dt: datetime) -> datetime:
    return dt.replace(second=0, microsecond=0)


def monitor_client(endpoint: str, credential: Any, **kwargs: Any):
    """A ``MetricsClient`` whose bearer policy allows plain HTTP to loopback hosts only."""
    from azure.monitor.querymetrics import MetricsClient

    from aiconsole.backends.azure_apim import LoopbackAwareAuthPolicy
    from aiconsole.backends.urls import check_url

    endpoint = check_url(endpoint, what="Azure Monitor endpoint")
    kwargs.setdefault("retry_total", 1)
    return MetricsClient(endpoint, credential, authentication_policy=LoopbackAwareAuthPolicy(credential, METRICS_SCOPE),
                         **kwargs)


class AzureMonitorSource:
    """Per-minute metrics for one APIM service and its Application Insights component."""

    name = "azure_monitor"

    def __init__(self, client: Any, *, resource_id: str, app_insights_resource_id: str | None,
                 now: Callable[[], datetime], ingestion_delay: float = 60.0, token_namespace: str = TOKEN_NAMESPACE,
                 logs: Any = None, top: int = DEFAULT_TOP, max_top: int = MAX_TOP,
                 wall: Callable[[], datetime] | None = None) -> None:
        self.client = client
        self.resource_id = resource_id
        self.app_insights_resource_id = app_insights_resource_id
        self.now = now
        self.wall = wall or now
        self.ingestion_delay = ingestion_delay
        self.token_namespace = token_namespace
        self.logs = logs
        self.top = top
        self.max_top = max(top, max_top)
        self._token_filter = TOKEN_FILTER

    # -- querying --------------------------------------------------------------------------
    def _query(self, resource_id: str, namespace: str, names: list[str], start: datetime, end: datetime,
               flt: str, *, granularity: timedelta = timedelta(minutes=1),
               aggregations: tuple[str, ...] = ("Total",)) -> tuple[list, bool]:
        """One batch query; returns (metrics, truncated), raising ``top`` while an answer is full."""
        from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

        top = self.top
        while True:
            try:
                [result] = self.client.query_resources(
                    resource_ids=[resource_id], metric_namespace=namespace, metric_names=names,
                    timespan=(start, end), granularity=granularity, aggregations=list(aggregations),
                    filter=flt, max_results=top, order_by="Total desc",
                )
            except HttpResponseError as exc:
                raise _monitor_error(exc, namespace) from None
            except (ServiceRequestError, ServiceResponseError) as exc:
                raise TelemetryError(f"Cannot reach Azure Monitor ({type(exc).__name__}).",
                                     "Showing the last numbers; retrying with backoff.") from None
            except ValueError:
                raise TelemetryError("Azure Monitor answered with an unexpected shape.") from None
            full = any(len(m.timeseries) >= top for m in result.metrics)
            if not full or top >= self.max_top:
                return list(result.metrics), full
            top = min(self.max_top, top * 4)

    def token_metrics(self, start: datetime, end: datetime, *, granularity: timedelta = timedelta(minutes=1),
                      aggregations: tuple[str, ...] = ("Total",)) -> tuple[list, bool]:
        """The three token metrics split by subscription, product and API (by subscription alone
        when the emit policy writes fewer dimensions); (metrics, truncated)."""
        if not self.app_insights_resource_id:
            return [], False
        try:
            return self._query(self.app_insights_resource_id, self.token_namespace, list(TOKEN_METRICS), start, end,
                               self._token_filter, granularity=granularity, aggregations=aggregations)
        except TelemetryError as exc:
            if "dimension" in exc.message.lower() and self._token_filter != TOKEN_FILTER_SUBSCRIPTION_ONLY:
                self._token_filter = TOKEN_FILTER_SUBSCRIPTION_ONLY
                return self.token_metrics(start, end, granularity=granularity, aggregations=aggregations)
            raise

    def sample(self, window_seconds: float) -> TrafficSnapshot:
        now = self.now()
        end = floor_minute(now - timedelta(seconds=self.ingestion_delay))
        window_minutes = max(1, int(-(-window_seconds // 60)))
        span = max(window_minutes, HISTORY_MINUTES)
        start = end - timedelta(minutes=span)
        slots = [start + timedelta(minutes=i) for i in range(span)]
        index = {s: i for i, s in enumerate(slots)}
        window_first = span - window_minutes

        token_metrics, t_trunc = self.token_metrics(start, end)
        request_metrics, r_trunc = self._query(self.resource_id, APIM_NAMESPACE, ["Requests"], start, end,
                                               REQUESTS_FILTER)
        usages: dict[SeriesKey, Usage] = {}
        per_minute: dict[SeriesKey, list[float]] = {}
        attr = {"Total Tokens": "tokens", "Prompt Tokens": "prompt_tokens", "Completion Tokens": "completion_tokens"}
        for metric in token_metrics:
            field = attr.get(metric_name(metric))
            if field is None:
                continue
            for ts in metric.timeseries:
                key = series_key(ts)
                u = usages.get(key)
                if u is None:
                    u = usages[key] = Usage(key, history=[0.0] * HISTORY_MINUTES,
                                            refused_history=[0.0] * HISTORY_MINUTES)
                values = _per_slot(ts.data, index, span)
                setattr(u, field, getattr(u, field) + sum(values[window_first:]) / window_minutes)
                if field == "tokens":
                    per_minute[key] = [a + b for a, b in zip(per_minute.get(key, [0.0] * span), values)]
        for key, values in per_minute.items():
            usages[key].history = values[-HISTORY_MINUTES:]

        api_statuses: dict[str, dict[int, float]] = {}
        for metric in request_metrics:
            for ts in metric.timeseries:
                md = {k.lower(): v for k, v in (ts.metadata_values or {}).items()}
                try:
                    status = int(md.get("gatewayresponsecode", "0") or 0)
                except ValueError:
                    continue
                values = _per_slot(ts.data, index, span)
                api = md.get("apiid", "")
                by = api_statuses.setdefault(api, {})
                by[status] = by.get(status, 0.0) + sum(values[window_first:]) / window_minutes

        warnings = []
        per_sub = False
        if self.logs is not None:
            try:
                refusals = self.logs.refusals(end - timedelta(minutes=window_minutes), end)
            except TelemetryError as exc:
                warnings.append(f"Gateway logs: {exc.message}")
            else:
                per_sub = True
                for key, throttles in refusals.items():
                    u = usages.get(key)
                    if u is None:
                        u = usages[key] = Usage(key, history=[0.0] * HISTORY_MINUTES,
                                                refused_history=[0.0] * HISTORY_MINUTES)
                    for tk, count in throttles.items():
                        rate = count / window_minutes
                        u.throttles[tk] = u.throttles.get(tk, 0.0) + rate
                        u.statuses[tk.status] = u.statuses.get(tk.status, 0.0) + rate
        if not per_sub:
            warnings.append("Azure Monitor's Requests metric has no subscription dimension: refusals are per API "
                            "(configure a Log Analytics workspace for 429s per subscription).")
        truncated = t_trunc or r_trunc
        if truncated:
            warnings.append("Azure Monitor returned as many series as asked for; some may be missing.")
        wall = self.now()
        return TrafficSnapshot(
            source=self.name, window_seconds=window_minutes * 60.0, observed_at=end,
            data_age_seconds=max(0.0, (wall - end).total_seconds()), delay_note="Azure Monitor, ~1 min delay",
            usages=list(usages.values()), per_subscription_status=per_sub, api_statuses=api_statuses,
            warnings=warnings, truncated=truncated,
        )

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if close is not None:
            close()
        if self.logs is not None:
            self.logs.close()


def metric_name(metric: Any) -> str:
    """A metric's name, whether the SDK gives a string or a localizable name object."""
    name = metric.name
    return name if isinstance(name, str) else str(getattr(name, "value", name))


def series_key(ts: Any) -> SeriesKey:
    """The (subscription, product, API) of a token time series, from its dimension values."""
    md = {k.lower(): v for k, v in (ts.metadata_values or {}).items()}
    return SeriesKey(md.get("subscription id", ""), md.get("product id", ""), md.get("api id", ""))


def _per_slot(points: list, index: dict[datetime, int], span: int) -> list[float]:
    values = [0.0] * span
    for p in points or ():
        ts = p.timestamp
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=timezone.utc)
        i = index.get(floor_minute(ts.astimezone(timezone.utc)))
        if i is not None and p.total:
            values[i] += max(0.0, float(p.total))
    return values


def _monitor_error(exc: Any, namespace: str) -> TelemetryError:
    """One sentence for an Azure Monitor error: RBAC, missing resource, bad query, throttling."""
    status = getattr(exc, "status_code", None)
    message = str(getattr(exc, "message", "") or "").splitlines()[0][:200] if getattr(exc, "message", None) else ""
    if status in (401, 403):
        return TelemetryError(f"Azure Monitor refused the query ({status}).",
                              "Reading metrics needs Microsoft.Insights/metrics/read on the resource "
                              "(e.g. the Monitoring Reader role).")
    if status == 404:
        return TelemetryError("Azure Monitor does not know the resource.", "Check the profile's resource ids.")
    if status == 429:
        return TelemetryError("Azure Monitor is throttling metric queries (429).", "Retrying with backoff.")
    return TelemetryError(f"Azure Monitor answered {status} for {namespace}: {message}".rstrip(": "))
