"""Terminal safety (issue #10 item 4): a sandbox seeded with hostile names (ANSI/OSC sequences,
bidi overrides, control characters, 10,000-character names) and every CLI table and TUI screen
that shows them: nothing unsafe reaches the terminal, lines stay bounded, JSON escapes them."""

from __future__ import annotations

import json

import pytest

from aiconsole.sandbox.hostile import HOSTILE_STRINGS
from tests.hardening.conftest import UNSAFE, run_cli_inproc as run_cli, unsafe_chars

# A table cell is cut at 60 characters; no line may carry a 10,000-character name.
MAX_TABLE_LINE = 400


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def subs_json(hostile, home):
    out = run_cli(home, "-o", "json", "subs", "list", sandbox=hostile)
    assert out.returncode == 0, out.stderr
    return out.stdout


def _hostile_sid(subs_json: str) -> str:
    rows = json.loads(subs_json)
    return next(r["name"] for r in rows if r["display_name"] and "\x1b" in r["display_name"])


def test_the_sandbox_really_serves_hostile_names(subs_json):
    rows = json.loads(subs_json)
    names = {r["display_name"] for r in rows}
    assert any("\x1b]52;" in n for n in names if n)
    assert any(len(n) > 10_000 for n in names if n)
    assert any("\u202e" in n for n in names if n)


@pytest.mark.parametrize("args", [
    ("subs", "list"),
    ("subs", "expiring", "--within", "3650d"),
    ("limits", "list"),
    ("gateways", "list"),
    ("gateways", "expiring"),
    ("top", "--once"),
    ("backends", "list"),
    ("auth", "posture"),
    ("audit", "list"),
], ids=lambda a: " ".join(a))
def test_table_output_carries_nothing_unsafe_and_stays_bounded(hostile, home, args):
    out = run_cli(home, "-o", "table", *args, sandbox=hostile)
    assert out.returncode in (0, 1), out.stderr  # 1: e.g. an empty journal or nothing expiring
    for stream in (out.stdout, out.stderr):
        assert not UNSAFE.search(stream), unsafe_chars(stream)
        assert "Traceback" not in stream
        assert all(len(line) <= MAX_TABLE_LINE for line in stream.splitlines())


def test_subs_show_of_a_hostile_subscription_is_clean(hostile, home, subs_json):
    sid = _hostile_sid(subs_json)
    out = run_cli(home, "-o", "table", "subs", "show", sid, sandbox=hostile)
    assert out.returncode == 0, out.stderr
    assert not UNSAFE.search(out.stdout), unsafe_chars(out.stdout)
    assert all(len(line) <= MAX_TABLE_LINE for line in out.stdout.splitlines())
    chain = run_cli(home, "-o", "table", "limits", "show", sid, sandbox=hostile)
    assert not UNSAFE.search(chain.stdout + chain.stderr), unsafe_chars(chain.stdout + chain.stderr)


def test_an_error_naming_a_hostile_id_is_clean(hostile, home):
    out = run_cli(home, "-o", "table", "subs", "show", "no-such\x1b]0;x\x07", sandbox=hostile)
    assert out.returncode != 0
    assert not UNSAFE.search(out.stdout + out.stderr), unsafe_chars(out.stdout + out.stderr)
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("args", [("subs", "list"), ("gateways", "list"), ("limits", "list")],
                         ids=lambda a: " ".join(a))
def test_json_output_escapes_what_it_carries(hostile, home, args):
    out = run_cli(home, "-o", "json", *args, sandbox=hostile)
    assert out.returncode == 0, out.stderr
    assert not UNSAFE.search(out.stdout), unsafe_chars(out.stdout)
    json.loads(out.stdout)  # still valid JSON


def test_json_output_keeps_the_exact_server_value(subs_json):
    """Escaped, not stripped: a script reading the JSON gets the name as the server holds it."""
    names = {r["display_name"] for r in json.loads(subs_json) if r["display_name"]}
    assert any(n.endswith(HOSTILE_STRINGS[2]) for n in names)  # OSC 52 intact after json.loads


def test_a_hostile_reason_in_the_journal_is_clean_in_audit_list(hostile, tmp_path, subs_json):
    """A refused write still journals its reason: what a person typed (or pasted) is shown safely."""
    sid = _hostile_sid(subs_json)
    reason = HOSTILE_STRINGS[2] + HOSTILE_STRINGS[6]
    refused = run_cli(tmp_path, "-o", "table", "subs", "set", sid, "--state", "suspended", "--reason", reason,
                      sandbox=hostile)
    assert refused.returncode == 3 and not UNSAFE.search(refused.stderr), unsafe_chars(refused.stderr)
    table = run_cli(tmp_path, "-o", "table", "audit", "list", sandbox=hostile)
    assert table.returncode == 0 and "refused" in table.stdout
    assert not UNSAFE.search(table.stdout), unsafe_chars(table.stdout)
    data = run_cli(tmp_path, "-o", "json", "audit", "list", sandbox=hostile)
    assert not UNSAFE.search(data.stdout), unsafe_chars(data.stdout)
    assert any(e.get("reason") == reason for e in json.loads(data.stdout))
