"""The data plane over real loopback HTTP: keys, bad input, streaming, limits with the clock."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest

from aiconsole.sandbox.server import build_sandbox

AOAI = "/openai/deployments/gpt-4o/chat/completions"
LLM = "/llm/chat/completions"
Q = {"api-version": "2024-10-21"}
MISSING = {"statusCode": 401, "message": "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API."}
INVALID = {"statusCode": 401, "message": "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription."}


@pytest.fixture(scope="module")
def sb():
    sandbox = build_sandbox(seed=1, subscriptions=40, options={"traffic": False, "model_latency_scale": 0})
    info = sandbox.start_in_thread()
    with httpx.Client(base_url=info["gateway_url"], timeout=10) as gw, httpx.Client(base_url=info["management_url"], timeout=10) as mgmt:
        yield sandbox, info, gw, mgmt
    sandbox.stop()


def chat(content="hello there", max_tokens=20, **extra):
    return {"messages": [{"role": "user", "content": content}], "max_tokens": max_tokens, **extra}


def key(sandbox, sid, slot="primary"):
    sub = sandbox.state.get_subscription(sid)
    return sub.primary_key if slot == "primary" else sub.secondary_key


def test_info_announces_gateway_metrics_and_apis(sb):
    _, info, _, mgmt = sb
    for name in ("gateway_url", "metrics_url", "monitor_url", "resource_id", "app_insights_resource_id"):
        assert info[name]
    apis = {a["id"]: a for a in info["apis"]}
    assert apis["azure-openai"] == {"id": "azure-openai", "path": "openai", "kind": "azure-openai",
                                    "deployments": ["gpt-4o", "gpt-4o-mini", "text-embedding-3-small"]}
    assert apis["llm"]["kind"] == "openai" and "phi-4" in apis["llm"]["models"]
    assert mgmt.get("/_sandbox/info").json()["gateway_url"] == info["gateway_url"]


def test_keys_in_every_accepted_place_and_apim_401_bodies(sb):
    sandbox, _, gw, _ = sb
    k = key(sandbox, "support-bot-prod")
    assert gw.post(AOAI, params=Q, json=chat(), headers={"api-key": k}).status_code == 200
    assert gw.post(AOAI, params=Q, json=chat(), headers={"Ocp-Apim-Subscription-Key": k}).status_code == 200
    assert gw.post(AOAI, params={**Q, "subscription-key": k}, json=chat()).status_code == 200
    k2 = key(sandbox, "support-bot-prod", "secondary")
    assert gw.post(LLM, json=chat(model="phi-4"), headers={"Ocp-Apim-Subscription-Key": k2}).status_code == 200
    r = gw.post(AOAI, params=Q, json=chat())
    assert (r.status_code, r.json()) == (401, MISSING)
    r = gw.post(AOAI, params=Q, json=chat(), headers={"api-key": "0" * 32})
    assert (r.status_code, r.json()) == (401, INVALID)


def test_inactive_subscriptions_and_uncovered_scopes_are_refused(sb):
    sandbox, _, gw, _ = sb
    state = sandbox.state
    suspended = next(s for s in state.iter_subscriptions() if s.state == "suspended")
    r = gw.post(LLM if suspended.scope_kind != "api" or suspended.scope_id == "llm" else AOAI,
                params=Q, json=chat(model="phi-4"), headers={"api-key": suspended.primary_key})
    assert (r.status_code, r.json()) == (401, INVALID)
    # batch-summarizer is on the "starter" product, which holds only the llm API.
    r = gw.post(AOAI, params=Q, json=chat(), headers={"api-key": key(sandbox, "batch-summarizer")})
    assert (r.status_code, r.json()) == (401, INVALID)
    api_scoped = next(s for s in state.iter_subscriptions() if s.scope_kind == "api" and s.state == "active")
    other = AOAI if api_scoped.scope_id == "llm" else LLM
    assert gw.post(other, params=Q, json=chat(model="phi-4"), headers={"api-key": api_scoped.primary_key}).status_code == 401


@pytest.mark.parametrize(
    ("path", "params", "body", "status", "fragment"),
    [
        ("/openai/deployments/nope/chat/completions", Q, chat(), 404, "DeploymentNotFound"),
        (AOAI, {}, chat(), 404, "Resource not found"),
        (LLM, {}, chat(model="gpt-5"), 404, "model_not_found"),
        (AOAI, Q, b"{not json", 400, "could not parse the JSON body"),
        (AOAI, Q, {"messages": "hi"}, 400, "'messages' is a required property"),
        (AOAI, Q, chat(max_tokens=-1), 400, "max_tokens"),
        (AOAI, Q, chat(content="x" * 70_000), 400, "context_length_exceeded"),
        ("/nowhere/at/all", {}, chat(), 404, "Resource not found"),
        ("/openai/deployments/gpt-4o/unknown-operation", Q, chat(), 404, "Resource not found"),
    ],
)
def test_bad_input_gets_status_and_body_never_a_crash(sb, path, params, body, status, fragment):
    sandbox, _, gw, _ = sb
    headers = {"api-key": key(sandbox, "platform-all-apis")}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    r = gw.post(path, params=params, content=content, headers={**headers, "content-type": "application/json"})
    assert r.status_code == status
    assert fragment in r.text
    assert gw.post(AOAI, params=Q, json=chat(), headers=headers).status_code == 200  # still serving


def test_oversize_upload_is_refused_with_413(sb):
    sandbox, _, gw, _ = sb
    r = gw.post(AOAI, params=Q, content=b"x" * 1_200_000, headers={"api-key": key(sandbox, "platform-all-apis")})
    assert r.status_code == 413 and r.json()["statusCode"] == 413


def test_stream_true_answers_server_sent_events_with_usage(sb):
    sandbox, _, gw, _ = sb
    body = chat(max_tokens=12, stream=True, stream_options={"include_usage": True})
    with gw.stream("POST", AOAI, params=Q, json=body, headers={"api-key": key(sandbox, "platform-all-apis")}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        frames = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert frames[-1] == "[DONE]"
    chunks = [json.loads(f) for f in frames[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert len(text.split()) == 12
    assert chunks[-1]["usage"]["completion_tokens"] == 12


def test_minute_limit_429_retry_after_and_recovery_via_clock_endpoint(sb):
    sandbox, _, gw, mgmt = sb
    headers = {"Ocp-Apim-Subscription-Key": key(sandbox, "eval-harness")}  # starter: 1000 tokens/min
    statuses = []
    for _ in range(12):
        r = gw.post(LLM, json=chat("x" * 400, 150, model="phi-4"), headers=headers)
        statuses.append(r.status_code)
        if r.status_code == 429:
            break
    assert statuses[-1] == 429 and statuses.count(200) >= 3
    assert r.json()["message"].startswith("Token limit is exceeded. Try again in ")
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert r.headers["x-ratelimit-remaining-tokens"] == "0"
    mgmt.post("/_sandbox/clock", json={"advance_seconds": 61}).raise_for_status()
    assert gw.post(LLM, json=chat(model="phi-4"), headers=headers).status_code == 200


def test_choose_override_over_http_applies_until_its_instant(sb):
    sandbox, _, gw, mgmt = sb
    state = sandbox.state
    until = (state.clock.now() + timedelta(minutes=10)).replace(microsecond=0)
    stamp = f"new DateTime({until.year}, {until.month}, {until.day}, {until.hour}, {until.minute}, {until.second}, DateTimeKind.Utc)"
    limit = '<llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="{}" estimate-prompt-tokens="true" />'
    xml = (
        "<policies><inbound><base />"
        "<!-- aiconsole:override -->"
        '<choose><when condition="@(context.Subscription.Id == &quot;batch-summarizer&quot; &amp;&amp; '
        f'DateTime.UtcNow &lt; {stamp})">{limit.format(100000)}</when>'
        f"<otherwise>{limit.format(1000)}</otherwise></choose>"
        "</inbound><backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error></policies>"
    )
    original = state.get_policy("product:starter").xml
    state.put_policy("product:starter", xml)
    try:
        headers = {"Ocp-Apim-Subscription-Key": key(sandbox, "batch-summarizer")}
        for _ in range(8):  # ~2,400 tokens: over 1000, under the raised 100000
            assert gw.post(LLM, json=chat("y" * 800, 100, model="phi-4"), headers=headers).status_code == 200
        mgmt.post("/_sandbox/clock", json={"set": (until + timedelta(seconds=1)).isoformat()}).raise_for_status()
        statuses = [gw.post(LLM, json=chat("y" * 800, 100, model="phi-4"), headers=headers).status_code for _ in range(6)]
        assert 429 in statuses
    finally:
        state.put_policy("product:starter", original)


def test_unreadable_stored_policy_fails_its_requests_only(sb):
    sandbox, _, gw, _ = sb
    state = sandbox.state
    original = state.get_policy("api:llm").xml
    state.put_policy("api:llm", "<policies><inbound><base/>")  # stored around validation: broken
    try:
        headers = {"api-key": key(sandbox, "platform-all-apis")}
        r = gw.post(LLM, json=chat(model="phi-4"), headers=headers)
        assert (r.status_code, r.json()) == (500, {"statusCode": 500, "message": "Internal server error"})
        assert gw.post(AOAI, params=Q, json=chat(), headers=headers).status_code == 200
    finally:
        state.put_policy("api:llm", original)
    assert gw.post(LLM, json=chat(model="phi-4"), headers=headers).status_code == 200


def test_faults_switch_on_and_off_at_run_time(sb):
    sandbox, _, gw, mgmt = sb
    headers = {"api-key": key(sandbox, "platform-all-apis")}
    mgmt.post("/_sandbox/faults", json={"error_rate": 1.0}).raise_for_status()
    try:
        r = gw.post(AOAI, params=Q, json=chat(), headers=headers)
        assert r.status_code == 500 and r.json()["error"]["code"] == "InternalServerError"
    finally:
        mgmt.post("/_sandbox/faults", json={"error_rate": 0.0}).raise_for_status()
    assert gw.post(AOAI, params=Q, json=chat(), headers=headers).status_code == 200
    mgmt.post("/_sandbox/faults", json={"latency_ms": 150}).raise_for_status()
    try:
        r = gw.post(AOAI, params=Q, json=chat(), headers=headers)
        assert r.status_code == 200 and r.elapsed.total_seconds() >= 0.15
    finally:
        mgmt.post("/_sandbox/faults", json={"latency_ms": 0}).raise_for_status()


def test_status_endpoint_is_healthy_without_node_mode(sb):
    _, _, gw, _ = sb
    assert gw.get("/status-0123456789abcdef").status_code == 200


def test_bad_input_leaves_a_log_line_without_the_key(sb, caplog):
    sandbox, _, gw, _ = sb
    k = key(sandbox, "platform-all-apis")
    with caplog.at_level("WARNING", logger="aiconsole.sandbox.gateway"):
        assert gw.post(AOAI, params=Q, content=b"[1, 2", headers={"api-key": k}).status_code == 400
        assert gw.post("/openai/deployments/missing/chat/completions", params=Q, json=chat(), headers={"api-key": k}).status_code == 404
    assert "malformed chat request" in caplog.text and "unknown deployment" in caplog.text
    assert k not in caplog.text
