"""Sandbox extension: the gateway data plane, the metric endpoints and simulated traffic.

Discovered by ``aiconsole.sandbox.server`` (``install(sandbox, options)``). Adds two loopback
apps — ``gateway`` (announced as ``gateway_url``) and ``metrics`` (``metrics_url`` for
Prometheus, ``monitor_url`` for Azure Monitor's batch API, ``logs_url`` for Log Analytics'
query API over the gateway log) — the ``apis`` / ``traffic`` /
``node`` info keys, the traffic controls under the management URL, and node mode
(``--node-of GW --node-token TOKEN``).
"""

from __future__ import annotations

import logging
from typing import Any

from aiconsole.sandbox.gateway.app import create_gateway_app
from aiconsole.sandbox.gateway.control import create_control_app, with_control
from aiconsole.sandbox.gateway.engine import PolicyEngine
from aiconsole.sandbox.gateway.node import NodeMonitor
from aiconsole.sandbox.gateway.pipeline import GatewayPipeline
from aiconsole.sandbox.metrics.app import create_metrics_app
from aiconsole.sandbox.metrics.store import MetricStore

log = logging.getLogger("aiconsole.sandbox.gateway")


class GatewayExtension:
    """Everything the extension adds, kept on the sandbox as ``sandbox.gateway_extension``."""

    def __init__(self, sandbox: Any, options: dict[str, Any]) -> None:
        from aiconsole.sandbox.server import SandboxError
        from aiconsole.sandbox.traffic import DEFAULT_RPS

        self.sandbox = sandbox
        state = sandbox.state
        self.store = MetricStore()
        # ``tpm_window`` (not a CLI flag): "sliding" (default) or "fixed" per-minute token windows.
        self.engine = PolicyEngine(state.clock, tpm_mode=str(options.get("tpm_window") or "sliding"))
        self.node: NodeMonitor | None = None
        node_of = options.get("node_of")
        if node_of:
            gateway = next((g for g in state.gateways if g.lower() == str(node_of).lower()), None)
            if gateway is None:
                raise SandboxError(f"Unknown gateway {node_of!r}: --node-of takes one of {', '.join(state.gateways)}.")
            if not options.get("node_token"):
                raise SandboxError("--node-of needs --node-token (a token from the gateway's generateToken).")
            self.node = NodeMonitor(state, gateway, str(options["node_token"]))
            self.store.gauge_providers.append(self.node.gauges)
        elif options.get("node_token"):
            raise SandboxError("--node-token needs --node-of GATEWAY.")
        # ``model_latency_scale`` (not a CLI flag): 0 removes the synthetic model's delay in tests.
        scale = float(options.get("model_latency_scale", 1.0))
        self.pipeline = GatewayPipeline(state, self.store, engine=self.engine, node=self.node, latency_scale=scale)
        self.store.gauge_providers.append(self.pipeline.pools.gauges)  # per-backend 429s/5xx, breakers
        self.traffic: Any = None
        self.traffic_wanted = bool(options.get("traffic"))
        self.rps = float(options["rps"]) if options.get("rps") is not None else DEFAULT_RPS
        self.seed = int(options.get("seed") or state.seed or 1)

    # ---- traffic control (used by the control app) -----------------------------------------
    async def ensure_traffic(self) -> Any:
        if self.traffic is None:
            from aiconsole.sandbox.traffic import TrafficGenerator

            url = self.sandbox.url("gateway")
            self.traffic = TrafficGenerator(self.sandbox.state, url, rps=self.rps, seed=self.seed)
        return self.traffic

    async def set_traffic(self, enabled: bool | None, rps: float | None) -> None:
        generator = await self.ensure_traffic()
        if rps is not None:
            self.rps = generator.rps = float(rps)
        if enabled is True:
            await generator.start()
        elif enabled is False:
            await generator.stop()

    def traffic_snapshot(self) -> dict[str, Any]:
        if self.traffic is None:
            return {"enabled": False, "rps": self.rps, "consumers": []}
        return self.traffic.snapshot()

    async def on_start(self, sandbox: Any) -> None:
        if self.traffic_wanted:
            await self.set_traffic(True, None)

    async def on_stop(self, sandbox: Any) -> None:
        if self.traffic is not None:
            await self.traffic.stop()

    def info(self) -> dict[str, Any]:
        state = self.sandbox.state
        apis = []
        with state.lock:
            for api in state.apis.values():
                entry: dict[str, Any] = {"id": api.aid, "path": api.path, "kind": api.kind}
                if api.kind == "azure-openai":
                    entry["deployments"] = list(api.deployments)
                else:
                    entry["models"] = list(api.models)
                apis.append(entry)
        out: dict[str, Any] = {
            "apis": apis,
            "traffic": {"enabled": bool(self.traffic and self.traffic.running) or self.traffic_wanted, "rps": self.rps},
        }
        if self.node is not None:
            out["node_of"] = self.node.gateway_id
        return out


def install(sandbox: Any, options: dict[str, Any]) -> None:
    ext = GatewayExtension(sandbox, options)
    sandbox.gateway_extension = ext
    sandbox.add_app("gateway", lambda state: create_gateway_app(ext.pipeline))
    sandbox.add_app(
        "metrics",
        lambda state: create_metrics_app(state, ext.store, ext.engine.remaining_snapshot),
        info=lambda url: {"metrics_url": url + "/metrics", "monitor_url": url, "logs_url": url},
    )
    sandbox.add_info(ext.info)
    sandbox.on_start(ext.on_start)
    sandbox.on_stop(ext.on_stop)
    control = create_control_app(ext)
    for spec in sandbox.apps:
        if spec.name == "management":
            inner = spec.factory
            spec.factory = lambda state, inner=inner: with_control(inner(state), control)
