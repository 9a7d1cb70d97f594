"""The real CLI and the real SDK against a sandbox on a loopback socket (issue #2 item 4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.sandbox_fixture import start_sandbox


@pytest.fixture(scope="module")
def sandbox():
    info, stop = start_sandbox(subscriptions=250, seed=7)
    yield info
    stop()


def cli(sandbox_info, *args: str, env: dict | None = None, stdin=subprocess.DEVNULL):
    """Run ``aiconsole`` in a subprocess, as a script would (no TTY)."""
    full_env = {**os.environ, **(env or {})}
    url = sandbox_info["management_url"] if sandbox_info else None
    argv = [sys.executable, "-m", "aiconsole"] + (["--sandbox", url] if url else []) + list(args)
    return subprocess.run(argv, capture_output=True, text=True, env=full_env, stdin=stdin, timeout=60)


def test_subs_list_json_has_the_contract_fields_and_pages_past_100(sandbox):
    out = cli(sandbox, "-o", "json", "subs", "list")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert len(rows) == 250  # more than two pages of 100
    assert len({r["name"] for r in rows}) == 250
    for field in ("name", "display_name", "state", "scope", "owner_id", "created_date", "expiration_date"):
        assert field in rows[0]
    assert {r["state"] for r in rows} >= {"active", "suspended", "submitted"}


def test_subs_list_filters_by_state_and_text(sandbox):
    rows = json.loads(cli(sandbox, "subs", "list", "--state", "suspended", "-o", "json").stdout)
    assert rows and all(r["state"] == "suspended" for r in rows)
    every = json.loads(cli(sandbox, "subs", "list", "-o", "json").stdout)
    word = next(r["display_name"] for r in every if r["display_name"]).split()[0]
    hits = json.loads(cli(sandbox, "subs", "list", "--filter", word, "-o", "json").stdout)
    expected = {r["name"] for r in every if r["display_name"] and word.lower() in r["display_name"].lower()}
    assert {r["name"] for r in hits} == expected


def test_subs_show_resolves_the_product(sandbox):
    rows = json.loads(cli(sandbox, "subs", "list", "-o", "json").stdout)
    prod = next(r for r in rows if r["scope"].startswith("product:"))
    shown = json.loads(cli(sandbox, "subs", "show", prod["name"], "-o", "json").stdout)
    assert shown["name"] == prod["name"]
    assert shown["product"]["name"] == prod["scope"].split(":", 1)[1]


def test_keys_show_is_masked_unless_revealed(sandbox):
    sid = json.loads(cli(sandbox, "subs", "list", "-o", "json").stdout)[0]["name"]
    masked = json.loads(cli(sandbox, "keys", "show", sid, "-o", "json").stdout)
    revealed = json.loads(cli(sandbox, "keys", "show", sid, "--reveal", "-o", "json").stdout)
    assert set(masked) == {"name", "primary_key", "secondary_key"}
    assert masked["primary_key"].startswith("••••••••")
    assert masked["primary_key"].endswith(revealed["primary_key"][-4:])
    assert revealed["primary_key"] not in json.dumps(masked)


def test_rotate_without_yes_and_without_tty_is_refused(sandbox):
    sid = json.loads(cli(sandbox, "subs", "list", "-o", "json").stdout)[1]["name"]
    before = json.loads(cli(sandbox, "keys", "show", sid, "--reveal", "-o", "json").stdout)
    out = cli(sandbox, "keys", "rotate", sid, "--slot", "primary")
    assert out.returncode == 3
    assert "--yes" in out.stderr
    after = json.loads(cli(sandbox, "keys", "show", sid, "--reveal", "-o", "json").stdout)
    assert after == before


def test_rotate_changes_one_slot_and_journals_fingerprints_only(sandbox, tmp_path):
    state = tmp_path / "state"
    env = {"XDG_STATE_HOME": str(state)}
    sid = json.loads(cli(sandbox, "subs", "list", "-o", "json").stdout)[2]["name"]
    before = json.loads(cli(sandbox, "keys", "show", sid, "--reveal", "-o", "json").stdout)
    out = cli(sandbox, "keys", "rotate", sid, "--slot", "secondary", "--yes", "-o", "json", env=env)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    after = json.loads(cli(sandbox, "keys", "show", sid, "--reveal", "-o", "json").stdout)
    assert result["name"] == sid and result["slot"] == "secondary"
    assert after["primary_key"] == before["primary_key"]
    assert after["secondary_key"] != before["secondary_key"]
    assert result["fingerprint_before"] != result["fingerprint_after"]
    journal = (state / "aiconsole" / "audit.jsonl").read_text()
    assert sid in journal and result["fingerprint_after"] in journal
    assert before["secondary_key"] not in journal and after["secondary_key"] not in journal


def test_unknown_subscription_is_one_sentence_and_exit_1(sandbox):
    out = cli(sandbox, "subs", "show", "no-such-sub")
    assert out.returncode == 1
    assert out.stderr.startswith("error: ") and "not found" in out.stderr
    assert "Traceback" not in out.stderr


def test_no_sandbox_running_is_a_clear_failure():
    out = subprocess.run([sys.executable, "-m", "aiconsole", "--sandbox", "http://127.0.0.1:9", "subs", "list"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "No sandbox answers" in out.stderr and "Traceback" not in out.stderr


def test_non_loopback_http_is_refused_as_usage():
    out = subprocess.run([sys.executable, "-m", "aiconsole", "--sandbox", "http://10.1.2.3:8080", "subs", "list"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "only loopback" in out.stderr


def test_412_on_a_stale_etag_is_reported_and_writes_nothing(sandbox):
    from aiconsole.backends.connect import sandbox_connection
    from aiconsole.domain.errors import PreconditionFailedError

    backend = sandbox_connection(sandbox["management_url"]).backend()
    sub = backend.get_subscription(next(iter(backend.iter_subscription_pages()))[3].name)
    fresh = backend.update_subscription(sub.name, etag=sub.etag, display_name="renamed once")
    with pytest.raises(PreconditionFailedError) as err:
        backend.update_subscription(sub.name, etag=sub.etag, display_name="renamed twice")
    assert "changed by someone else" in err.value.message
    assert backend.get_subscription(sub.name).display_name == "renamed once" == fresh.display_name


def test_server_500_is_reported_without_traceback(sandbox):
    import httpx

    url = sandbox["management_url"]
    httpx.post(f"{url}/_sandbox/faults", json={"error_rate": 1.0}).raise_for_status()
    try:
        out = cli(sandbox, "subs", "list")
    finally:
        httpx.post(f"{url}/_sandbox/faults", json={"error_rate": 0.0}).raise_for_status()
    assert out.returncode == 1
    assert "server failed" in out.stderr and "Traceback" not in out.stderr
