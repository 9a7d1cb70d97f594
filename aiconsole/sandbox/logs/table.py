"""``ApiManagementGatewayLogs``: the resource-specific table APIM writes to Log Analytics.

Only the columns the console and a triaging operator use are served, with the names and types
of the real table. ``TimeGenerated`` is the start of the minute the request was served in (the
store keeps the log per minute); ``BackendResponseCode`` is null when no backend was asked
(refused by a policy, a key check or an open circuit breaker), as in APIM.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiconsole.sandbox.logs.kql import Weighted
from aiconsole.sandbox.metrics.store import MetricStore

TABLE = "ApiManagementGatewayLogs"
COLUMNS = {
    "TimeGenerated": "datetime",
    "ApimSubscriptionId": "string",
    "ProductId": "string",
    "ApiId": "string",
    "OperationId": "string",
    "ResponseCode": "int",
    "BackendResponseCode": "int",
    "IsRequestSuccess": "bool",
    "LastErrorSource": "string",
    "LastErrorReason": "string",
    "LastErrorScope": "string",
    "Region": "string",
    "_ResourceId": "string",
}


def gateway_log(store: MetricStore, resource_id: str, region: str, start: float | None, end: float | None) -> Weighted:
    """The log's records served in ``[start, end)`` (sandbox epoch seconds), weighted by count."""
    rows: Weighted = []
    stamps: dict[int, datetime] = {}
    for minute, rec, count in store.log_minutes(start, end):
        when = stamps.get(minute)
        if when is None:
            when = stamps[minute] = datetime.fromtimestamp(minute, UTC)
        rows.append(({
            "TimeGenerated": when, "ApimSubscriptionId": rec.subscription_id, "ProductId": rec.product_id,
            "ApiId": rec.api_id, "OperationId": rec.operation_id, "ResponseCode": rec.status,
            "BackendResponseCode": rec.backend_status, "IsRequestSuccess": rec.status < 400,
            "LastErrorSource": rec.error_source, "LastErrorReason": rec.error_reason,
            "LastErrorScope": rec.error_scope, "Region": region, "_ResourceId": resource_id,
        }, count))
    rows.sort(key=lambda rw: rw[0]["TimeGenerated"])
    return rows
