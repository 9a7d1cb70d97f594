"""Refusals per subscription from Log Analytics (``ApiManagementGatewayLogs``), when configured.

Azure Monitor's ``Requests`` metric cannot say *which subscription* was refused; the gateway's
resource log can. With a workspace configured, one KQL query per refresh counts 401/403/429 by
subscription, API, product and the policy that answered (``LastErrorSource``), and tells the
model deployment's own 429 apart (``BackendResponseCode == 429`` with no policy error).

Runs through ``azure-monitor-query``'s ``LogsQueryClient`` with the same loopback-only plain
HTTP rule as the other adapters.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiconsole.telemetry.port import (
    AUTH,
    BACKEND_429,
    CALL_QUOTA,
    RATE_LIMIT,
    TOKEN_QUOTA,
    TOKEN_RATE,
    UNCLASSIFIED_403,
    UNCLASSIFIED_429,
    SeriesKey,
    TelemetryError,
    ThrottleKey,
)

LOGS_SCOPE = "https://api.loganalytics.io/.default"

REFUSALS_QUERY = """ApiManagementGatewayLogs
| where ResponseCode in (401, 403, 429)
| summarize Requests = count() by ApimSubscriptionId, ApiId, ProductId, ResponseCode, BackendResponseCode,
    LastErrorSource, LastErrorReason, LastErrorScope
| order by Requests desc
| take 5000"""

TOKEN_POLICIES = ("llm-token-limit", "azure-openai-token-limit")


def classify(status: int, backend_status: int | None, source: str, reason: str) -> str:
    """The refusal kind of one log row (see ``telemetry.port`` for the kinds)."""
    source = (source or "").lower()
    reason = (reason or "").lower()
    if status == 401:
        return AUTH
    if status == 429:
        if source in TOKEN_POLICIES or "token" in reason:
            return TOKEN_RATE
        if source in ("rate-limit-by-key", "rate-limit"):
            return RATE_LIMIT
        if backend_status == 429 and not source:
            return BACKEND_429
        return UNCLASSIFIED_429
    if status == 403:
        if source in TOKEN_POLICIES:
            return TOKEN_QUOTA
        if source in ("quota-by-key", "quota"):
            return CALL_QUOTA
        return UNCLASSIFIED_403
    return str(status)


def logs_client(credential: Any, endpoint: str | None = None, **kwargs: Any):
    """A ``LogsQueryClient``; plain HTTP is allowed for loopback endpoints only."""
    from azure.monitor.query import LogsQueryClient

    from aiconsole.backends.azure_apim import LoopbackAwareAuthPolicy
    from aiconsole.backends.urls import check_url

    if endpoint:
        endpoint = check_url(endpoint, what="Log Analytics endpoint")
        kwargs["endpoint"] = endpoint
    scope = (endpoint.rstrip("/") + "/.default") if endpoint and "loganalytics" not in endpoint else LOGS_SCOPE
    kwargs.setdefault("retry_total", 1)
    return LogsQueryClient(credential, authentication_policy=LoopbackAwareAuthPolicy(credential, scope), **kwargs)


class GatewayLogs:
    """``refusals(start, end)`` → ``{SeriesKey: {ThrottleKey: count}}`` over that span."""

    def __init__(self, client: Any, workspace_id: str) -> None:
        self.client = client
        self.workspace_id = workspace_id

    def refusals(self, start: datetime, end: datetime) -> dict[SeriesKey, dict[ThrottleKey, float]]:
        from azure.core.exceptions import HttpResponseError, ServiceRequestError

        try:
            result = self.client.query_workspace(self.workspace_id, REFUSALS_QUERY, timespan=(start, end),
                                                 server_timeout=30)
        except HttpResponseError as exc:
            status = getattr(exc, "status_code", None)
            if status in (401, 403):
                raise TelemetryError(f"Log Analytics refused the query ({status}).",
                                     "Reading logs needs Microsoft.OperationalInsights/workspaces/query/read "
                                     "(e.g. Log Analytics Reader).") from None
            raise TelemetryError(f"Log Analytics answered {status}.") from None
        except ServiceRequestError as exc:
            raise TelemetryError(f"Cannot reach Log Analytics ({type(exc).__name__}).") from None
        tables = getattr(result, "tables", None) or getattr(result, "partial_data", None) or []
        out: dict[SeriesKey, dict[ThrottleKey, float]] = {}
        for table in tables:
            columns = [c if isinstance(c, str) else getattr(c, "name", str(c)) for c in table.columns]
            for row in table.rows:
                rec = dict(zip(columns, list(row)))
                try:
                    status = int(rec.get("ResponseCode") or 0)
                    backend = int(rec["BackendResponseCode"]) if rec.get("BackendResponseCode") not in (None, "") else None
                    count = float(rec.get("Requests") or 0)
                except (TypeError, ValueError):
                    continue
                key = SeriesKey(str(rec.get("ApimSubscriptionId") or ""), str(rec.get("ProductId") or ""),
                                str(rec.get("ApiId") or ""))
                source = str(rec.get("LastErrorSource") or "")
                tk = ThrottleKey(classify(status, backend, source, str(rec.get("LastErrorReason") or "")), status,
                                 source or ("backend" if backend == 429 else ""), str(rec.get("LastErrorScope") or ""))
                bucket = out.setdefault(key, {})
                bucket[tk] = bucket.get(tk, 0.0) + count
        return out

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if close is not None:
            close()
