"""The audit journal's chain: appends verify; edits, removals, reorders and tears are found."""

from __future__ import annotations

import json

from aiconsole.audit.journal import AuditJournal


def _journal(tmp_path, n=4) -> AuditJournal:
    j = AuditJournal(tmp_path / "audit.jsonl")
    for i in range(n):
        j.append(action="keys.rotate", target=f"subscription:s{i}", result="ok", before={"fingerprint": "abcd1234"})
    return j


def test_intact_chain_verifies(tmp_path):
    j = _journal(tmp_path)
    result = j.verify()
    assert result.ok and result.count == 4
    assert [e["target"] for e in j.entries()] == [f"subscription:s{i}" for i in range(4)]


def test_altered_line_is_named(tmp_path):
    j = _journal(tmp_path)
    lines = j.path.read_text().splitlines()
    entry = json.loads(lines[1])
    entry["result"] = "failed"
    lines[1] = json.dumps(entry)
    j.path.write_text("\n".join(lines) + "\n")
    result = j.verify()
    assert not result.ok and result.bad_line == 3  # line 3 no longer follows the altered line 2


def test_removed_middle_line_is_found(tmp_path):
    j = _journal(tmp_path)
    lines = j.path.read_text().splitlines()
    del lines[1]
    j.path.write_text("\n".join(lines) + "\n")
    result = j.verify()
    assert not result.ok and result.bad_line == 2


def test_reordered_lines_are_found(tmp_path):
    j = _journal(tmp_path)
    lines = j.path.read_text().splitlines()
    lines[1], lines[2] = lines[2], lines[1]
    j.path.write_text("\n".join(lines) + "\n")
    assert j.verify().bad_line == 2


def test_removed_tail_is_found_through_the_head(tmp_path):
    j = _journal(tmp_path)
    lines = j.path.read_text().splitlines()
    j.path.write_text("\n".join(lines[:-1]) + "\n")
    result = j.verify()
    assert not result.ok and result.bad_line == 4


def test_torn_last_line_is_reported_and_next_append_chains_on(tmp_path):
    j = _journal(tmp_path)
    with open(j.path, "ab") as fh:
        fh.write(b'{"action": "half')
    result = j.verify()
    assert not result.ok and "not a complete" in result.message
    j.append(action="x", target="y", result="ok")
    # the torn line stays reported; earlier lines are intact
    assert j.verify().bad_line == 5
