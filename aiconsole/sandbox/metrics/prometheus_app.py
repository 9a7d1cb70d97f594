"""Prometheus exposition (``GET /metrics``) of what the gateway served.

Names follow what a self-hosted gateway's OpenTelemetry export looks like after an OpenTelemetry
Collector's Prometheus exporter with ``namespace: azure_apim`` (Microsoft's collector example):
the gateway's ``Requests`` metric becomes ``azure_apim_requests_total``; the token metrics that
``llm-emit-token-metric`` writes ("Total Tokens", ...) become ``azure_apim_total_tokens_total``
and friends, labelled by the policy's dimensions in snake case ("Subscription ID" →
``subscription_id``). Series that a real gateway does not have are prefixed
``aiconsole_sandbox_`` so nobody mistakes them for APIM's own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from prometheus_client.core import CollectorRegistry, CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aiconsole.sandbox.metrics.store import MetricStore, code_category

TOKEN_NAMES = {
    "total_tokens": ("azure_apim_total_tokens", "Total Tokens (prompt + completion) emitted by llm-emit-token-metric"),
    "prompt_tokens": ("azure_apim_prompt_tokens", "Prompt Tokens emitted by llm-emit-token-metric"),
    "completion_tokens": ("azure_apim_completion_tokens", "Completion Tokens emitted by llm-emit-token-metric"),
}


def label_name(dimension: str) -> str:
    """``Subscription ID`` → ``subscription_id``: a valid, predictable Prometheus label name."""
    name = re.sub(r"[^0-9a-zA-Z]+", "_", dimension).strip("_").lower() or "dimension"
    return "_" + name if name[0].isdigit() else name


class StoreCollector:
    """A prometheus-client collector that renders the store's counters at scrape time."""

    def __init__(self, store: MetricStore, remaining: Callable[[], Iterable[tuple[str, str, str, int, int]]] | None = None) -> None:
        self.store = store
        self.remaining = remaining

    def describe(self) -> list:
        return []  # families are dynamic; no up-front description

    def collect(self) -> Iterable[Metric]:
        snap = self.store.snapshot()
        requests = CounterMetricFamily(
            "azure_apim_requests", "Gateway requests by response code, API, product and subscription",
            labels=["api_id", "product_id", "subscription_id", "gateway_response_code", "gateway_response_code_category"],
        )
        for (api, product, sid, status), n in sorted(snap["requests"].items()):
            requests.add_metric([api, product, sid, str(status), code_category(status)], n)
        yield requests
        families: dict[str, Metric] = {}
        for (attr, namespace, dims), value in sorted(snap["tokens"].items()):
            name, doc = TOKEN_NAMES[attr]
            family = families.get(name)
            if family is None:
                family = families[name] = CounterMetricFamily(name, doc)
            labels = {"namespace": namespace}
            for dim, dim_value in dims:
                labels[label_name(dim)] = dim_value
            family.add_sample(name + "_total", labels, value)
        for name, _doc in TOKEN_NAMES.values():
            yield families.get(name) or CounterMetricFamily(name, _doc)
        slots = CounterMetricFamily("aiconsole_sandbox_key_slot_requests",
                                    "Requests per subscription and key slot used (primary/secondary)",
                                    labels=["subscription_id", "slot"])
        for (sid, slot), n in sorted(snap["slots"].items()):
            slots.add_metric([sid, slot], n)
        yield slots
        throttled = CounterMetricFamily(
            "aiconsole_sandbox_throttled_requests", "Requests refused by a limit policy, with the policy and scope",
            labels=["subscription_id", "api_id", "reason", "policy", "scope", "gateway_response_code"],
        )
        for (sid, api, reason, policy, scope, status), n in sorted(snap["throttles"].items()):
            throttled.add_metric([sid, api, reason, policy, scope, str(status)], n)
        yield throttled
        if self.remaining is not None:
            remaining = GaugeMetricFamily("aiconsole_sandbox_remaining_tokens",
                                          "Tokens left in the current window per counter key",
                                          labels=["counter_key", "window", "scope"])
            limit = GaugeMetricFamily("aiconsole_sandbox_token_limit", "The limit of that window per counter key",
                                      labels=["counter_key", "window", "scope"])
            for key, window, scope, lim, left in sorted(self.remaining()):
                remaining.add_metric([key, window, scope], left)
                limit.add_metric([key, window, scope], lim)
            yield remaining
            yield limit
        for provider in list(self.store.gauge_providers):
            for name, doc, labels, value in provider():
                g = GaugeMetricFamily(name, doc)
                g.add_sample(name, labels, value)
                yield g


def create_prometheus_app(store: MetricStore, remaining: Callable[[], Iterable[tuple[str, str, str, int, int]]] | None = None) -> Starlette:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store, remaining))  # type: ignore[arg-type]

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[Route("/metrics", metrics, methods=["GET"])])
