"""Two-slot rotation against a sandbox whose simulated consumer really uses a key slot (journey J3).

The consumer calls the sandbox gateway with the key of its slot; the gateway's Prometheus
metrics count calls per slot; the rotation infers the slot in use from them, waits for the old
slot to go quiet (time is injected: each poll advances a fake clock while traffic flows for a
moment), and the consumer never sees a 401. Killing the CLI with SIGKILL at every step and
running the same command again finishes the rotation without regenerating any slot twice.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest

from aiconsole.domain.secrets import fingerprint
from aiconsole.services.slot_usage import PrometheusSlotUsage
from tests.e2e.cli import create, journal, keys, run
from tests.sandbox_fixture import start_sandbox, wait_for


@pytest.fixture(scope="module")
def sandbox():
    info, stop = start_sandbox(seed=5, subscriptions=30, traffic=True, rps=20)
    yield info
    stop()


def consumer(sandbox, sid, **changes):
    url = f"{sandbox['management_url']}/_sandbox/consumers/{sid}"
    r = httpx.post(url, json=changes, timeout=10) if changes else httpx.get(url, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def gateway_status(sandbox, key):
    return httpx.post(f"{sandbox['gateway_url']}/openai/deployments/gpt-4o/chat/completions",
                      params={"api-version": "2024-10-21"}, headers={"api-key": key},
                      json={"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}, timeout=10).status_code


@pytest.fixture
def fast_clock(monkeypatch):
    """Each poll of --wait-idle advances a fake clock by the poll interval while traffic flows for 0.15 s."""
    from aiconsole.cli.commands import keys as keys_cmd

    now = {"t": 1000.0}

    def sleep(seconds):
        time.sleep(0.15)
        now["t"] += seconds

    monkeypatch.setattr(keys_cmd, "_clock", lambda: (lambda: now["t"]))
    monkeypatch.setattr(keys_cmd, "_sleeper", lambda: sleep)
    return now


def test_metrics_count_calls_per_slot(capsys, sandbox):
    create(capsys, sandbox, "rot-metrics")
    consumer(sandbox, "rot-metrics", slot="secondary", rps_share=1.0)
    usage = PrometheusSlotUsage(sandbox["metrics_url"])
    wait_for(lambda: usage.calls_by_slot("rot-metrics")["secondary"] >= 2, "secondary-slot calls")
    assert usage.calls_by_slot("rot-metrics")["primary"] == 0
    code, out, err = run(capsys, sandbox, "keys", "slots", "rot-metrics")
    assert code == 0, err
    assert out["primary"] == 0 and out["secondary"] >= 2 and out["source"] == sandbox["metrics_url"]
    consumer(sandbox, "rot-metrics", enabled=False)


def test_two_slot_rotation_with_a_consumer_that_switches(capsys, sandbox, fast_clock):
    sid = "rot-j3"
    create(capsys, sandbox, sid)
    old = keys(sandbox, sid)
    consumer(sandbox, sid, slot="primary", rps_share=1.0)
    usage = PrometheusSlotUsage(sandbox["metrics_url"])
    wait_for(lambda: usage.calls_by_slot(sid)["primary"] >= 3, "primary-slot calls")

    # 1. inferred slot, idle slot regenerated, key handed over; stop there
    code, out, err = run(capsys, sandbox, "keys", "rotate", sid, "--two-slot", "--handover-only", "--yes")
    assert code == 0, err
    assert (out["in_use_before"], out["in_use_source"], out["new_slot"], out["status"]) == (
        "primary", "telemetry", "secondary", "waiting")
    assert out["new_key"].startswith("••••")
    now = keys(sandbox, sid)
    assert now["primary"] == old["primary"] and now["secondary"] != old["secondary"]
    assert out["new_key_fingerprint"] == fingerprint(now["secondary"])

    # 2. while consumers still use the old slot, --wait-idle does not finish (and changes nothing)
    code, out, err = run(capsys, sandbox, "keys", "rotate", sid, "--two-slot", "--wait-idle", "30s",
                         "--poll-interval", "5s", "--wait-timeout", "60s", "--yes")
    assert code == 1 and "still in use" in err and "run the same command again" in err
    assert keys(sandbox, sid)["primary"] == old["primary"]

    # 3. the consumer moves; the old slot goes quiet; the rotation finishes
    consumer(sandbox, sid, slot="secondary")
    base = usage.calls_by_slot(sid)["secondary"]
    wait_for(lambda: usage.calls_by_slot(sid)["secondary"] >= base + 3, "calls on the new key")
    code, out, err = run(capsys, sandbox, "keys", "rotate", sid, "--two-slot", "--wait-idle", "30s",
                         "--poll-interval", "5s", "--yes", "--show-keys")
    assert code == 0, err
    assert out["status"] == "done" and out["resumed"] is True
    final = keys(sandbox, sid)
    assert final["primary"] != old["primary"] and final["secondary"] == now["secondary"]
    assert out["new_key"] == final["secondary"]

    # the consumer never failed; the old key is refused, the new one works
    stats = consumer(sandbox, sid, enabled=False)["stats"]
    assert stats["unauthorized"] == 0 and stats["ok"] > 0
    assert gateway_status(sandbox, old["primary"]) == 401
    assert gateway_status(sandbox, final["secondary"]) == 200

    entries = journal(sid)
    steps = [e["action"] for e in entries if e["action"].startswith("keys.rotate")]
    assert steps.count("keys.rotate") == 2 and "keys.rotate.idle" in steps and steps[-1] == "keys.rotate.done"
    idle = next(e for e in entries if e["action"] == "keys.rotate.idle")
    assert idle["after"]["how"] == "telemetry"
    text = json.dumps(entries)
    for value in list(old.values()) + list(final.values()):
        assert value not in text
    from aiconsole.config import paths

    for path in (paths.state_dir() / "rotations").rglob("*.json"):
        for value in list(old.values()) + list(final.values()):
            assert value not in path.read_text()
