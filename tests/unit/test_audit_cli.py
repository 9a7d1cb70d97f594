"""``aiconsole audit verify`` and ``audit list``: exit codes, the first bad line, filters."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from aiconsole.audit.journal import AuditJournal
from aiconsole.cli.main import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def journal() -> AuditJournal:
    j = AuditJournal()
    j.append(action="keys.rotate", target="subscription:a", result="ok", profile="prod", principal="oncall@contoso.com")
    j.append(action="limits.set", target="product:standard", result="refused", profile="ro")
    j.append(action="limits.override", target="subscription:b", result="ok", reason="INC-7")
    j.append(action="subs.create", target="subscription:c", result="failed", error="409")
    return j


def test_verify_intact_exits_0(capsys, journal):
    code, out, _ = run(capsys, "audit", "verify", "-o", "json")
    data = json.loads(out)
    assert code == 0 and data["ok"] and data["entries"] == 4 and data["bad_line"] is None


def test_verify_names_the_first_bad_line(capsys, journal):
    lines = journal.path.read_text().splitlines()
    lines[1] = lines[1].replace('"refused"', '"ok"')
    journal.path.write_text("\n".join(lines) + "\n")
    code, out, err = run(capsys, "audit", "verify", "-o", "table")
    assert code == 1
    assert "line 3 is bad" in err and "Line 3 does not follow line 2" in err
    code, out, _ = run(capsys, "audit", "verify", "-o", "json")
    assert code == 1 and json.loads(out)["bad_line"] == 3 and json.loads(out)["tampered"]


def test_verify_empty_and_other_file(capsys, tmp_path):
    assert run(capsys, "audit", "verify")[0] == 0
    other = AuditJournal(tmp_path / "copy.jsonl")
    other.append(action="x", target="y", result="ok")
    code, out, _ = run(capsys, "audit", "verify", "--file", str(other.path), "-o", "json")
    assert code == 0 and json.loads(out)["entries"] == 1


def test_list_filters(capsys, journal):
    rows = json.loads(run(capsys, "audit", "list", "-o", "json")[1])
    assert [r["action"] for r in rows] == ["keys.rotate", "limits.set", "limits.override", "subs.create"]
    rows = json.loads(run(capsys, "audit", "list", "--action", "limits", "-o", "json")[1])
    assert [r["action"] for r in rows] == ["limits.set", "limits.override"]
    rows = json.loads(run(capsys, "audit", "list", "--action", "*.create", "-o", "json")[1])
    assert [r["target"] for r in rows] == ["subscription:c"]
    rows = json.loads(run(capsys, "audit", "list", "--action", "limits.set", "-o", "json")[1])
    assert len(rows) == 1
    rows = json.loads(run(capsys, "audit", "list", "--result", "refused", "-o", "json")[1])
    assert [r["profile"] for r in rows] == ["ro"]
    rows = json.loads(run(capsys, "audit", "list", "--last", "1", "-o", "json")[1])
    assert [r["action"] for r in rows] == ["subs.create"]


def test_list_since_duration_and_iso(capsys, journal):
    # an old entry, written by hand with a valid chain position (as the first line of a fresh file)
    lines = journal.path.read_text().splitlines()
    assert len(json.loads(run(capsys, "audit", "list", "--since", "1h", "-o", "json")[1])) == len(lines)
    future = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%MZ")
    assert json.loads(run(capsys, "audit", "list", "--since", future, "-o", "json")[1]) == []
    assert len(json.loads(run(capsys, "audit", "list", "--since", "2000-01-01", "-o", "json")[1])) == 4


def test_list_bad_since_is_a_usage_error(capsys, journal):
    code, _, err = run(capsys, "audit", "list", "--since", "yesterday-ish")
    assert code == 2 and "neither an ISO date/time nor a duration" in err


def test_list_table_output(capsys, journal):
    code, out, _ = run(capsys, "audit", "list", "-o", "table")
    assert code == 0 and "PRINCIPAL" in out and "oncall@contoso.com" in out
