"""Token usage over a closed window [start, end), for cross-charging, from Azure Monitor.

Live views want rates; a usage report wants *totals* between two dates. This reader asks the
metrics batch API (Azure, or the sandbox's compatible endpoint) for the token metrics that
``llm-emit-token-metric`` writes into Application Insights — ``Total Tokens`` (aggregations
Total and Count: the count is the number of requests that consumed tokens), ``Prompt Tokens``
and ``Completion Tokens`` — split by ``Subscription ID``, ``Product ID`` and ``API ID``, and
sums every point in the window. Refused requests per subscription are not in any metric
(the platform ``Requests`` metric has no subscription dimension): they come from the gateway
log (``GatewayLogs.refusals``) when a Log Analytics workspace is configured, else stay unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiconsole.telemetry.port import SeriesKey, TelemetryError

TOKEN_FILTER = "Subscription ID eq '*' and Product ID eq '*' and API ID eq '*'"
MAX_SPAN = timedelta(days=30)
TOP = 5000


@dataclass
class UsageRecord:
    """What one (subscription, product, API) used in the window."""

    key: SeriesKey
    prompt_tokens: float = 0.0
    completion_tokens: float = 0.0
    total_tokens: float = 0.0
    requests: float = 0.0  # requests that consumed tokens (successful)
    refused: float | None = None  # 401/403/429, when the source can attribute them
    refused_by_status: dict[int, float] = field(default_factory=dict)


@dataclass
class UsageWindow:
    start: datetime
    end: datetime
    records: list[UsageRecord]
    refusals_known: bool
    notes: list[str] = field(default_factory=list)
    truncated: bool = False


def _granularity(start: datetime, end: datetime) -> timedelta:
    return timedelta(hours=1) if end - start >= timedelta(hours=6) else timedelta(minutes=1)


class UsageWindowReader:
    """Totals per series from a ``MetricsClient`` (``query_resources``) and optional ``GatewayLogs``."""

    def __init__(self, client: Any, app_insights_resource_id: str | None, *, namespace: str = "API Management",
                 logs: Any = None) -> None:
        self.client = client
        self.app_insights_resource_id = app_insights_resource_id
        self.namespace = namespace
        self.logs = logs

    @classmethod
    def from_source(cls, source: Any) -> "UsageWindowReader":
        """Built from the telemetry port's ``AzureMonitorSource`` (same client, resource ids, logs)."""
        return cls(source.client, source.app_insights_resource_id, namespace=source.token_namespace, logs=source.logs)

    def _query(self, names: list[str], aggregations: list[str], start: datetime, end: datetime) -> tuple[list, bool]:
        from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

        from aiconsole.telemetry.azure_monitor import _monitor_error

        try:
            [result] = self.client.query_resources(
                resource_ids=[self.app_insights_resource_id], metric_namespace=self.namespace, metric_names=names,
                timespan=(start, end), granularity=_granularity(start, end), aggregations=aggregations,
                filter=TOKEN_FILTER, max_results=TOP, order_by="Total desc")
        except HttpResponseError as exc:
            raise _monitor_error(exc, self.namespace) from None
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise TelemetryError(f"Cannot reach Azure Monitor ({type(exc).__name__}).", "Try again.") from None
        metrics = list(result.metrics)
        return metrics, any(len(m.timeseries) >= TOP for m in metrics)

    def read(self, start: datetime, end: datetime) -> UsageWindow:
        if end <= start:
            raise TelemetryError("The window ends before it starts.", "Give --from before --to.")
        if end - start > MAX_SPAN:
            raise TelemetryError("Azure Monitor answers at most 30 days per query.", "Split the period.")
        if not self.app_insights_resource_id:
            raise TelemetryError("This connection names no Application Insights component for token metrics.",
                                 "Set app_insights_resource_id in the profile.")
        metrics, truncated = self._query(["Total Tokens", "Prompt Tokens", "Completion Tokens"], ["Total", "Count"],
                                          start, end)
        records: dict[SeriesKey, UsageRecord] = {}
        attr = {"total tokens": "total_tokens", "prompt tokens": "prompt_tokens", "completion tokens": "completion_tokens"}
        for metric in metrics:
            name = metric.name if isinstance(metric.name, str) else getattr(metric.name, "value", str(metric.name))
            field_name = attr.get(str(name).lower())
            if field_name is None:
                continue
            for ts in metric.timeseries:
                md = {k.lower(): v for k, v in (ts.metadata_values or {}).items()}
                key = SeriesKey(md.get("subscription id", ""), md.get("product id", ""), md.get("api id", ""))
                rec = records.setdefault(key, UsageRecord(key))
                total = sum(max(0.0, float(p.total or 0)) for p in ts.data or ())
                setattr(rec, field_name, getattr(rec, field_name) + total)
                if field_name == "total_tokens":
                    rec.requests += sum(max(0.0, float(p.count or 0)) for p in ts.data or ())
        notes: list[str] = []
        known = False
        if self.logs is not None:
            try:
                refusals = self.logs.refusals(start, end)
            except TelemetryError as exc:
                notes.append(f"Refused requests unknown: {exc.message}")
            else:
                known = True
                for rec in records.values():
                    rec.refused = 0.0
                for key, kinds in refusals.items():
                    rec = records.setdefault(key, UsageRecord(key, refused=0.0))
                    for tk, n in kinds.items():
                        rec.refused = (rec.refused or 0.0) + n
                        rec.refused_by_status[tk.status] = rec.refused_by_status.get(tk.status, 0.0) + n
                        rec.requests += n
        else:
            notes.append("Refused requests per subscription need the gateway log (a Log Analytics workspace); "
                         "Azure Monitor's Requests metric has no subscription dimension.")
        if truncated:
            notes.append("Azure Monitor returned as many series as asked for; some may be missing.")
        return UsageWindow(start, end, list(records.values()), known, notes, truncated)

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if close is not None:
            close()
