"""Simulated traffic (on/off, slot switching, the noisy consumer) and node mode health."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from aiconsole.sandbox.server import SandboxError, build_sandbox


def poll(predicate, timeout=15.0, interval=0.05):
    """Wait for a condition with a bounded poll (no fixed sleeps standing in for timing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def scrape(client, url):
    out = {}
    for family in text_string_to_metric_families(client.get(url).text):
        for s in family.samples:
            out.setdefault(s.name, []).append(s)
    return out


@pytest.fixture(scope="module")
def traffic_sb():
    sandbox = build_sandbox(seed=1, subscriptions=60, options={"traffic": False, "rps": 20, "model_latency_scale": 0})
    info = sandbox.start_in_thread()
    with httpx.Client(base_url=info["management_url"], timeout=10) as mgmt, httpx.Client(timeout=10) as http:
        yield sandbox, info, mgmt, http
        mgmt.post("/_sandbox/traffic", json={"enabled": False})
    sandbox.stop()


def _count(samples, name, **labels):
    return sum(s.value for s in samples.get(name, []) if all(s.labels.get(k) == v for k, v in labels.items()))


def test_traffic_switches_on_throttles_the_noisy_consumer_and_off(traffic_sb):
    sandbox, info, mgmt, http = traffic_sb
    assert mgmt.get("/_sandbox/traffic").json()["enabled"] is False
    state = mgmt.post("/_sandbox/traffic", json={"enabled": True}).json()
    assert state["enabled"] is True and state["rps"] == 20
    roles = {c["role"] for c in state["consumers"]}
    assert {"noisy", "quota", "regular"} <= roles
    assert any(c["slot"] == "secondary" for c in state["consumers"])
    noisy = info["noisy_subscription"]
    poll(lambda: _count(scrape(http, info["metrics_url"]), "aiconsole_sandbox_throttled_requests_total",
                        subscription_id=noisy, reason="token-rate") > 0)
    mgmt.post("/_sandbox/traffic", json={"enabled": False}).raise_for_status()
    before = _count(scrape(http, info["metrics_url"]), "azure_apim_requests_total")

    def settled():
        nonlocal before
        now = _count(scrape(http, info["metrics_url"]), "azure_apim_requests_total")
        same, before = now == before, now
        return same

    poll(settled, interval=0.3)
    assert mgmt.get("/_sandbox/traffic").json()["enabled"] is False


def test_a_consumer_switches_key_slot_on_request(traffic_sb):
    sandbox, info, mgmt, http = traffic_sb
    sid = "support-bot-prod"
    r = mgmt.post(f"/_sandbox/consumers/{sid}", json={"slot": "secondary", "rps_share": 0.3})
    assert r.status_code == 200 and r.json()["slot"] == "secondary"
    mgmt.post("/_sandbox/traffic", json={"enabled": True}).raise_for_status()
    try:
        start = _count(scrape(http, info["metrics_url"]), "aiconsole_sandbox_key_slot_requests_total", subscription_id=sid, slot="secondary")
        poll(lambda: _count(scrape(http, info["metrics_url"]), "aiconsole_sandbox_key_slot_requests_total",
                            subscription_id=sid, slot="secondary") > start)
    finally:
        mgmt.post("/_sandbox/traffic", json={"enabled": False})
    assert mgmt.get(f"/_sandbox/consumers/{sid}").json()["slot"] == "secondary"
    assert mgmt.post("/_sandbox/consumers/nope-not-a-sub", json={"slot": "primary"}).status_code == 404
    assert mgmt.post(f"/_sandbox/consumers/{sid}", json={"slot": "tertiary"}).status_code == 400
    assert mgmt.post("/_sandbox/traffic", json={"rps": -1}).status_code == 400
    assert mgmt.post("/_sandbox/traffic", content=b"{nope").status_code == 400


def test_node_mode_turns_degraded_when_its_key_is_regenerated_or_it_expires():
    from aiconsole.sandbox.seed import build_state

    # The world is seeded, so a token minted from a twin state verifies in the sandbox too.
    twin = build_state(1, 20)
    gid = "gw-frankfurt-onprem"
    token = twin.generate_gateway_token(gid, "primary", twin.clock.now() + timedelta(days=2))
    sandbox = build_sandbox(seed=1, subscriptions=20, options={"node_of": gid, "node_token": token, "model_latency_scale": 0})
    info = sandbox.start_in_thread()
    try:
        assert info["node_of"] == gid and token not in str(info)
        with httpx.Client(timeout=10) as http:
            status = info["gateway_url"] + "/status-0123456789abcdef"
            r = http.get(status)
            assert r.status_code == 200 and r.json()["status"] == "healthy" and r.json()["tokenKeyType"] == "primary"
            assert token not in r.text
            sandbox.state.regenerate_gateway_key(gid, "secondary")
            assert http.get(status).status_code == 200  # the other slot does not matter
            samples = scrape(http, info["metrics_url"])
            assert _count(samples, "aiconsole_sandbox_node_healthy", gateway_id=gid) == 1
            sandbox.state.regenerate_gateway_key(gid, "primary")
            r = http.get(status)
            assert r.status_code == 503 and r.json() == {**r.json(), "status": "degraded", "reason": "bad-signature"}
            samples = scrape(http, info["metrics_url"])
            assert _count(samples, "aiconsole_sandbox_node_healthy", gateway_id=gid) == 0
            # A fresh token from the new key makes it healthy again; the clock passing its expiry does not.
            fresh = sandbox.state.generate_gateway_token(gid, "primary", sandbox.state.clock.now() + timedelta(hours=1))
            sandbox.gateway_extension.node.set_token(fresh)
            assert http.get(status).status_code == 200
            http.post(info["management_url"] + "/_sandbox/clock", json={"advance_seconds": 7200}).raise_for_status()
            r = http.get(status)
            assert r.status_code == 503 and r.json()["reason"] == "expired"
    finally:
        sandbox.stop()


def test_node_mode_arguments_are_checked():
    with pytest.raises(SandboxError, match="Unknown gateway"):
        build_sandbox(seed=1, subscriptions=5, options={"node_of": "nope", "node_token": "x"})
    with pytest.raises(SandboxError, match="needs --node-token"):
        build_sandbox(seed=1, subscriptions=5, options={"node_of": "gw-seattle-edge"})
    with pytest.raises(SandboxError, match="needs --node-of"):
        build_sandbox(seed=1, subscriptions=5, options={"node_token": "x"})


def test_default_mix_throttles_the_noisy_consumer_every_minute_and_spends_the_quota_hourly():
    """At the default rate the noisy consumer asks far more than its 1,000 tokens/min and the quota
    consumer more than its 20,000 tokens/hour while staying under its 5,000 tokens/min."""
    from aiconsole.sandbox.gateway.synthetic import ChatRequest, estimate_prompt_tokens
    from aiconsole.sandbox.seed import build_state
    from aiconsole.sandbox.traffic import DEFAULT_RPS, seeded_consumers

    state = build_state(1, 60)
    consumers = seeded_consumers(state, 1)
    assert abs(sum(c.share for c in consumers) - 1.0) < 1e-9

    def tokens_per_minute(c):
        prompt = estimate_prompt_tokens(ChatRequest(None, "You are a concise assistant.\n" + "x" * c.prompt_chars, 2, c.max_tokens, False, False))
        return DEFAULT_RPS * c.share * 60 * (prompt + c.max_tokens)

    noisy = [c for c in consumers if c.role == "noisy"]
    [quota] = [c for c in consumers if c.role == "quota"]
    assert all(tokens_per_minute(c) > 3 * 1000 for c in noisy)
    assert 20_000 < tokens_per_minute(quota) * 60 and tokens_per_minute(quota) < 5_000
    assert any(c.slot == "secondary" for c in consumers) and sum(c.slot == "primary" for c in consumers) > len(consumers) / 2
    assert len({c.rhythm for c in consumers}) == 3
