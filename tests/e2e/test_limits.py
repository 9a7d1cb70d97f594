"""Token limits end to end: the real CLI and SDK against a sandbox (issue #4)."""

from __future__ import annotations

import contextlib
import io
import json

import httpx
import pytest

from aiconsole.audit.journal import AuditJournal
from aiconsole.backends.connect import sandbox_connection
from aiconsole.cli.main import main
from aiconsole.domain.models import PolicyScope
from tests.sandbox_fixture import start_sandbox


@pytest.fixture(scope="module")
def sandbox():
    info, stop = start_sandbox(subscriptions=60, seed=11)
    yield info
    stop()


@pytest.fixture
def backend(sandbox):
    return sandbox_connection(sandbox["management_url"]).backend()


def run(sandbox, *args: str) -> tuple[int, str, str]:
    """The CLI in-process (same argv, same exit codes), capturing what it prints."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["--sandbox", sandbox["management_url"], *args])
        except SystemExit as exc:  # argparse usage errors
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def run_json(sandbox, *args: str):
    code, out, err = run(sandbox, "-o", "json", *args)
    assert code == 0, err
    return json.loads(out)


def advance_clock(sandbox, seconds: float) -> None:
    httpx.post(f"{sandbox['management_url']}/_sandbox/clock", json={"advance_seconds": seconds}).raise_for_status()


def test_list_reports_every_limit_with_the_contract_fields(sandbox):
    rows = run_json(sandbox, "limits", "list")
    assert rows
    for field in ("scope", "policy", "counter_key", "tokens_per_minute", "token_quota", "token_quota_period", "overrides"):
        assert field in rows[0]
    scopes = {r["scope"].split(":")[0] for r in rows}
    assert {"product", "api"} <= scopes
    assert {r["policy"] for r in rows} & {"llm-token-limit", "azure-openai-token-limit"}


def test_show_names_the_lowest_rate_as_binding(sandbox):
    sid = json.loads(run(sandbox, "-o", "json", "subs", "list", "--state", "active")[1])[0]["name"]
    chain = run_json(sandbox, "limits", "show", "--subscription", sid)
    rates = [link["effective_tokens_per_minute"] for link in chain["chain"] if link["effective_tokens_per_minute"]]
    assert chain["binding"]["effective_tokens_per_minute"] == min(rates)
    assert sum(link["binds"] for link in chain["chain"]) == 1
    assert chain["binding"]["shared"]


def _product_with_one_limit(sandbox) -> str:
    rows = run_json(sandbox, "limits", "list")
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["scope"]] = counts.get(r["scope"], 0) + 1
    return next(r["scope"] for r in rows if r["scope"].startswith("product:") and counts[r["scope"]] == 1
                and r["tokens_per_minute"])


def test_dry_run_prints_a_diff_and_writes_nothing(sandbox, backend):
    scope = _product_with_one_limit(sandbox)
    before = backend.get_policy(PolicyScope.parse(scope))
    code, out, _ = run(sandbox, "-o", "table", "limits", "set", scope, "--tpm", "4321", "--dry-run")
    assert code == 0
    assert '+' in out and 'tokens-per-minute="4321"' in out
    after = backend.get_policy(PolicyScope.parse(scope))
    assert (after.xml, after.etag) == (before.xml, before.etag)


def test_set_changes_only_the_value_bytes_and_is_journaled(sandbox, backend):
    scope = _product_with_one_limit(sandbox)
    before = backend.get_policy(PolicyScope.parse(scope)).xml
    old = next(r for r in run_json(sandbox, "limits", "list") if r["scope"] == scope)["tokens_per_minute"]
    result = run_json(sandbox, "limits", "set", scope, "--tpm", str(old + 7), "--yes")
    assert result["written"] and result["after"]["tokens_per_minute"] == old + 7
    after = backend.get_policy(PolicyScope.parse(scope)).xml
    assert after == before.replace(f'tokens-per-minute="{old}"', f'tokens-per-minute="{old + 7}"', 1)
    entry = AuditJournal().entries()[-1]
    assert entry["action"] == "limits.set" and entry["result"] == "ok"
    assert entry["before"]["tokens_per_minute"] == old and entry["after"]["tokens_per_minute"] == old + 7


def test_override_applies_then_expires_by_itself_and_cleanup_restores_the_bytes(sandbox, backend):
    sid = next(r["name"] for r in json.loads(run(sandbox, "-o", "json", "subs", "list", "--state", "active")[1])
               if r["scope"].startswith("product:"))
    chain = run_json(sandbox, "limits", "show", "--subscription", sid)
    scope = PolicyScope.parse(chain["binding"]["scope"])
    base_tpm = chain["binding"]["effective_tokens_per_minute"]
    original = backend.get_policy(scope).xml

    result = run_json(sandbox, "limits", "override", "--subscription", sid, "--tpm", str(base_tpm * 10),
                      "--until", "2m", "--reason", "INC-1 spike", "--yes")
    override_id = result["override_id"]
    raised = run_json(sandbox, "limits", "show", "--subscription", sid)
    assert raised["binding"]["override"]["id"] == override_id
    assert raised["binding"]["effective_tokens_per_minute"] == base_tpm * 10
    written = backend.get_policy(scope)

    advance_clock(sandbox, 180)
    expired = run_json(sandbox, "limits", "show", "--subscription", sid)
    assert expired["binding"]["effective_tokens_per_minute"] == base_tpm
    assert backend.get_policy(scope).etag == written.etag  # nothing was written: the gateway reverts

    listed = [o for r in run_json(sandbox, "limits", "list") for o in r["overrides"] if o["id"] == override_id]
    assert listed and listed[0]["active"] is False
    cleaned = run_json(sandbox, "limits", "cleanup", "--yes")
    assert any(override_id in c["description"] for c in cleaned)
    assert backend.get_policy(scope).xml == original


def test_concurrent_edit_gets_the_412_path_and_can_reapply(sandbox, backend):
    from aiconsole.services.context import ServiceContext
    from aiconsole.services.limit_writes import LimitWriter, PolicyConflictError
    from aiconsole.services.limits import LimitsService

    scope_text = _product_with_one_limit(sandbox)
    scope = PolicyScope.parse(scope_text)
    limits = LimitsService(ServiceContext(backend=backend))
    writer = LimitWriter(limits)
    plan = writer.plan_set(scope, tpm=1111)

    # someone else edits the same policy in between (a raw SDK write)
    other = backend.get_policy(scope)
    theirs = other.xml.replace("<inbound>", "<inbound>\n        <!-- edited elsewhere -->", 1)
    backend.put_policy(scope, theirs, etag=other.etag)

    with pytest.raises(PolicyConflictError) as conflict:
        writer.apply(plan)
    assert "edited elsewhere" in conflict.value.server_diff
    assert backend.get_policy(scope).xml == theirs  # their change was not overwritten
    assert AuditJournal().entries()[-1]["result"] == "failed"

    again = writer.reapply(plan)
    writer.apply(again)
    final = backend.get_policy(scope).xml
    assert "edited elsewhere" in final and 'tokens-per-minute="1111"' in final


def test_undo_puts_the_previous_text_back_and_refuses_over_a_later_change(sandbox, backend):
    scope_text = _product_with_one_limit(sandbox)
    scope = PolicyScope.parse(scope_text)
    before = backend.get_policy(scope).xml
    run_json(sandbox, "limits", "set", scope_text, "--tpm", "2222", "--yes")
    run_json(sandbox, "limits", "undo", "--yes")
    assert backend.get_policy(scope).xml == before

    run_json(sandbox, "limits", "set", scope_text, "--tpm", "3333", "--yes")
    current = backend.get_policy(scope)
    backend.put_policy(scope, current.xml.replace('"3333"', '"3334"'), etag=current.etag)
    code, _, err = run(sandbox, "-o", "json", "limits", "undo", "--yes")
    assert code == 1 and "changed by someone else" in err
    assert '"3334"' in backend.get_policy(scope).xml


@pytest.mark.parametrize(
    "args,code,needle",
    [
        (["limits", "set", "galaxy:far", "--tpm", "5"], 2, "is not a scope"),
        (["limits", "set", "product:no-such-product", "--tpm", "5", "--yes"], 1, "not found"),
        (["limits", "set", "global", "--tpm", "5", "--yes"], 1, "no"),
        (["limits", "set", "global", "--tpm", "0"], 2, "positive"),
        (["limits", "override", "--subscription", "x", "--tpm", "5"], 2, "--until"),
        (["limits", "override", "--subscription", "x", "--tpm", "5", "--until", "soon"], 2, "not a duration"),
        (["limits", "override", "--remove", "ov-none", "--yes"], 1, "no override"),
    ],
)
def test_bad_input_is_one_sentence_and_writes_nothing(sandbox, args, code, needle):
    before = run_json(sandbox, "limits", "list")
    got, _, err = run(sandbox, *args)
    assert got == code
    assert needle in err and "Traceback" not in err
    assert run_json(sandbox, "limits", "list") == before


def test_quota_without_a_period_is_refused_before_writing(sandbox, backend):
    rows = run_json(sandbox, "limits", "list")
    target = next(r for r in rows if r["scope"].startswith("product:") and r["token_quota_period"] is None
                  and r["policy"].endswith("token-limit"))
    scope = PolicyScope.parse(target["scope"])
    before = backend.get_policy(scope)
    code, _, err = run(sandbox, "-o", "json", "limits", "set", target["scope"], "--quota", "100", "--yes",
                       "--index", str(target["index"]))
    assert code == 2 and "period" in err
    assert backend.get_policy(scope).etag == before.etag
