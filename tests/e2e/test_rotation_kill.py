"""Two-slot rotation killed with SIGKILL at every step, then run again: it resumes from the
recorded step and never regenerates a slot twice (checked on the server's keys, not only in
our own records). The process stops itself right after persisting the step, via a test hook,
so no test sleeps to time a kill."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from aiconsole.domain.secrets import fingerprint
from aiconsole.services.rotation import RotationStore
from tests.e2e.cli import create, fps, journal, run
from tests.sandbox_fixture import start_sandbox


@pytest.fixture(scope="module")
def sandbox():
    info, stop = start_sandbox(seed=6, subscriptions=20)
    yield info
    stop()


CHECKPOINTS = ["planned", "regenerating_new", "after_regenerate_new", "new_regenerated", "waiting",
               "regenerating_old", "after_regenerate_old", "done"]


@pytest.mark.parametrize("point", CHECKPOINTS)
def test_kill_9_at_each_step_then_resume_never_regenerates_twice(capsys, sandbox, point):
    sid = f"kill-{point.replace('_', '-')}"
    create(capsys, sandbox, sid)
    start = fps(sandbox, sid)
    argv = [sys.executable, "-m", "aiconsole", "--sandbox", sandbox["management_url"], "-o", "json",
            "keys", "rotate", sid, "--two-slot", "--in-use", "primary", "--yes"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "AICONSOLE_TEST_KILL_AT": point})
    assert proc.returncode == -9, proc.stderr
    at_kill = fps(sandbox, sid)
    recorded = RotationStore().load(sid)
    assert recorded is not None and recorded.step == point.replace("after_regenerate_", "regenerating_")
    code, listed, _ = run(capsys, sandbox, "keys", "rotations")
    assert code == 0 and {r["name"]: r["step"] for r in listed}[sid] == recorded.step

    code, out, err = run(capsys, sandbox, "keys", "rotate", sid, "--two-slot", "--yes")
    assert code == 0, err
    assert out["status"] == "done" and out["resumed"] is True
    end = fps(sandbox, sid)
    for slot in ("primary", "secondary"):
        assert end[slot] != start[slot], f"{slot} was never regenerated"
        if at_kill[slot] != start[slot]:
            assert end[slot] == at_kill[slot], f"{slot} was regenerated twice"
    assert RotationStore().load(sid) is None  # finished rotations are archived
    done = [e for e in journal(sid) if e["action"] in ("keys.rotate", "keys.rotate.detected") and e["result"] == "ok"]
    assert len(done) == 2


def test_refused_without_a_way_to_know_consumers_moved(capsys, sandbox):
    create(capsys, sandbox, "guard-1")
    start = fps(sandbox, "guard-1")
    code, _, err = run(capsys, sandbox, "keys", "rotate", "guard-1", "--two-slot", "--in-use", "primary")
    assert code == 3 and "--wait-idle" in err
    assert RotationStore().load("guard-1") is None and fps(sandbox, "guard-1") == start
    code, _, err = run(capsys, sandbox, "keys", "rotate", "guard-1", "--two-slot", "--slot", "primary", "--yes")
    assert code == 2 and "--in-use" in err


def test_handover_only_parks_and_a_contradicting_in_use_is_refused(capsys, sandbox):
    create(capsys, sandbox, "guard-2")
    code, out, err = run(capsys, sandbox, "keys", "rotate", "guard-2", "--two-slot", "--in-use", "secondary",
                         "--handover-only", "--show-keys", "--yes")
    assert code == 0, err
    assert out["status"] == "waiting" and out["new_slot"] == "primary"
    assert fingerprint(out["new_key"]) == fps(sandbox, "guard-2")["primary"]
    code, _, err = run(capsys, sandbox, "keys", "rotate", "guard-2", "--two-slot", "--in-use", "primary", "--yes")
    assert code == 2 and "recorded consumers on the secondary key" in err
    code, out, err = run(capsys, sandbox, "keys", "rotate", "guard-2", "--two-slot", "--yes")
    assert code == 0 and out["status"] == "done" and out["resumed"] is True
