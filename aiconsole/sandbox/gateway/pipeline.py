"""One request through the sandbox gateway, in APIM's order.

route → key check → inbound policies (limits, ``<choose>``) → backend (faults, the synthetic
model) → accounting → metrics. Every exit records exactly one served request in the metric
store, so the metrics equal what clients saw. Failures inside are turned into APIM's 500 body
and a log line without key material, never an unhandled exception.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from aiconsole.sandbox.gateway import responses, synthetic
from aiconsole.sandbox.gateway.backends_pool import BackendPools
from aiconsole.sandbox.gateway.chain import BrokenPolicy, PolicyDoc
from aiconsole.sandbox.gateway.context import RequestInfo
from aiconsole.sandbox.gateway.engine import PolicyEngine, Refusal, Usage
from aiconsole.sandbox.gateway.node import NodeMonitor
from aiconsole.sandbox.gateway.routing import Route, Router, key_grants, presented_key
from aiconsole.sandbox.metrics.store import MetricStore, ServedRequest
from aiconsole.sandbox.state import SandboxState

log = logging.getLogger("aiconsole.sandbox.gateway")

MAX_BODY_BYTES = 1_000_000
CHAT_SUFFIX = "/chat/completions"


@dataclass
class Outcome:
    """What to send back: JSON, or server-sent events, with headers."""

    status: int
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    events: Iterator[bytes] | None = None


@dataclass
class IncomingRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    query: dict[str, str]
    body: bytes
    client_ip: str
    body_too_large: bool = False


class GatewayPipeline:
    """The data plane's logic, independent of the HTTP framework (so tests can call it too)."""

    def __init__(self, state: SandboxState, store: MetricStore, *, engine: PolicyEngine | None = None,
                 latency_scale: float = 1.0, node: NodeMonitor | None = None) -> None:
        self.state = state
        self.store = store
        self.engine = engine or PolicyEngine(state.clock)
        self.router = Router(state)
        self.latency_scale = latency_scale
        self.node = node
        self.pools = BackendPools(state)  # backends, priority pools and circuit breakers

    async def handle(self, req: IncomingRequest) -> Outcome:
        served = ServedRequest(ts=self.state.clock.time(), status=500)
        try:
            outcome, served = await self._handle(req, served)
        except Exception as exc:  # the gateway never dies on a request
            log.error("gateway: unexpected %s while serving %s %s", type(exc).__name__, req.method, req.path)
            outcome = Outcome(500, responses.body(500, "Internal server error"))
            served = replace(served, status=500)
        self.store.record_request(replace(served, status=outcome.status))
        return outcome

    async def _handle(self, req: IncomingRequest, served: ServedRequest) -> tuple[Outcome, ServedRequest]:
        route = self.router.route(req.method, req.path)
        if route is None or route.operation is None:
            return Outcome(404, responses.body(404, "Resource not found")), served
        served = ServedRequest(ts=served.ts, status=500, api_id=route.api.aid, operation_id=route.operation.oid)
        allowed = self.node.api_ids() if self.node else None
        if allowed is not None and route.api.aid.lower() not in allowed:
            return Outcome(404, responses.body(404, "Resource not found")), served
        key = presented_key(route.api, req.headers, req.query)
        info = RequestInfo(now=self.state.clock.now(), api_id=route.api.aid, operation_id=route.operation.oid,
                           ip=req.client_ip, headers=req.headers)
        if key is None:
            if route.api.subscription_required:
                return Outcome(401, responses.body(401, responses.MISSING_KEY)), replace(
                    served, error_source="authorization", error_reason="SubscriptionKeyNotFound")
        else:
            found = self.state.subscription_by_key(key)
            if found is None or not key_grants(self.state, found[0], route.api):
                return Outcome(401, responses.body(401, responses.INVALID_KEY)), replace(
                    served, error_source="authorization", error_reason="SubscriptionKeyInvalid")
            sub, slot = found
            info.subscription_id = info.subscription_name = sub.sid
            info.product_id = sub.scope_id if sub.scope_kind == "product" else None
            info.user_id = sub.owner_id
            info.key_slot = slot
            served = replace(served, product_id=info.product_id or "", subscription_id=sub.sid, slot=slot)
        if req.body_too_large:
            log.warning("gateway: request body over %d bytes refused", MAX_BODY_BYTES)
            return Outcome(413, responses.body(413, "Request entity too large")), served
        if not route.operation.url_template.endswith(CHAT_SUFFIX) or req.method.upper() != "POST":
            return self._other_operation(route), served
        return await self._chat(req, route, info, served)

    def _other_operation(self, route: Route) -> Outcome:
        if route.operation is not None and route.operation.url_template.rstrip("/").endswith("/models"):
            names = route.api.models or route.api.deployments
            return Outcome(200, {"object": "list", "data": [{"id": n, "object": "model", "owned_by": "sandbox"} for n in names]})
        return Outcome(501, {"error": {"code": "NotImplemented", "message": "The sandbox model serves chat completions only."}})

    def _docs(self, info: RequestInfo) -> list[PolicyDoc]:
        stored = self.state.policy_chain(info.api_id or "", info.operation_id, info.product_id)
        return [PolicyDoc(scope=d.scope, text=d.xml, etag=d.etag) for d in stored]

    async def _chat(self, req: IncomingRequest, route: Route, info: RequestInfo, served: ServedRequest) -> tuple[Outcome, ServedRequest]:
        try:
            chat: synthetic.ChatRequest | None = synthetic.parse_chat_request(req.body)
            bad: synthetic.BadRequest | None = None
        except synthetic.BadRequest as exc:
            chat, bad = None, exc
        prompt = synthetic.estimate_prompt_tokens(chat) if chat else 0
        info.deployment = route.params.get("deployment-id") or (chat.model if chat else None)
        try:
            admission = self.engine.admit(self._docs(info), info, prompt)
        except BrokenPolicy as exc:
            log.warning("gateway: %s", exc)
            return Outcome(500, responses.body(500, "Internal server error")), served
        if admission.refusal is not None:
            refusal = admission.refusal
            return self._refused(refusal), replace(
                served, throttle_reason=refusal.reason, throttle_policy=refusal.policy, throttle_scope=refusal.scope)
        # ---- backend ----
        docs = self._docs(info)
        lease = self.pools.acquire([d.text for d in docs], prompt + synthetic.completion_tokens(chat, prompt)) if chat else None
        if lease is not None and lease.refusal is not None:
            outcome = Outcome(lease.refusal[0], lease.refusal[1], dict(lease.refusal[2]))
            if lease.refused_by_backend:  # the model deployment itself refused (over its capacity)
                served = replace(served, backend_status=outcome.status)
            else:  # the breaker is open: the gateway answered, no backend was asked
                served = replace(served, error_source="forward-request", error_reason="BackendUnavailable")
        else:
            outcome = await self._backend(req, route, chat, bad, prompt)
            served = replace(served, backend_status=outcome.status)
            if lease is not None:
                self.pools.finish(lease, outcome.status)
        usage = None
        if outcome.status == 200 and chat is not None:
            usage = Usage(prompt, synthetic.completion_tokens(chat, prompt))
        emissions = self.engine.complete(admission, outcome.status, usage, len(req.body))
        outcome.headers.update(admission.headers)
        ts = self.state.clock.time()
        for e in emissions:
            self.store.record_tokens(ts, e.namespace, e.dimensions, e.usage.prompt_tokens, e.usage.completion_tokens)
        return outcome, served

    @staticmethod
    def _refused(refusal: Refusal) -> Outcome:
        return Outcome(refusal.status, refusal.body, dict(refusal.headers))

    async def _backend(self, req: IncomingRequest, route: Route, chat: synthetic.ChatRequest | None,
                       bad: synthetic.BadRequest | None, prompt: int) -> Outcome:
        faults = self.state.faults
        delay = faults.latency_seconds()
        if delay > 0:
            await asyncio.sleep(delay)
        if faults.roll_error():
            return Outcome(500, {"error": {"code": "InternalServerError", "message": "The server had an error while processing your request. Sorry about that!"}})
        if route.api.kind == "azure-openai":
            if not req.query.get("api-version"):
                return Outcome(404, {"error": {"code": "404", "message": "Resource not found"}})
            deployment = route.params.get("deployment-id", "")
            if deployment not in route.api.deployments:
                log.warning("gateway: unknown deployment requested on %s", route.api.aid)
                return Outcome(404, {"error": {"code": "DeploymentNotFound", "message": "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again."}})
            model = deployment
        else:
            model = chat.model if chat else None
            if chat is not None and (model is None or model not in route.api.models):
                log.warning("gateway: unknown model requested on %s", route.api.aid)
                return Outcome(404, {"error": {"message": f"The model `{synthetic_safe(model)}` does not exist or you do not have access to it.", "type": "invalid_request_error", "param": "model", "code": "model_not_found"}})
        if bad is not None or chat is None:
            log.warning("gateway: malformed chat request on %s: %s", route.api.aid, bad)
            err = bad or synthetic.BadRequest("Invalid request.")
            return Outcome(err.status, err.body())
        try:
            synthetic.check_context(chat, prompt)
        except synthetic.BadRequest as exc:
            log.warning("gateway: oversize prompt on %s (%d tokens)", route.api.aid, prompt)
            return Outcome(exc.status, exc.body())
        completion = synthetic.completion_tokens(chat, prompt)
        wait = synthetic.latency_seconds(completion, self.latency_scale)
        if wait > 0:
            await asyncio.sleep(wait)
        created = int(self.state.clock.time())
        model = model or "sandbox"
        if chat.stream:
            return Outcome(200, headers={"Cache-Control": "no-cache"},
                           events=synthetic.stream_events(model, chat, prompt, completion, created))
        return Outcome(200, synthetic.completion_body(model, chat, prompt, completion, created))


def synthetic_safe(value: object) -> str:
    """A caller-supplied name, shortened for an error message."""
    text = str(value)
    return text if len(text) <= 64 else text[:61] + "..."
