"""Token usage over a closed window [start, end), for cross-charging, from Azure Monitor.

Live views want rates; a usage report wants *totals* between two dates. This reader asks the
telemetry port's ``AzureMonitorSource`` (Azure, or the sandbox's compatible endpoint; the same
queries, ``top`` growth and error mapping as the live views) for the token metrics that
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

from aiconsole.telemetry.azure_monitor import metric_name, series_key
from aiconsole.telemetry.port import SeriesKey, TelemetryError

MAX_SPAN = timedelta(days=30)
FIELDS = {"total tokens": "total_tokens", "prompt tokens": "prompt_tokens", "completion tokens": "completion_tokens"}


@dataclass
class UsageRecord:
    """What one (subscription, product, API) used in the window."""

    key: SeriesKey
    prompt_tokens: float = 0.0
    completion_tokens: float = 0.0
    total_tokens: float = 0.0
    requests: float = 0.0  # requests that consumed tokens, plus refused ones when the log is known
    refused: float | None = None  # 401/403/429, when the source can attribute them


@dataclass
class UsageWindow:
    start: datetime
    end: datetime
    records: list[UsageRecord]
    refusals_known: bool
    notes: list[str] = field(default_factory=list)


def _granularity(start: datetime, end: datetime) -> timedelta:
    return timedelta(hours=1) if end - start >= timedelta(hours=6) else timedelta(minutes=1)


class UsageWindowReader:
    """Totals per series from an ``AzureMonitorSource`` and its gateway log (``GatewayLogs``), if any."""

    def __init__(self, source: Any) -> None:
        self.source = source

    @classmethod
    def from_source(cls, source: Any) -> "UsageWindowReader":
        return cls(source)

    def read(self, start: datetime, end: datetime) -> UsageWindow:
        if end <= start:
            raise TelemetryError("The window ends before it starts.", "Give --from before --to.")
        if end - start > MAX_SPAN:
            raise TelemetryError("Azure Monitor answers at most 30 days per query.", "Split the period.")
        if not self.source.app_insights_resource_id:
            raise TelemetryError("This connection names no Application Insights component for token metrics.",
                                 "Set app_insights_resource_id in the profile.")
        metrics, truncated = self.source.token_metrics(start, end, granularity=_granularity(start, end),
                                                       aggregations=("Total", "Count"))
        records: dict[SeriesKey, UsageRecord] = {}
        for metric in metrics:
            field_name = FIELDS.get(metric_name(metric).lower())
            if field_name is None:
                continue
            for ts in metric.timeseries:
                key = series_key(ts)
                rec = records.setdefault(key, UsageRecord(key))
                total = sum(max(0.0, float(p.total or 0)) for p in ts.data or ())
                setattr(rec, field_name, getattr(rec, field_name) + total)
                if field_name == "total_tokens":
                    rec.requests += sum(max(0.0, float(p.count or 0)) for p in ts.data or ())
        notes: list[str] = []
        known = False
        logs = self.source.logs
        if logs is not None:
            try:
                refusals = logs.refusals(start, end)
            except TelemetryError as exc:
                notes.append(f"Refused requests unknown: {exc.message}")
            else:
                known = True
                for rec in records.values():
                    rec.refused = 0.0
                for key, kinds in refusals.items():
                    rec = records.setdefault(key, UsageRecord(key, refused=0.0))
                    n = sum(kinds.values())
                    rec.refused = (rec.refused or 0.0) + n
                    rec.requests += n
        else:
            notes.append("Refused requests per subscription need the gateway log (a Log Analytics workspace); "
                         "Azure Monitor's Requests metric has no subscription dimension.")
        if truncated:
            notes.append("Azure Monitor returned as many series as asked for; some may be missing.")
        return UsageWindow(start, end, list(records.values()), known, notes)

    def close(self) -> None:
        self.source.close()  # the metrics client and the Log Analytics client
