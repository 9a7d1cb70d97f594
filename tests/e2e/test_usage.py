"""``aiconsole usage`` against the sandbox: window totals equal what the gateway itself counted.

Requests are explicit (no simulated traffic); the sandbox clock is moved between two batches so
that a window can hold one batch and not the other.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from datetime import timedelta

import httpx
import pytest

from aiconsole.backends.connect import sandbox_connection
from aiconsole.cli.main import main
from aiconsole.telemetry.prometheus import parse_exposition
from tests.sandbox_fixture import sandbox_clock, start_sandbox

SUBS = ("support-bot-prod", "platform-all-apis")


@pytest.fixture(scope="module")
def sandbox():
    info, stop = start_sandbox(subscriptions=12, seed=9, traffic=False)
    yield info
    stop()


def send(info, keys, n):
    for i in range(n):
        for sid in SUBS:
            r = httpx.post(f"{info['gateway_url']}/openai/deployments/gpt-4o/chat/completions",
                           params={"api-version": "2024-10-21"},
                           json={"messages": [{"role": "user", "content": "word " * (5 + i)}], "max_tokens": 10 + i},
                           headers={"api-key": keys[sid]})
            assert r.status_code == 200


def counted(info) -> dict[str, float]:
    """Total tokens per subscription from the sandbox's own Prometheus counters."""
    out: dict[str, float] = {}
    for key, value in parse_exposition(httpx.get(info["metrics_url"]).text).items():
        if key[0] == "tok":
            out[key[1]] = out.get(key[1], 0.0) + value
    return out


def usage(info, *args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(["--sandbox", info["management_url"], *args]) == 0
    return out.getvalue()


def test_window_totals_equal_the_gateway_counters(sandbox):
    backend = sandbox_connection(sandbox["management_url"]).backend()
    keys = {sid: backend.list_secrets(sid).primary_key.get_secret_value() for sid in SUBS}
    t0 = sandbox_clock(sandbox)
    send(sandbox, keys, 3)
    first = counted(sandbox)
    t1 = sandbox_clock(sandbox, advance_seconds=7200)
    send(sandbox, keys, 2)
    both = counted(sandbox)
    t2 = sandbox_clock(sandbox)

    def window(start, end):
        data = json.loads(usage(sandbox, "usage", "--from", start.isoformat(), "--to", end.isoformat(),
                                "-o", "json"))
        return {r["key"]: r for r in data["rows"]}, data["totals"]

    early, totals = window(t0 - timedelta(minutes=1), t1 - timedelta(minutes=1))
    assert {k: r["total_tokens"] for k, r in early.items()} == {k: int(v) for k, v in first.items()}
    assert totals["requests"] == 6 and all(r["requests"] == 3 for r in early.values())
    late, _ = window(t1 - timedelta(minutes=1) + timedelta(seconds=60), t2 + timedelta(minutes=1))
    assert {k: r["total_tokens"] for k, r in late.items()} == {k: int(both[k] - first[k]) for k in SUBS}
    whole, totals = window(t0 - timedelta(minutes=1), t2 + timedelta(minutes=1))
    assert totals["total_tokens"] == int(sum(both.values()))
    assert sum(r["prompt_tokens"] + r["completion_tokens"] for r in whole.values()) == totals["total_tokens"]


def test_by_product_with_a_price_as_csv(sandbox):
    now = sandbox_clock(sandbox)
    text = usage(sandbox, "usage", "--from", (now - timedelta(hours=6)).isoformat(), "--to",
                 (now + timedelta(minutes=1)).isoformat(), "--by", "product", "--price", "premium=2", "-o", "csv")
    rows = {r["key"]: r for r in csv.DictReader(io.StringIO(text))}
    assert "premium" in rows
    assert float(rows["premium"]["cost"]) == pytest.approx(int(rows["premium"]["total_tokens"]) / 1000 * 2, abs=1e-3)
    assert rows["(no product)"]["cost"] == ""  # platform-all-apis: no product, no price


def refusal_counters(info) -> dict[str, float]:
    """Refused requests (401/403/429) per subscription from the sandbox's own Prometheus counters."""
    out: dict[str, float] = {}
    for key, value in parse_exposition(httpx.get(info["metrics_url"]).text).items():
        if key[0] == "req" and key[4] in (401, 403, 429):
            out[key[1]] = out.get(key[1], 0.0) + value
    return out


def test_refused_requests_per_subscription_equal_the_gateway_counters(sandbox):
    backend = sandbox_connection(sandbox["management_url"]).backend()
    pool_key = backend.list_secrets("platform-all-apis").primary_key.get_secret_value()
    now = sandbox_clock(sandbox, advance_seconds=3600)
    start = sandbox_clock(sandbox, set=(now.replace(second=0, microsecond=0) + timedelta(minutes=1, seconds=1)).isoformat())
    before = refusal_counters(sandbox)
    # The PTU deployment behind /chat serves one such request a minute and answers the next with its own 429.
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * 400}], "max_tokens": 200}
    statuses = [httpx.post(f"{sandbox['gateway_url']}/chat/chat/completions", json=body,
                           headers={"api-key": pool_key}).status_code for _ in range(4)]
    for _ in range(3):
        assert httpx.post(f"{sandbox['gateway_url']}/openai/deployments/gpt-4o/chat/completions",
                          params={"api-version": "2024-10-21"}, json={},
                          headers={"api-key": "0" * 32}).status_code == 401
    after = refusal_counters(sandbox)
    expected = {sid: int(after[sid] - before.get(sid, 0.0)) for sid in after if after[sid] > before.get(sid, 0.0)}
    assert statuses.count(429) == 1 and expected == {"platform-all-apis": 1, "": 3}

    data = json.loads(usage(sandbox, "usage", "--from", start.isoformat(), "--to",
                            (start + timedelta(minutes=1)).isoformat(), "-o", "json"))
    rows = {r["key"]: r for r in data["rows"]}
    assert {k: r["refused"] for k, r in rows.items() if r["refused"]} == {"platform-all-apis": 1,
                                                                         "(no subscription)": 3}
    assert data["totals"]["refused"] == 4
    assert rows["platform-all-apis"]["requests"] == 4  # three served, one refused
    assert not any("Refused requests" in n for n in data["notes"])
