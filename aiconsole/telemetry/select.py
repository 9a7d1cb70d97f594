"""Choosing a metrics adapter for a connection.

Sandbox: Prometheus on the sandbox's ``metrics_url`` by default (live, a few seconds old), or
its Azure Monitor compatible endpoint with ``source="monitor"`` (the cloud path, per minute,
with the sandbox's Log Analytics stand-in for refusals per subscription).
Azure profiles: Azure Monitor for the APIM resource and the profile's Application Insights
component (plus Log Analytics when a workspace is configured); self-hosted gateway profiles:
Prometheus on their collector's ``metrics_url``. SDKs are imported here only when an adapter
is built, so importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiconsole.domain.errors import ConfigError, UsageError

SOURCES = ("prometheus", "monitor")


def default_source(connection: Any) -> str:
    if connection.kind == "sandbox" or (connection.extra or {}).get("metrics_url"):
        return "prometheus"
    return "monitor"


def apim_resource_id(connection: Any) -> str:
    return (f"/subscriptions/{connection.subscription_id}/resourceGroups/{connection.resource_group}"
            f"/providers/Microsoft.ApiManagement/service/{connection.service_name}")


def build_source(connection: Any, source: str | None = None, *, now: Callable[[], datetime] | None = None,
                 monitor_endpoint: str | None = None):
    """A ``TelemetrySource`` for ``connection`` (``source``: prometheus | monitor | None = default)."""
    source = source or default_source(connection)
    if source not in SOURCES:
        raise UsageError(f"Unknown metrics source '{source}'.", f"Use one of: {', '.join(SOURCES)}.")
    info = connection.sandbox_info or {}
    extra = connection.extra or {}
    if now is None:
        from aiconsole.services.clock import clock_for

        now = clock_for(connection)
    if source == "prometheus":
        from aiconsole.telemetry.prometheus import PrometheusSource

        url = info.get("metrics_url") or extra.get("metrics_url")
        if not url:
            raise ConfigError("This connection has no Prometheus metrics URL.",
                              "Set metrics_url on a self-hosted gateway profile, or use --source monitor.")
        return PrometheusSource(url)
    from aiconsole.telemetry.azure_monitor import AzureMonitorSource, monitor_client

    if connection.kind == "sandbox":
        from aiconsole.backends.credentials import SandboxCredential as StaticTokenCredential

        endpoint = monitor_endpoint or info.get("monitor_url")
        if not endpoint:
            raise ConfigError("This sandbox does not serve an Azure Monitor endpoint.", "Use --source prometheus.")
        credential = StaticTokenCredential()
        client = monitor_client(endpoint, credential)
        logs = None
        if info.get("logs_url") and info.get("log_analytics_workspace_id"):
            from aiconsole.telemetry.gateway_logs import GatewayLogs, logs_client

            logs = GatewayLogs(logs_client(credential, info["logs_url"]), info["log_analytics_workspace_id"])
        return AzureMonitorSource(client, resource_id=info.get("resource_id") or apim_resource_id(connection),
                                  app_insights_resource_id=info.get("app_insights_resource_id"), now=now,
                                  ingestion_delay=0.0, logs=logs)
    endpoint = monitor_endpoint or extra.get("monitor_endpoint")
    region = extra.get("region")
    if not endpoint and region:
        endpoint = f"https://{region.replace(' ', '').lower()}.metrics.monitor.azure.com"
    if not endpoint:
        raise ConfigError("Azure Monitor needs the service's regional metrics endpoint.",
                          "Pass --monitor-endpoint https://REGION.metrics.monitor.azure.com.")
    from aiconsole.backends.credentials import build_credential

    credential = build_credential(connection)
    logs = None
    if extra.get("log_analytics_workspace_id"):
        from aiconsole.telemetry.gateway_logs import GatewayLogs, logs_client

        logs = GatewayLogs(logs_client(credential), extra["log_analytics_workspace_id"])
    return AzureMonitorSource(monitor_client(endpoint, credential), resource_id=apim_resource_id(connection),
                              app_insights_resource_id=extra.get("app_insights_resource_id"), now=now, logs=logs)
