"""Bulk key rotation and state changes against a sandbox answering ARM 429s at random (30%).

Every selected item ends up done exactly once: checked on the server (each key's fingerprint
changed, and a key regenerated before a SIGKILL was not regenerated again after the resume)
and in the journal (one ``ok`` entry per subscription).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from aiconsole.domain.secrets import fingerprint
from tests.e2e.cli import run
from tests.sandbox_fixture import sdk_client, set_faults, start_sandbox

N = 40


@pytest.fixture(scope="module")
def sandbox():
    from concurrent.futures import ThreadPoolExecutor

    from azure.mgmt.apimanagement.models import SubscriptionCreateParameters

    info, stop = start_sandbox(seed=8, subscriptions=30)
    client = sdk_client(info)

    def create(i):
        client.subscription.create_or_update(
            info["resource_group"], info["service_name"], f"bulk-team-{i:02d}",
            SubscriptionCreateParameters(display_name=f"Bulk team {i:02d}", scope="/products/starter",
                                         state="active"))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, range(N)))
    yield info
    stop()


def all_fps(sandbox):
    client = sdk_client(sandbox)
    out = {}
    for i in range(N):
        sid = f"bulk-team-{i:02d}"
        k = client.subscription.list_secrets(sandbox["resource_group"], sandbox["service_name"], sid)
        out[sid] = {"primary": fingerprint(k.primary_key), "secondary": fingerprint(k.secondary_key)}
    return out


def ok_entries(action):
    from aiconsole.audit.journal import AuditJournal

    counts: dict[str, int] = {}
    for e in AuditJournal().entries():
        if e["action"] == action and e["result"] == "ok":
            counts[e["target"]] = counts.get(e["target"], 0) + 1
    return counts


def test_dry_run_lists_what_would_change_and_changes_nothing(capsys, sandbox):
    before = all_fps(sandbox)
    code, rows, err = run(capsys, sandbox, "keys", "rotate", "--filter", "name~bulk-team product:starter",
                          "--slot", "secondary", "--dry-run")
    assert code == 0, err
    assert sorted(r["name"] for r in rows) == sorted(before)
    assert {r["change"] for r in rows} == {"regenerate the secondary key"}
    assert all_fps(sandbox) == before


def test_bulk_rotation_under_429s_killed_and_resumed_does_each_item_once(capsys, sandbox):
    start = all_fps(sandbox)
    set_faults(sandbox, arm_throttle_rate=0.3, retry_after_seconds=0)
    try:
        argv = [sys.executable, "-m", "aiconsole", "--sandbox", sandbox["management_url"], "-o", "json",
                "keys", "rotate", "--filter", "name~bulk-team", "--slot", "secondary", "--yes"]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "AICONSOLE_TEST_KILL_AT": "bulk_after:15"})
        assert proc.returncode == -9, proc.stderr
        set_faults(sandbox)
        at_kill = all_fps(sandbox)
        set_faults(sandbox, arm_throttle_rate=0.3, retry_after_seconds=0)
        code, results, err = run(capsys, sandbox, "keys", "rotate", "--filter", "name~bulk-team", "--slot",
                                 "secondary", "--yes")
    finally:
        set_faults(sandbox)
    assert code == 0, err
    assert len(results) == N and {r["result"] for r in results} == {"ok"}
    # Results logged before the kill are taken as they are ("resumed"). The kill comes after the 15th
    # item is applied; up to 8 workers may have applied theirs without logging the result yet, and
    # those are settled from their "start" record against the server, not regenerated again (below).
    assert 15 - 8 <= sum(r["resumed"] for r in results) <= 15 + 8
    end = all_fps(sandbox)
    regenerated_before_kill = 0
    for sid, fp in end.items():
        assert fp["primary"] == start[sid]["primary"]
        assert fp["secondary"] != start[sid]["secondary"]
        if at_kill[sid]["secondary"] != start[sid]["secondary"]:
            regenerated_before_kill += 1
            assert fp["secondary"] == at_kill[sid]["secondary"], f"{sid} regenerated twice"
    assert regenerated_before_kill >= 15
    by = {r["name"]: r for r in results}
    for sid, fp in end.items():
        assert by[sid]["fingerprint_after"] == fp["secondary"]
        assert by[sid]["fingerprint_before"] == start[sid]["secondary"]
    assert ok_entries("keys.rotate") == {f"subscription:{sid}": 1 for sid in end}
    from aiconsole.audit.journal import AuditJournal

    # throttled attempts that got past the SDK's own Retry-After retries are journaled as failed
    failed = [e for e in AuditJournal().entries() if e["action"] == "keys.rotate" and e["result"] == "failed"]
    assert all("throttling" in e["error"] for e in failed)


def test_bulk_state_change_under_429s(capsys, sandbox):
    set_faults(sandbox, arm_throttle_rate=0.3, retry_after_seconds=0)
    try:
        code, rows, _ = run(capsys, sandbox, "subs", "set", "--filter", "name~bulk-team,state:active",
                            "--state", "suspended", "--dry-run")
        assert code == 0 and len(rows) == N and rows[0]["change"] == "state active → suspended"
        code, results, err = run(capsys, sandbox, "subs", "set", "--filter", "name~bulk-team,state:active",
                                 "--state", "suspended", "--comment", "bulk", "--yes")
    finally:
        set_faults(sandbox)
    assert code == 0, err
    assert len(results) == N and {r["result"] for r in results} == {"ok"}
    assert {r["state_after"] for r in results} == {"suspended"}
    assert ok_entries("subs.set") == {f"subscription:bulk-team-{i:02d}": 1 for i in range(N)}
    code, rows, _ = run(capsys, sandbox, "subs", "list", "--filter", "Bulk team")
    assert {r["state"] for r in rows} == {"suspended"} and {r["state_comment"] for r in rows} == {"bulk"}
    # the same command again: the run is finished, and nothing is active any more
    code, results, _ = run(capsys, sandbox, "subs", "set", "--filter", "name~bulk-team,state:active",
                           "--state", "suspended", "--yes")
    assert code == 0 and results == []


def test_bulk_needs_yes_and_a_slot(capsys, sandbox):
    code, _, err = run(capsys, sandbox, "keys", "rotate", "--filter", "name~bulk-team", "--slot", "primary")
    assert code == 3 and "--yes" in err
    code, _, err = run(capsys, sandbox, "keys", "rotate", "--filter", "name~bulk-team", "--yes")
    assert code == 2 and "--slot" in err
    code, _, err = run(capsys, sandbox, "keys", "rotate", "--filter", "colour:blue", "--slot", "primary", "--yes")
    assert code == 2 and "not a filter key" in err
