"""Backends as on-call sees them: single backends and pools, breaker rules, recent failures.

Configuration comes from the management port (``list_backends``); health (each backend's
429s and 5xx, whether its breaker is open) from a telemetry reader when the connection has one
(the sandbox's or a self-hosted gateway's Prometheus endpoint). A 429 counted here is the
*model deployment's own* — the gateway's token limits never reach a backend — which is how the
``:429`` view tells "deployment saturated" from "token limit".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiconsole.domain.gateway_config import BackendInfo
from aiconsole.domain.text import sanitize
from aiconsole.services.context import ServiceContext
from aiconsole.telemetry.port import TelemetryError

NO_TELEMETRY = ("No per-backend telemetry for this connection: Azure Monitor's metrics have no backend "
                "dimension (ApiManagementGatewayLogs.BackendId has it).")


@dataclass
class BackendRow:
    info: BackendInfo
    pools: list[str] = field(default_factory=list)  # pools this backend belongs to
    health: Any = None  # telemetry.usage_backends.BackendHealth | None
    apis: list[str] = field(default_factory=list)  # APIs whose policy sends traffic here (directly or via a pool)

    @property
    def state(self) -> str:
        """``tripped`` / ``ok`` / ``failing`` (429s or 5xx seen) / ``unknown`` (no telemetry)."""
        if self.info.is_pool:
            return "pool"
        if self.health is None:
            return "unknown"
        if self.health.tripped:
            return "tripped"
        return "failing" if (self.health.throttled or self.health.errors_5xx) else "ok"

    def to_json(self) -> dict[str, Any]:
        i = self.info
        return {
            "name": i.name, "type": i.kind, "title": sanitize(i.title or "") or None,
            "description": sanitize(i.description or "") or None, "url": sanitize(i.url or "") or None,
            "members": [{"backend": m.backend, "priority": m.priority, "weight": m.weight} for m in i.members],
            "pools": self.pools,
            "apis": self.apis,
            "circuit_breaker": [{"name": r.name, "failure_condition": r.condition, "count": r.count,
                                 "percentage": r.percentage, "interval": r.interval,
                                 "status_codes": [list(x) for x in r.status_ranges], "trip_duration": r.trip_duration,
                                 "accept_retry_after": r.accept_retry_after} for r in i.rules],
            "credentials": {"headers": dict(i.credential_headers), "query": dict(i.credential_query)},
            "state": self.state,
            "health": self.health.to_json() if self.health is not None else None,
        }


@dataclass
class BackendsReport:
    rows: list[BackendRow]
    telemetry_note: str | None = None

    def to_json(self) -> list[dict[str, Any]]:
        return [r.to_json() for r in self.rows]

    def saturated(self, api: str) -> list[BackendRow]:
        """The backends of ``api`` that answered 429 themselves or are tripped: for ``:429``, a
        refusal on this API may be the model deployment's, not the gateway's token limit."""
        return [r for r in self.rows if api in r.apis and r.health is not None
                and (r.health.tripped or r.health.throttled)]


def health_reader_for(connection: Any):
    """A ``BackendHealthReader`` when the connection has a Prometheus endpoint, else None."""
    url = (getattr(connection, "sandbox_info", None) or {}).get("metrics_url") or \
        (getattr(connection, "extra", None) or {}).get("metrics_url")
    if not url:
        return None
    from aiconsole.telemetry.usage_backends import BackendHealthReader

    return BackendHealthReader(url)


class BackendsService:
    def __init__(self, ctx: ServiceContext, reader: Any = None) -> None:
        self.ctx = ctx
        self.reader = reader

    def api_routes(self) -> dict[str, list[str]]:
        """API → the backend ids its effective policies name: the API's chain (global → API,
        honouring ``<base />``) and each operation's own (which may replace it)."""
        from concurrent.futures import ThreadPoolExecutor

        from aiconsole.domain.models import PolicyScope
        from aiconsole.services.posture import backend_auth, chain, operation_chain, read_documents

        b = self.ctx.backend
        apis = [a.name for a in b.list_apis()]
        with ThreadPoolExecutor(8, thread_name_prefix="apim-routes") as pool:
            operations = dict(zip(apis, pool.map(lambda a: [o.name for o in b.list_operations(a)], apis)))
            scopes = [PolicyScope(kind="global")] + [PolicyScope(kind="api", api=a) for a in apis] \
                + [PolicyScope(kind="operation", api=a, operation=o) for a in apis for o in operations[a]]
            docs = read_documents(b, scopes, pool)
        routes = {}
        for api in apis:
            run = chain(docs.get("global"), docs.get(f"api:{api}"))
            own = [d for o in operations[api]
                   if (d := docs.get(PolicyScope(kind="operation", api=api, operation=o).label))]
            chains = [run, *(operation_chain(run, d) for d in own)]
            routes[api] = list(dict.fromkeys(bid for c in chains for bid in backend_auth(c)[2]))
        return routes

    def report(self, routes: dict[str, list[str]] | None = None) -> BackendsReport:
        """Every backend with its pools, health and the APIs routed to it (``routes`` from
        ``api_routes()``; read here when not given — callers that poll pass a cached one)."""
        infos = self.ctx.backend.list_backends()
        if routes is None:
            routes = self.api_routes()
        pools_of: dict[str, list[str]] = {}
        members_of: dict[str, list[str]] = {}
        for b in infos:
            for m in b.members:
                pools_of.setdefault(m.backend.lower(), []).append(b.name)
                members_of.setdefault(b.name.lower(), []).append(m.backend.lower())
        apis_of: dict[str, list[str]] = {}
        for api, targets in routes.items():
            for target in targets:
                for bid in [target.lower(), *members_of.get(target.lower(), [])]:
                    if api not in apis_of.setdefault(bid, []):
                        apis_of[bid].append(api)
        health: dict[str, Any] = {}
        note = None
        if self.reader is None:
            note = NO_TELEMETRY
        else:
            try:
                health = self.reader.read()
            except TelemetryError as exc:
                note = exc.message
        rows = []
        for b in infos:
            h = health.get(b.name.lower())
            if h is None and self.reader is not None and note is None and not b.is_pool:
                from aiconsole.telemetry.usage_backends import BackendHealth

                h = BackendHealth(b.name)
            rows.append(BackendRow(b, pools_of.get(b.name.lower(), []), h, apis_of.get(b.name.lower(), [])))
        return BackendsReport(rows, note)
