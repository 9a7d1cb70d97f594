"""One loopback port for what the gateway served: ``/metrics`` (Prometheus), ``getBatch`` (Azure
Monitor) and ``/v1/workspaces/{id}/query`` (Log Analytics, the gateway log)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from starlette.applications import Starlette

from aiconsole.sandbox.logs.app import create_logs_app
from aiconsole.sandbox.metrics.monitor_app import create_monitor_app
from aiconsole.sandbox.metrics.prometheus_app import create_prometheus_app
from aiconsole.sandbox.metrics.store import MetricStore
from aiconsole.sandbox.state import SandboxState


def create_metrics_app(state: SandboxState, store: MetricStore,
                       remaining: Callable[[], Iterable[tuple[str, str, str, int, int]]] | None = None) -> Starlette:
    routes = [*create_prometheus_app(store, remaining).routes, *create_monitor_app(state, store).routes,
              *create_logs_app(state, store).routes]
    return Starlette(routes=routes)
