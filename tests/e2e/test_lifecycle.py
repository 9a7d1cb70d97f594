"""Issue, suspend, activate, change, delete and sweep subscriptions: the real CLI and SDK
against a sandbox, and the sandbox gateway deciding whether the key works (journey J2)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from aiconsole.domain.secrets import fingerprint
from tests.e2e.cli import run
from tests.sandbox_fixture import start_sandbox


@pytest.fixture(scope="module")
def sandbox():
    info, stop = start_sandbox(seed=3, subscriptions=60)
    yield info
    stop()


def gateway_call(sandbox, key):
    return httpx.post(f"{sandbox['gateway_url']}/openai/deployments/gpt-4o/chat/completions",
                      params={"api-version": "2024-10-21"}, headers={"api-key": key},
                      json={"messages": [{"role": "user", "content": "hello"}], "max_tokens": 8}, timeout=10)


def journal_entries():
    from aiconsole.audit.journal import AuditJournal

    return AuditJournal().entries()


def test_create_key_works_suspend_refused_activate_works(capsys, sandbox):
    code, sub, err = run(capsys, sandbox, "subs", "create", "--display-name", "Team Lifecycle", "--api", "azure-openai",
                         "--state", "active", "--id", "life-1", "--show-keys", "--yes", "--reason", "TICKET-1")
    assert code == 0, err
    assert sub["name"] == "life-1" and sub["state"] == "active" and sub["scope"] == "api:azure-openai"
    key = sub["keys"]["primary_key"]
    assert len(key) >= 16 and "•" not in key
    assert sub["key_fingerprints"]["primary"] == fingerprint(key)
    assert gateway_call(sandbox, key).status_code == 200

    code, row, err = run(capsys, sandbox, "subs", "set", "life-1", "--state", "suspended", "--comment", "paused", "--yes")
    assert code == 0, err
    assert row["state"] == "suspended" and row["changes"]["state"] == ["active", "suspended"]
    assert gateway_call(sandbox, key).status_code == 401

    code, row, err = run(capsys, sandbox, "subs", "set", "life-1", "--state", "active", "--yes")
    assert code == 0 and row["state"] == "active"
    assert gateway_call(sandbox, key).status_code == 200

    text = json.dumps(journal_entries())
    assert key not in text and sub["keys"]["secondary_key"] not in text
    actions = [(e["action"], e["result"]) for e in journal_entries() if e["target"] == "subscription:life-1"]
    assert actions == [("subs.create", "ok"), ("subs.set", "ok"), ("subs.set", "ok")]
    created = next(e for e in journal_entries() if e["action"] == "subs.create")
    assert created["reason"] == "TICKET-1" and created["after"]["key_fingerprints"]["primary"] == fingerprint(key)


def test_create_without_show_keys_masks_them_and_owner_by_email_works(capsys, sandbox):
    from tests.sandbox_fixture import sdk_client

    client = sdk_client(sandbox)
    user = next(iter(client.user.list_by_service(sandbox["resource_group"], sandbox["service_name"])))
    code, sub, err = run(capsys, sandbox, "subs", "create", "--display-name", "Owned", "--product", "starter",
                         "--owner", user.email, "--expires", "+30d", "--yes")
    assert code == 0, err
    assert sub["owner"] == user.name and sub["state"] == "submitted" and len(sub["name"]) == 24
    assert sub["keys"]["primary_key"].startswith("••••")
    exp = datetime.fromisoformat(sub["expiration_date"].replace("Z", "+00:00"))
    assert timedelta(days=29) < exp - datetime.now(timezone.utc) < timedelta(days=31)


@pytest.mark.parametrize("args, code, message", [
    (["--product", "no-such-product"], 1, "There is no product 'no-such-product'"),
    (["--api", "no-such-api"], 1, "There is no API 'no-such-api'"),
    (["--all-apis", "--owner", "nobody-here"], 1, "There is no user 'nobody-here'"),
    (["--all-apis", "--owner", "nobody@nowhere.example"], 1, "no user with the email"),
    (["--all-apis", "--id", "life-1"], 1, "already exists"),
    (["--all-apis", "--expires", "someday"], 2, "is not a date"),
])
def test_create_bad_input_names_the_problem_and_changes_nothing(capsys, sandbox, args, code, message):
    before = len(journal_entries())
    got, _, err = run(capsys, sandbox, "subs", "create", "--display-name", "Bad", *args, "--yes")
    assert got == code and message in err
    assert len(journal_entries()) == before


def test_create_without_yes_is_refused_off_a_tty(capsys, sandbox):
    code, _, err = run(capsys, sandbox, "subs", "create", "--display-name", "No", "--all-apis", "--id", "never-made")
    assert code == 3 and "--yes" in err
    assert run(capsys, sandbox, "subs", "show", "never-made")[0] == 1


def test_rename_and_expiry_set_and_clear(capsys, sandbox):
    run(capsys, sandbox, "subs", "create", "--display-name", "Rename me", "--all-apis", "--id", "life-2", "--yes")
    code, row, err = run(capsys, sandbox, "subs", "set", "life-2", "--display-name", "Renamed", "--expires",
                         "2031-01-02", "--yes")
    assert code == 0, err
    assert row["display_name"] == "Renamed" and row["expiration_date"] == "2031-01-02T00:00:00Z"
    code, row, _ = run(capsys, sandbox, "subs", "set", "life-2", "--expires", "none", "--yes")
    assert code == 0 and row["expiration_date"] is None and row["changes"]["expiration_date"][1] is None
    code, row, _ = run(capsys, sandbox, "subs", "set", "life-2", "--display-name", "Renamed", "--yes")
    assert code == 0 and row["changes"] == {}  # nothing to change: no write, no journal entry


def test_stale_etag_gives_412_message_and_changes_nothing(capsys, sandbox):
    run(capsys, sandbox, "subs", "create", "--display-name", "Etag", "--all-apis", "--id", "life-3", "--yes")
    _, shown, _ = run(capsys, sandbox, "subs", "show", "life-3")
    stale = shown["etag"]
    run(capsys, sandbox, "subs", "set", "life-3", "--comment", "someone else", "--yes")  # the concurrent change
    code, _, err = run(capsys, sandbox, "subs", "set", "life-3", "--state", "cancelled", "--if-match", stale, "--yes")
    assert code == 1 and "changed by someone else" in err and "nothing was changed" in err
    assert run(capsys, sandbox, "subs", "show", "life-3")[1]["state"] == "submitted"
    code, _, err = run(capsys, sandbox, "subs", "delete", "life-3", "--if-match", stale, "--yes")
    assert code == 1 and "not deleted" in err
    assert journal_entries()[-1]["result"] == "failed"


def test_delete_needs_yes_then_deletes(capsys, sandbox):
    run(capsys, sandbox, "subs", "create", "--display-name", "Doomed", "--all-apis", "--id", "life-4", "--yes")
    code, _, err = run(capsys, sandbox, "subs", "delete", "life-4")
    assert code == 3
    code, out, err = run(capsys, sandbox, "subs", "delete", "life-4", "--yes")
    assert code == 0 and out == {"name": "life-4", "deleted": True}
    assert run(capsys, sandbox, "subs", "show", "life-4")[0] == 1
    assert journal_entries()[-1]["action"] == "subs.delete" and journal_entries()[-1]["before"]["name"] == "life-4"


def test_expiry_sweep_lists_and_suspends_the_expired(capsys, sandbox):
    now = datetime.now(timezone.utc)
    for sid, when in (("exp-past", now - timedelta(days=2)), ("exp-soon", now + timedelta(days=3)),
                      ("exp-far", now + timedelta(days=90))):
        code, _, err = run(capsys, sandbox, "subs", "create", "--display-name", sid, "--all-apis", "--id", sid,
                           "--state", "active", "--expires", when.isoformat(), "--yes")
        assert code == 0, err
    code, rows, _ = run(capsys, sandbox, "subs", "expiring", "--within", "7d")
    assert code == 0
    by = {r["name"]: r for r in rows}
    assert by["exp-past"]["status"] == "expired" and by["exp-soon"]["status"] == "expiring"
    assert "exp-far" not in by
    assert [r["expires_in_seconds"] for r in rows] == sorted(r["expires_in_seconds"] for r in rows)

    code, results, err = run(capsys, sandbox, "subs", "expiring", "--suspend-expired", "--yes")
    assert code == 0, err
    done = {r["name"]: r for r in results}
    assert done["exp-past"]["result"] == "ok" and done["exp-past"]["state_after"] == "suspended"
    assert "exp-soon" not in done
    assert run(capsys, sandbox, "subs", "show", "exp-soon")[1]["state"] == "active"
    # a second sweep finds nothing active and expired among ours
    code, results, _ = run(capsys, sandbox, "subs", "expiring", "--suspend-expired", "--yes")
    assert code == 0 and "exp-past" not in {r["name"] for r in results}
