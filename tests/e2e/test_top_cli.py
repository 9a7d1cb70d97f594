"""``aiconsole top`` and ``aiconsole probe`` against a sandbox with no simulated traffic, so every
request is one this test sent and the counts are exact; the sandbox clock is moved instead of
sleeping so that per-minute (Azure Monitor) data is complete."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from aiconsole.backends.connect import sandbox_connection
from aiconsole.services.triage import aggregate
from aiconsole.telemetry.prometheus import PrometheusSource, parse_exposition
from tests.sandbox_fixture import ROOT, sdk_client, start_sandbox

QUIET = "support-bot-prod"


@pytest.fixture(scope="module")
def sandbox():
    info, stop = start_sandbox(subscriptions=50, seed=1, traffic=False)
    yield info
    stop()


def key_of(info, sid: str) -> str:
    client = sdk_client(info)
    return client.subscription.list_secrets(info["resource_group"], info["service_name"], sid).primary_key


def llm(info) -> dict:
    return next(a for a in info["apis"] if a["id"] == "llm")


def call(info, key: str, max_tokens: int = 200, repeat: int = 20) -> httpx.Response:
    api = llm(info)
    body = {"model": api["models"][0], "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": "Summarise the incident log in one line. " * repeat}]}
    return httpx.post(f"{info['gateway_url']}/{api['path']}/chat/completions", json=body, headers={"api-key": key})


def cli(info, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess, as a user runs it (slow: pays for the imports)."""
    return subprocess.run([sys.executable, "-m", "aiconsole", "--sandbox", info["management_url"], *argv],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def run_main(capsys, info, *argv: str) -> subprocess.CompletedProcess:
    """The CLI's ``main`` in this process (same code path, without the start-up cost)."""
    from aiconsole.cli.main import main

    capsys.readouterr()
    code = main(["--sandbox", info["management_url"], *argv])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(argv, code, out, err)


def counters(info) -> dict:
    return parse_exposition(httpx.get(info["metrics_url"]).text)


def advance(info, seconds: float) -> None:
    httpx.post(f"{info['management_url']}/_sandbox/clock", json={"advance_seconds": seconds}).raise_for_status()


@pytest.fixture(scope="module")
def sent(sandbox):
    """Traffic this module sends once: a quiet subscription well under its limit, the noisy one
    well over it. Returns the statuses and tokens the clients saw."""
    noisy = sandbox["noisy_subscription"]
    seen = {QUIET: {"tokens": 0, 200: 0, 429: 0}, noisy: {"tokens": 0, 200: 0, 429: 0}}
    quiet_key, noisy_key = key_of(sandbox, QUIET), key_of(sandbox, noisy)
    for sid, key, n in ((QUIET, quiet_key, 6), (noisy, noisy_key, 12)):
        for _ in range(n):
            r = call(sandbox, key)
            seen[sid][r.status_code] = seen[sid].get(r.status_code, 0) + 1
            if r.status_code == 200:
                seen[sid]["tokens"] += r.json()["usage"]["total_tokens"]
    assert seen[noisy][429] > 0 and seen[QUIET][429] == 0
    return seen


def test_prometheus_rates_equal_the_sandbox_counters_between_two_scrapes(sandbox):
    """Adapter level: scrape, send, scrape — the increase is exactly what was sent."""
    source = PrometheusSource(sandbox["metrics_url"])
    try:
        source.observe()
        key = key_of(sandbox, QUIET)
        tokens = 0
        for _ in range(3):
            r = call(sandbox, key)
            assert r.status_code == 200
            tokens += r.json()["usage"]["total_tokens"]
        snap = source.sample(3600)
        row = next(r for r in aggregate(snap) if r.key == QUIET)
        assert row.tokens_per_minute * snap.window_seconds / 60 == pytest.approx(tokens)
        assert row.requests_per_minute * snap.window_seconds / 60 == pytest.approx(3)
        assert row.throttled_per_minute == 0
    finally:
        source.close()


def test_top_once_monitor_agrees_with_the_sandbox_counters(capsys, sandbox, sent):
    noisy = sandbox["noisy_subscription"]
    advance(sandbox, 120)  # the minutes with our traffic are complete now
    before = counters(sandbox)
    r = run_main(capsys, sandbox, "top", "--once", "--source", "monitor", "--window", "5m", "-o", "json")
    assert r.returncode == 0, r.stderr
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    tokens_by_sid: dict[str, float] = {}
    for k, v in before.items():
        if k[0] == "tok":
            tokens_by_sid[k[1]] = tokens_by_sid.get(k[1], 0.0) + v
    for sid in (QUIET, noisy):
        assert rows[sid]["tokens_per_minute"] == pytest.approx(tokens_by_sid[sid] / 5, abs=0.01)
        assert rows[sid]["data_age_seconds"] >= 0
        # Requests has no subscription dimension: 429s per subscription come from the gateway log
        sid_429 = sum(v for k, v in before.items() if k[0] == "req" and k[1] == sid and k[4] == 429)
        assert rows[sid]["throttled_per_minute"] == pytest.approx(sid_429 / 5, abs=0.01)
    assert rows[noisy]["throttled_per_minute"] > 0
    assert rows[noisy]["limit_tokens_per_minute"] == 1000
    assert rows[QUIET]["limit_tokens_per_minute"] > 1000
    by_api = run_main(capsys, sandbox, "top", "--once", "--source", "monitor", "--window", "5m", "--by", "api", "-o", "json")
    api_rows = {row["name"]: row for row in json.loads(by_api.stdout)}
    api_429 = sum(v for k, v in before.items() if k[0] == "req" and k[3] == "llm" and k[4] == 429)
    assert api_rows["llm"]["throttled_per_minute"] == pytest.approx(api_429 / 5, abs=0.01)


def test_top_once_prometheus_puts_the_noisy_subscription_first_with_its_cause(sandbox, sent):
    noisy = sandbox["noisy_subscription"]
    key = key_of(sandbox, noisy)
    # Keep it refused while the CLI takes its two scrapes.
    import threading

    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            call(sandbox, key)
            stop.wait(0.05)

    t = threading.Thread(target=hammer, daemon=True)
    t.start()
    try:
        before = counters(sandbox)
        r = cli(sandbox, "top", "--once", "--interval", "1.5", "-o", "json")
        after = counters(sandbox)
    finally:
        stop.set()
        t.join()
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    top = rows[0]
    assert top["name"] == noisy
    assert top["limit_tokens_per_minute"] == 1000
    assert top["throttled_per_minute"] > 0
    [cause] = [c for c in top["causes"] if c["status"] == 429]
    assert (cause["reason"], cause["policy"], cause["scope"]) == ("token-rate", "llm-token-limit", "product:starter")
    # what the CLI saw between its scrapes is within what the sandbox counted around it
    key429 = ("req", noisy, "starter", "llm", 429)
    seen = top["throttled_per_minute"] * 1.5 / 60
    assert 0 < seen <= after[key429] - before.get(key429, 0) + 1
    for row in rows:
        for field in ("tokens_per_minute", "requests_per_minute", "throttled_per_minute", "quota_refused_per_minute"):
            assert row[field] is None or row[field] >= 0


def test_top_table_output_and_bad_source(capsys, sandbox):
    r = run_main(capsys, sandbox, "top", "--once", "--interval", "0.5", "-o", "table")
    assert r.returncode == 0, r.stderr
    assert "TOK/MIN" in r.stdout and "data " in r.stdout
    bad = run_main(capsys, sandbox, "top", "--once", "--window", "forever")
    assert bad.returncode == 2 and "window" in bad.stderr


def test_top_with_the_metrics_endpoint_down_says_so(sandbox):
    conn = sandbox_connection(sandbox["management_url"])
    conn.sandbox_info = {**conn.sandbox_info, "metrics_url": "http://127.0.0.1:9/metrics"}
    from aiconsole.telemetry.port import TelemetryError
    from aiconsole.telemetry.select import build_source

    source = build_source(conn, "prometheus")
    with pytest.raises(TelemetryError) as info:
        source.sample(60)
    assert "Cannot reach" in info.value.message


def test_probe_reads_the_limit_headers(capsys, sandbox, sent):
    r = run_main(capsys, sandbox, "probe", QUIET, "-o", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["status"] == 200
    assert data["remaining_tokens"] is not None
    assert "x-ratelimit-remaining-tokens" in data["headers"]
    key = key_of(sandbox, QUIET)
    assert key not in r.stdout and key not in r.stderr


def test_probe_of_a_throttled_subscription_reports_retry_after(capsys, sandbox, sent):
    noisy = sandbox["noisy_subscription"]
    key = key_of(sandbox, noisy)
    for _ in range(30):  # until even a one-word request is refused
        call(sandbox, key, max_tokens=400)
        if call(sandbox, key, max_tokens=1, repeat=1).status_code == 429:
            break
    r = run_main(capsys, sandbox, "probe", noisy, "-o", "json")
    data = json.loads(r.stdout)
    assert r.returncode == 1
    assert data["status"] == 429 and data["retry_after_seconds"] >= 1
    assert "Throttled" in data["outcome"]


def test_probe_with_a_suspended_key_is_a_sentence_not_a_crash(capsys, sandbox):
    client = sdk_client(sandbox)
    sid = "probe-suspended"
    from azure.mgmt.apimanagement.models import SubscriptionCreateParameters

    client.subscription.create_or_update(sandbox["resource_group"], sandbox["service_name"], sid,
                                         SubscriptionCreateParameters(scope="/apis/llm", display_name="probe",
                                                                      state="suspended"))
    r = run_main(capsys, sandbox, "probe", sid, "-o", "json")
    assert r.returncode == 1, r.stderr
    data = json.loads(r.stdout)
    assert data["status"] == 401 and "refused" in data["outcome"]
    assert "Traceback" not in r.stderr
    vanished = run_main(capsys, sandbox, "probe", "no-such-subscription", "-o", "json")
    assert vanished.returncode != 0 and "Traceback" not in vanished.stderr


def test_top_refreshes_in_place_on_a_terminal_and_stops_on_ctrl_c(sandbox):
    """Without --once on a TTY: home-cursor redraws (no scrolling), plain ANSI, exit 0 on SIGINT."""
    import os
    import pty
    import select
    import signal
    import time

    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(ROOT)
        os.execv(sys.executable, [sys.executable, "-m", "aiconsole", "--sandbox", sandbox["management_url"], "top",
                                  "--interval", "0.5"])
    out = b""
    deadline = time.monotonic() + 60
    try:
        while out.count(b"\x1b[H") < 3 and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.5)[0]:
                try:
                    out += os.read(fd, 65536)
                except OSError:
                    break
        os.kill(pid, signal.SIGINT)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    assert out.count(b"\x1b[H") >= 3, out[-500:]
    assert b"TOK/MIN" in out and b"data " in out
    assert os.waitstatus_to_exitcode(status) == 0
