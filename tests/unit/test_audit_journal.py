"""The audit journal under damage: edits, removals, reorders, truncation, torn lines, kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from pydantic import SecretStr

from aiconsole.audit.journal import GENESIS, AuditJournal, _hash


def _journal(tmp_path, n: int = 5) -> AuditJournal:
    j = AuditJournal(tmp_path / "audit.jsonl")
    for i in range(n):
        j.append(action="limits.set", target=f"product:p{i}", result="ok", before={"tpm": i}, after={"tpm": i + 1})
    return j


def _lines(j: AuditJournal) -> list[bytes]:
    return j.path.read_bytes().split(b"\n")[:-1]


def _write(j: AuditJournal, lines: list[bytes]) -> None:
    j.path.write_bytes(b"".join(ln + b"\n" for ln in lines))


def test_chain_links_every_line(tmp_path):
    j = _journal(tmp_path)
    lines = _lines(j)
    assert json.loads(lines[0])["prev"] == GENESIS
    for a, b in zip(lines, lines[1:]):
        assert json.loads(b)["prev"] == _hash(a)
    assert j.verify().ok and j.verify().count == 5


def test_altered_value_is_found_at_the_next_line(tmp_path):
    j = _journal(tmp_path)
    lines = _lines(j)
    lines[2] = lines[2].replace(b'"tpm": 3', b'"tpm": 300')
    _write(j, lines)
    r = j.verify()
    assert not r.ok and r.bad_line == 4 and r.tampered


def test_altered_last_line_is_found_through_the_head(tmp_path):
    j = _journal(tmp_path)
    lines = _lines(j)
    lines[-1] = lines[-1].replace(b'"result": "ok"', b'"result": "failed"')
    _write(j, lines)
    r = j.verify()
    assert not r.ok and r.bad_line == 5


def test_removed_first_line(tmp_path):
    j = _journal(tmp_path)
    _write(j, _lines(j)[1:])
    r = j.verify()
    assert not r.ok and r.bad_line == 1


def test_reordered_lines(tmp_path):
    j = _journal(tmp_path)
    lines = _lines(j)
    lines[3], lines[4] = lines[4], lines[3]
    _write(j, lines)
    assert j.verify().bad_line == 4


@pytest.mark.parametrize("keep", [0, 2, 4])
def test_truncated_to_fewer_lines(tmp_path, keep):
    j = _journal(tmp_path)
    _write(j, _lines(j)[:keep])
    r = j.verify()
    assert not r.ok and r.bad_line == keep + 1 and "removed" in r.message


def test_truncated_mid_line_is_a_torn_last_line(tmp_path):
    j = _journal(tmp_path)
    data = j.path.read_bytes()
    j.path.write_bytes(data[:-20])
    r = j.verify()
    assert not r.ok and r.bad_line == 5 and "torn" in r.message and not r.tampered
    assert r.count == 4  # lines 1-4 are intact


def test_deleted_journal_with_a_head_is_reported(tmp_path):
    j = _journal(tmp_path)
    j.path.unlink()
    r = j.verify()
    assert not r.ok and "missing" in r.message


def test_torn_line_is_recorded_by_the_next_append_and_the_chain_goes_on(tmp_path):
    j = _journal(tmp_path)
    with open(j.path, "ab") as fh:
        fh.write(b'{"time": "2026-11-24T03:00:00Z", "action": "keys.rot')
    entry = j.append(action="keys.rotate", target="subscription:a", result="ok")
    assert entry["torn_line"]["line"] == 6
    j.append(action="keys.rotate", target="subscription:b", result="ok")
    r = j.verify()
    assert not r.ok and r.bad_line == 6 and not r.tampered
    assert r.problems == [(6, "Line 6 is a torn write from a crash, recorded by line 7.")]
    # tampering after the torn line is still found
    lines = _lines(j)
    lines[7] = lines[7].replace(b"subscription:b", b"subscription:c")
    _write(j, lines)
    r = j.verify()
    assert r.tampered and r.problems[0][0] == 6 and r.problems[-1][0] == 8


def test_garbage_line_without_acknowledgement_is_tampering(tmp_path):
    j = _journal(tmp_path)
    lines = _lines(j)
    lines.insert(2, b"not json at all")
    _write(j, lines)
    r = j.verify()
    assert not r.ok and r.tampered and r.bad_line == 3


def test_secrets_are_scrubbed_to_fingerprints(tmp_path):
    j = AuditJournal(tmp_path / "audit.jsonl")
    j.append(action="subs.create", target="subscription:x", result="ok",
             after={"primary": SecretStr("key-material-123456")}, extra_key=SecretStr("other-secret-9876"))
    text = j.path.read_text()
    assert "key-material" not in text and "other-secret" not in text
    assert '"fingerprint"' in text


def test_append_reads_only_the_tail_when_the_head_agrees(tmp_path, monkeypatch):
    j = _journal(tmp_path, n=3)
    import aiconsole.audit.journal as mod

    def no_full_scan(fd):
        raise AssertionError("counted every line although the head agreed")

    monkeypatch.setattr(mod, "_count_complete_lines", no_full_scan)
    j.append(action="x", target="y", result="ok")
    assert j.verify().ok and j.verify().count == 4


def test_stale_head_after_a_crash_between_journal_and_head(tmp_path):
    j = _journal(tmp_path, n=3)
    stale = j.head_path.read_text()
    j.append(action="x", target="y", result="ok")
    j.head_path.write_text(stale)  # as if killed after the journal's fsync, before the head's
    j.append(action="x", target="z", result="ok")
    r = j.verify()
    assert r.ok and r.count == 5
    assert json.loads(j.head_path.read_text())["count"] == 5


def test_concurrent_appenders_keep_the_chain(tmp_path):
    path = tmp_path / "audit.jsonl"
    code = textwrap.dedent(f"""
        from aiconsole.audit.journal import AuditJournal
        j = AuditJournal({str(path)!r})
        for i in range(20):
            j.append(action="bulk", target=f"t{{i}}", result="ok")
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(3)]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    r = AuditJournal(path).verify()
    assert r.ok and r.count == 60


def test_kill_9_during_appends_leaves_earlier_lines_valid(tmp_path):
    """A subprocess appends large entries in a loop and is killed with SIGKILL mid-stream."""
    path = tmp_path / "audit.jsonl"
    code = textwrap.dedent(f"""
        import sys
        from aiconsole.audit.journal import AuditJournal
        j = AuditJournal({str(path)!r})
        i = 0
        while True:
            j.append(action="keys.rotate", target=f"subscription:s{{i}}", result="ok", after={{"pad": "x" * 20000}})
            i += 1
            if i == 20:
                sys.stdout.write("ready\\n"); sys.stdout.flush()
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    j = AuditJournal(path)
    r = j.verify()
    if not r.ok:  # killed inside a write: only the last line may be torn
        assert not r.tampered and r.bad_line == r.count + 1, r.message
    assert r.count >= 20
    entries = j.entries()
    assert [e["target"] for e in entries[:20]] == [f"subscription:s{i}" for i in range(20)]
    # the journal goes on after the crash and verifies (apart from a recorded torn line)
    j.append(action="after.crash", target="x", result="ok")
    r2 = j.verify()
    assert r2.ok or (not r2.tampered and len(r2.problems) == 1)
    assert j.entries()[-1]["action"] == "after.crash"
