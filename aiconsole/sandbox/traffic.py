"""Simulated consumers: seeded callers of the sandbox gateway so the live views have something to show.

Each consumer is one subscription with a size (prompt and completion tokens), a rhythm (steady,
bursty or a slow wave) and a share of the total rate (``--rps``). Some are special, chosen by
the seed: the *noisy* ones send far more than their product's per-minute budget, so they are
throttled every minute; the *quota* one spends its hourly quota within minutes of each hour;
the *pool* one calls the pooled chat API steadily with more tokens than the provisioned (PTU)
deployment serves in a minute, so that deployment answers 429, its circuit breaker trips, the
pool fails over to pay-as-you-go, and the breaker closes again when the minute is over.
Each call presents the key in the header the API names, as a deployed client would.
They call the gateway over loopback HTTP with ``httpx.AsyncClient`` on the sandbox's own loop,
with at most a few requests in flight, so the load stays small next to the console.

A consumer holds the key of the slot it uses, like a deployed application: regenerating that
slot breaks it (401s) until it is told to switch (``POST /_sandbox/consumers/{sid}``) — which is
exactly what the two-slot rotation must hand over — or until it "redeploys" by itself after
``recover_after`` seconds of failures, so a demo never stays broken.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

from aiconsole.sandbox.state import SandboxState

log = logging.getLogger("aiconsole.sandbox.traffic")

DEFAULT_RPS = 4.0
POOL_API = "chat-pool"  # the API behind the priority pool with circuit breakers (seed_backends)
POOL_CALLER = "platform-all-apis"  # a subscription that may call every API
MAX_IN_FLIGHT = 8
AOAI_API_VERSION = "2024-10-21"
_FILLER = "Summarise the quarterly report for the operations team and list the three biggest risks. "


@dataclass
class ConsumerStats:
    requests: int = 0
    ok: int = 0
    throttled: int = 0  # 429
    quota: int = 0  # 403
    unauthorized: int = 0  # 401
    errors: int = 0  # anything else
    last_status: int | None = None


@dataclass
class Consumer:
    sid: str
    share: float  # of the total rate
    prompt_chars: int
    max_tokens: int
    rhythm: str = "steady"  # steady | bursty | wave
    slot: str = "primary"
    role: str = "regular"  # regular | noisy | quota | pool | added
    api_id: str | None = None  # the one API it calls; None: every API its subscription may call
    enabled: bool = True
    stats: ConsumerStats = field(default_factory=ConsumerStats)
    key: str | None = field(default=None, repr=False)
    failing_since: float | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "sid": self.sid, "slot": self.slot, "role": self.role, "rhythm": self.rhythm, "enabled": self.enabled,
            "share": round(self.share, 4), "prompt_chars": self.prompt_chars, "max_tokens": self.max_tokens,
            "api": self.api_id, "stats": self.stats.__dict__.copy(),
        }


def seeded_consumers(state: SandboxState, seed: int) -> list[Consumer]:
    """The consumer mix for a seeded world: the special subscriptions plus a few regulars."""
    rng = random.Random(f"traffic:{seed}")
    consumers: list[Consumer] = []
    for i, sid in enumerate(state.noisy_subscription_ids[:2]):
        consumers.append(Consumer(sid, 0.2 if i == 0 else 0.1, 600, 100, "steady" if i == 0 else "bursty", role="noisy"))
    for sid in state.quota_subscription_ids[:1]:
        consumers.append(Consumer(sid, 0.1, 300, 50, "steady", role="quota"))
    pooled = state.apis.get(POOL_API)
    caller = state.find_subscription(POOL_CALLER)
    if pooled is not None and caller is not None and caller.state == "active":
        # ~300 tokens a call, 12 calls a minute at the default rate: the PTU deployment (400/min) overflows.
        consumers.append(Consumer(caller.sid, 0.05, 400, 200, "steady", role="pool", api_id=POOL_API))
    special = {c.sid for c in consumers}
    with state.lock:
        regulars = [
            s for s in state.subscriptions.values()
            if s.state == "active" and s.sid not in special
            and not (s.scope_kind == "product" and (s.scope_id in ("starter", "trial")))
        ][:40]
    rng.shuffle(regulars)
    picks = regulars[:7]
    rest = max(0.0, 1.0 - sum(c.share for c in consumers))
    for i, sub in enumerate(picks):
        consumers.append(Consumer(
            sub.sid,
            share=rest / max(1, len(picks)),
            prompt_chars=rng.choice((200, 400, 800, 1600)),
            max_tokens=rng.choice((32, 64, 128, 256)),
            rhythm=("steady", "bursty", "wave")[i % 3],
            slot="secondary" if i % 4 == 3 else "primary",
        ))
    return consumers


class TrafficGenerator:
    """Runs the consumers on the sandbox loop; start/stop and tune at run time."""

    def __init__(self, state: SandboxState, gateway_url: str, *, rps: float = DEFAULT_RPS, seed: int = 1,
                 recover_after: float = 30.0) -> None:
        self.state = state
        self.gateway_url = gateway_url.rstrip("/")
        self.rps = rps
        self.recover_after = recover_after
        self.consumers: dict[str, Consumer] = {c.sid: c for c in seeded_consumers(state, seed)}
        self._rng = random.Random(f"traffic-timing:{seed}")
        self._tasks: dict[str, asyncio.Task] = {}
        self._client: Any = None
        self._sem: asyncio.Semaphore | None = None
        self.running = False

    # ---- control ---------------------------------------------------------------------------
    async def start(self) -> None:
        if self.running:
            return
        import httpx

        self._client = httpx.AsyncClient(base_url=self.gateway_url, timeout=10.0,
                                         limits=httpx.Limits(max_connections=MAX_IN_FLIGHT))
        self._sem = asyncio.Semaphore(MAX_IN_FLIGHT)
        self.running = True
        for consumer in self.consumers.values():
            self._spawn(consumer)
        log.info("traffic: %d consumers at %.2f requests/s", len(self.consumers), self.rps)

    async def stop(self) -> None:
        self.running = False
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _spawn(self, consumer: Consumer) -> None:
        if self.running and consumer.sid not in self._tasks:
            self._tasks[consumer.sid] = asyncio.get_running_loop().create_task(self._run(consumer), name=f"consumer:{consumer.sid}")

    def snapshot(self) -> dict[str, Any]:
        return {"enabled": self.running, "rps": self.rps, "consumers": [c.describe() for c in self.consumers.values()]}

    def configure_consumer(self, sid: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Switch slot / enable / refresh a consumer; create one for a subscription not yet simulated."""
        consumer = self.consumers.get(sid)
        if consumer is None:
            sub = self.state.find_subscription(sid)
            if sub is None:
                raise KeyError(sid)
            consumer = Consumer(sub.sid, share=0.05, prompt_chars=200, max_tokens=32, role="added")
            self.consumers[sub.sid] = consumer
        slot = changes.get("slot")
        if slot is not None:
            if slot not in ("primary", "secondary"):
                raise ValueError("slot must be primary or secondary")
            consumer.slot = slot
            consumer.key = None  # read the slot's current key: the hand-over
        if changes.get("refresh"):
            consumer.key = None
        if "enabled" in changes:
            consumer.enabled = bool(changes["enabled"])
        if "rps_share" in changes:
            share = float(changes["rps_share"])
            if not 0 <= share <= 1:
                raise ValueError("rps_share must be between 0 and 1")
            consumer.share = share
        if self.running:
            self._spawn(consumer)
        return consumer.describe()

    # ---- the loop of one consumer ------------------------------------------------------------
    def _interval(self, consumer: Consumer, started: float) -> float:
        rate = max(1e-3, self.rps * consumer.share)
        base = 1.0 / rate
        if consumer.rhythm == "wave":
            phase = math.sin(2 * math.pi * (time.monotonic() - started) / 300.0)
            base /= max(0.2, 1.0 + 0.8 * phase)
        return base * self._rng.uniform(0.8, 1.2)

    async def _run(self, consumer: Consumer) -> None:
        started = time.monotonic()
        await asyncio.sleep(self._rng.uniform(0, 1.0))
        burst_left = 0
        while self.running:
            if consumer.enabled and self.rps > 0 and consumer.share > 0:
                if consumer.rhythm == "bursty":
                    if burst_left == 0:
                        burst_left = 5
                    burst_left -= 1
                try:
                    await self._call(consumer)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - a consumer never takes the sandbox down
                    consumer.stats.errors += 1
                    log.debug("traffic: %s call failed: %s", consumer.sid, type(exc).__name__)
            if consumer.rhythm == "bursty" and burst_left > 0:
                wait = 0.05
            elif consumer.rhythm == "bursty":
                wait = self._interval(consumer, started) * 5
            else:
                wait = self._interval(consumer, started)
            await asyncio.sleep(wait if consumer.enabled and self.rps > 0 else 1.0)

    def _current_key(self, consumer: Consumer) -> str | None:
        sub = self.state.find_subscription(consumer.sid)
        if sub is None:
            return None
        return sub.primary_key if consumer.slot == "primary" else sub.secondary_key

    def _target(self, consumer: Consumer) -> tuple[str, dict[str, Any], str, dict[str, str]] | None:
        sub = self.state.find_subscription(consumer.sid)
        if sub is None:
            return None
        with self.state.lock:
            if sub.scope_kind == "product":
                product = self.state.products.get(sub.scope_id or "")
                api_ids = list(product.api_ids) if product else []
            elif sub.scope_kind == "api":
                api_ids = [sub.scope_id or ""]
            else:
                api_ids = list(self.state.apis)
            if consumer.api_id is not None:
                api_ids = [a for a in api_ids if a == consumer.api_id]
            apis = [self.state.apis[a] for a in api_ids if a in self.state.apis]
        if not apis:
            return None
        api = apis[consumer.stats.requests % len(apis)]
        body: dict[str, Any] = {
            "messages": [
                {"role": "system", "content": "You are a concise assistant."},
                {"role": "user", "content": (_FILLER * (consumer.prompt_chars // len(_FILLER) + 1))[: consumer.prompt_chars]},
            ],
            "max_tokens": consumer.max_tokens,
        }
        if api.kind == "azure-openai":
            deployment = next((d for d in api.deployments if "embedding" not in d), api.deployments[0] if api.deployments else "gpt-4o")
            return (f"/{api.path}/deployments/{deployment}/chat/completions", body, api.header_name or "api-key",
                    {"api-version": AOAI_API_VERSION})
        body["model"] = api.models[0] if api.models else "sandbox"
        return f"/{api.path}/chat/completions", body, api.header_name or "Ocp-Apim-Subscription-Key", {}

    async def _call(self, consumer: Consumer) -> None:
        target = self._target(consumer)
        if target is None or self._client is None or self._sem is None:
            return
        path, body, header, params = target
        if consumer.key is None:
            consumer.key = self._current_key(consumer)
        if consumer.key is None:
            return
        async with self._sem:
            response = await self._client.post(path, json=body, params=params, headers={header: consumer.key})
        status = response.status_code
        stats = consumer.stats
        stats.requests += 1
        stats.last_status = status
        if status == 200:
            stats.ok += 1
        elif status == 429:
            stats.throttled += 1
        elif status == 403:
            stats.quota += 1
        elif status == 401:
            stats.unauthorized += 1
        else:
            stats.errors += 1
        if status == 401:
            now = time.monotonic()
            consumer.failing_since = consumer.failing_since or now
            if now - consumer.failing_since >= self.recover_after:
                log.info("traffic: consumer %s redeploys with its slot's current key", consumer.sid)
                consumer.key = None
                consumer.failing_since = None
        else:
            consumer.failing_since = None
