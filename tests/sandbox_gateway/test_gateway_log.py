"""The gateway log equals what clients saw: refusals per subscription through the real
``azure.monitor.query.LogsQueryClient`` (and ``GatewayLogs``, the adapter used on Azure),
over two sandbox minutes so that a time window can hold one and not the other."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import httpx
import pytest
from azure.core.exceptions import HttpResponseError
from prometheus_client.parser import text_string_to_metric_families

from aiconsole.backends.credentials import SandboxCredential
from aiconsole.sandbox.server import build_sandbox
from aiconsole.telemetry.gateway_logs import GatewayLogs, logs_client
from aiconsole.telemetry.port import AUTH, BACKEND_429, TOKEN_RATE

LLM = "/llm/chat/completions"
AOAI = "/openai/deployments/gpt-4o-mini/chat/completions"
POOL = "/chat/chat/completions"
BIG = {"model": "phi-4", "messages": [{"role": "user", "content": "q" * 1600}], "max_tokens": 50}
POOL_BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * 400}], "max_tokens": 200}


@pytest.fixture(scope="module")
def served():
    """Minute A: a starter subscription over its 1,000 tokens/min, a premium one, two 401s.
    Minute B (two minutes later): the starter again, and the PTU deployment saturated (its own 429)."""
    sandbox = build_sandbox(seed=3, subscriptions=30, options={"traffic": False, "model_latency_scale": 0})
    info = sandbox.start_in_thread()
    state, clock = sandbox.state, sandbox.state.clock
    minute_a = clock.now().replace(second=10, microsecond=0) + timedelta(minutes=1)
    clock.freeze(minute_a)
    key = {sid: state.get_subscription(sid).primary_key for sid in ("batch-summarizer", "support-bot-prod",
                                                                      "platform-all-apis")}
    seen: dict[str, Counter] = {"a": Counter(), "b": Counter()}
    with httpx.Client(base_url=info["gateway_url"], timeout=10) as gw:
        def send(part, sid, path, body, **kw):
            headers = {"Ocp-Apim-Subscription-Key": key[sid]} if sid else {}
            status = gw.post(path, json=body, headers=headers, **kw).status_code
            seen[part][(sid, status)] += 1

        for _ in range(5):
            send("a", "batch-summarizer", LLM, BIG)
        for _ in range(3):
            send("a", "support-bot-prod", LLM, {**BIG, "messages": [{"role": "user", "content": "hi"}]})
        for _ in range(2):
            send("a", "", AOAI, {}, params={"api-version": "2024-10-21"})
        clock.freeze(minute_a + timedelta(minutes=2))
        for _ in range(4):
            send("b", "batch-summarizer", LLM, BIG)
        for _ in range(4):
            send("b", "platform-all-apis", POOL, POOL_BODY)
    logs = GatewayLogs(logs_client(SandboxCredential(), info["logs_url"]), info["log_analytics_workspace_id"])
    yield sandbox, info, logs, minute_a, seen
    logs.close()
    sandbox.stop()


def refused(counter: Counter) -> Counter:
    return Counter({sid: n for (sid, status), n in counter.items() if status in (401, 403, 429)})


def by_subscription(found) -> Counter:
    out: Counter = Counter()
    for key, kinds in found.items():
        out[key.subscription] += int(sum(kinds.values()))
    return out


def test_the_scenario_refused_what_it_should(served):
    *_, seen = served
    both = seen["a"] + seen["b"]
    assert both[("batch-summarizer", 429)] >= 4 and both[("batch-summarizer", 200)] >= 2
    assert both[("platform-all-apis", 429)] == 1 and both[("", 401)] == 2
    assert both[("support-bot-prod", 200)] == 3


def test_refusals_per_subscription_equal_what_clients_saw(served):
    _, _, logs, minute_a, seen = served
    found = logs.refusals(minute_a - timedelta(minutes=1), minute_a + timedelta(minutes=5))
    assert by_subscription(found) == refused(seen["a"] + seen["b"])
    kinds = {(k.subscription, tk.reason) for k, ts in found.items() for tk in ts}
    assert ("batch-summarizer", TOKEN_RATE) in kinds
    assert ("platform-all-apis", BACKEND_429) in kinds  # the deployment's own 429, no policy
    assert ("", AUTH) in kinds
    policies = {tk.policy for k, ts in found.items() for tk in ts if k.subscription == "batch-summarizer"}
    assert policies == {"llm-token-limit"}


def test_a_window_holds_only_its_own_minutes(served):
    _, _, logs, minute_a, seen = served
    first = logs.refusals(minute_a.replace(second=0), minute_a.replace(second=0) + timedelta(minutes=1))
    assert by_subscription(first) == refused(seen["a"])
    second = logs.refusals(minute_a.replace(second=0) + timedelta(minutes=1), minute_a + timedelta(minutes=5))
    assert by_subscription(second) == refused(seen["b"])


def test_the_log_counts_every_response_the_metrics_count(served):
    _, info, logs, minute_a, _ = served
    result = logs.client.query_workspace(
        info["log_analytics_workspace_id"],
        "ApiManagementGatewayLogs | summarize Requests = count() by ResponseCode | order by ResponseCode asc",
        timespan=(minute_a - timedelta(minutes=1), minute_a + timedelta(minutes=5)))
    [table] = result.tables
    from_log = {int(row["ResponseCode"]): int(row["Requests"]) for row in table.rows}
    metrics: Counter = Counter()
    for family in text_string_to_metric_families(httpx.get(info["metrics_url"]).text):
        for s in family.samples:
            if s.name == "azure_apim_requests_total":
                metrics[int(s.labels["gateway_response_code"])] += int(s.value)
    assert from_log == dict(metrics)


def test_backend_codes_are_null_unless_a_backend_answered(served):
    _, info, logs, minute_a, _ = served
    result = logs.client.query_workspace(
        info["log_analytics_workspace_id"],
        "ApiManagementGatewayLogs | where ResponseCode != 200 | summarize n = count() by ResponseCode, "
        "BackendResponseCode, LastErrorSource", timespan=timedelta(days=1))
    rows = {(r["ResponseCode"], r["BackendResponseCode"], r["LastErrorSource"]) for r in result.tables[0].rows}
    assert (401, None, "authorization") in rows
    assert (429, None, "llm-token-limit") in rows
    assert (429, 429, "") in rows


def test_bad_queries_and_strangers_get_log_analytics_errors(served):
    _, info, logs, minute_a, _ = served
    url = f"{info['logs_url']}/v1/workspaces/{info['log_analytics_workspace_id']}/query"
    assert httpx.post(url, json={"query": "ApiManagementGatewayLogs"}).status_code == 401
    other = httpx.post(url.replace(info["log_analytics_workspace_id"], "00000000-0000-0000-0000-000000000000"),
                       json={"query": "ApiManagementGatewayLogs"}, headers={"Authorization": "Bearer t"})
    assert other.status_code == 404 and other.json()["error"]["code"] == "WorkspaceNotFoundError"
    bad = httpx.post(url, json={"query": "ApiManagementGatewayLogs | where Nope == 1"},
                     headers={"Authorization": "Bearer t"})
    assert bad.status_code == 400 and bad.json()["error"]["innererror"]["code"] == "SemanticError"
    assert "Nope" in bad.json()["error"]["message"]
    with pytest.raises(HttpResponseError, match="extend"):  # what GatewayLogs turns into a TelemetryError
        logs.client.query_workspace(info["log_analytics_workspace_id"], "ApiManagementGatewayLogs | extend x = 1",
                                    timespan=(minute_a, minute_a + timedelta(minutes=1)))
