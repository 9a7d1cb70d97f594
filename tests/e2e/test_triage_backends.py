"""``:429`` and ``top`` name the model deployment behind a backend 429: the PTU deployment of the
pooled API saturates, answers 429 itself and trips; the triage row for that refusal says which
deployment it was, and a token-limit refusal on another API does not."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from aiconsole.backends.connect import sandbox_connection
from aiconsole.services.context import ServiceContext
from aiconsole.services.triage import TriageService, throttle_events
from aiconsole.telemetry.port import BACKEND_429, TOKEN_RATE
from aiconsole.telemetry.prometheus import PrometheusSource
from tests.sandbox_fixture import start_sandbox

POOL_BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * 400}], "max_tokens": 200}
LLM_BODY = {"model": "phi-4", "messages": [{"role": "user", "content": "q" * 1600}], "max_tokens": 50}


@pytest.fixture(scope="module")
def sandbox():
    info, stop = start_sandbox(subscriptions=12, seed=6, traffic=False)
    yield info
    stop()


def test_a_backend_429_names_the_saturated_deployment_and_a_token_limit_does_not(sandbox):
    conn = sandbox_connection(sandbox["management_url"])
    ctx = ServiceContext.from_connection(conn)
    keys = {sid: ctx.backend.list_secrets(sid).primary_key.get_secret_value()
            for sid in ("platform-all-apis", "batch-summarizer")}
    now = datetime.fromisoformat(httpx.post(f"{sandbox['management_url']}/_sandbox/clock", json={}).json()["now"]
                                 .replace("Z", "+00:00"))
    httpx.post(f"{sandbox['management_url']}/_sandbox/clock",
               json={"set": (now.replace(second=0, microsecond=0) + timedelta(minutes=1, seconds=1)).isoformat()})
    source = PrometheusSource(sandbox["metrics_url"])
    try:
        source.observe()
        pool = [httpx.post(f"{sandbox['gateway_url']}/chat/chat/completions", json=POOL_BODY,
                           headers={"api-key": keys["platform-all-apis"]}).status_code for _ in range(3)]
        llm = [httpx.post(f"{sandbox['gateway_url']}/llm/chat/completions", json=LLM_BODY,
                          headers={"Ocp-Apim-Subscription-Key": keys["batch-summarizer"]}).status_code
               for _ in range(4)]
        assert pool.count(429) == 1 and 429 in llm
        triage = TriageService.for_context(source, ctx, connection=conn)
        events = throttle_events(triage.poll(3600).rows)
    finally:
        source.close()
    backend = [e for e in events if e.reason == BACKEND_429]
    assert [(e.subscription, e.policy) for e in backend] == [("platform-all-apis", "aoai-westeurope-ptu (tripped)")]
    limit = [e for e in events if e.reason == TOKEN_RATE]
    assert [(e.subscription, e.policy) for e in limit] == [("batch-summarizer", "llm-token-limit")]
