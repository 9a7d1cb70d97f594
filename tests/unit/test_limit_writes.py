"""LimitWriter on an in-memory policy store (no server needed for these rules; the same flows
run against the sandbox in tests/e2e/test_limits.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from aiconsole.audit.journal import AuditJournal
from aiconsole.domain.errors import PreconditionFailedError
from aiconsole.domain.models import PolicyDocument, PolicyScope
from aiconsole.policy import add_override
from aiconsole.policy.errors import LimitValidationError
from aiconsole.services.context import ServiceContext
from aiconsole.services.limit_writes import LimitWriter, parse_duration, parse_until
from aiconsole.services.limits import LimitsService

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)

RAW = """<policies>
    <inbound>
        <base />
        <set-header name="x-team" exists-action="override"><value>@(context.Request.Headers.GetValueOrDefault("x-team","none"))</value></set-header>
        <llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="1000" estimate-prompt-tokens="true" />
    </inbound>
</policies>"""

TEMPLATE = """<policies>
    <inbound>
        <llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="{tpm}" estimate-prompt-tokens="true" />
        <azure-openai-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="500" estimate-prompt-tokens="false" />
    </inbound>
</policies>"""


class PolicyStore:
    """Just enough of the management port for policy writes, with ETags."""

    def __init__(self, docs: dict[str, tuple[str, str]]) -> None:
        self.docs = {k: [text, fmt, 1] for k, (text, fmt) in docs.items()}

    def get_policy(self, scope, *, fmt="xml"):
        text, stored_fmt, version = self.docs[scope.label]
        return PolicyDocument(scope=scope, xml=text, format=stored_fmt, etag=f'"{version}"')

    def put_policy(self, scope, xml, *, etag, fmt="xml"):
        entry = self.docs[scope.label]
        if etag not in ("*", f'"{entry[2]}"'):
            raise PreconditionFailedError("changed by someone else")
        entry[0], entry[2] = xml, entry[2] + 1
        return PolicyDocument(scope=scope, xml=xml, format=fmt, etag=f'"{entry[2]}"')


def writer_for(store) -> LimitWriter:
    return LimitWriter(LimitsService(ServiceContext(backend=store, now=lambda: NOW)), author="alice")


def test_an_override_in_a_raw_document_is_written_raw():
    store = PolicyStore({"product:p": (RAW, "rawxml")})
    w = writer_for(store)
    doc = store.get_policy(PolicyScope.parse("product:p"))
    plan = w._plan("limits.override", doc.scope,
                   lambda text, form: add_override(text, 0, until=NOW + timedelta(hours=2), subscription="s1",
                                                   tokens_per_minute=5000, form=form, now=NOW).text,
                   "raise")
    assert 'context.Subscription.Id == "s1" && DateTime.UtcNow < new DateTime(2026, 11, 24, 12, 0, 0' in plan.after
    assert "&quot;" not in plan.after
    assert plan.after.startswith(RAW.split("<llm-token-limit")[0])


def test_a_placeholder_left_by_a_template_does_not_block_an_unrelated_edit():
    store = PolicyStore({"product:p": (TEMPLATE, "xml")})
    w = writer_for(store)
    plan = w.plan_set(PolicyScope.parse("product:p"), tpm=900, index=1)
    assert 'tokens-per-minute="900"' in plan.after and 'tokens-per-minute="{tpm}"' in plan.after
    w.apply(plan)
    assert 'tokens-per-minute="900"' in store.docs["product:p"][0]


def test_an_edit_that_introduces_an_error_is_refused_and_nothing_is_written():
    store = PolicyStore({"product:p": (RAW, "rawxml")})
    w = writer_for(store)
    with pytest.raises(LimitValidationError):
        w.plan_set(PolicyScope.parse("product:p"), tpm=0)
    assert store.docs["product:p"][2] == 1


def test_apply_on_a_stale_etag_journals_a_failure_and_keeps_the_other_write():
    store = PolicyStore({"product:p": (RAW, "rawxml")})
    w = writer_for(store)
    plan = w.plan_set(PolicyScope.parse("product:p"), tpm=2000)
    store.put_policy(PolicyScope.parse("product:p"), RAW.replace("x-team", "x-squad"), etag="*")
    with pytest.raises(PreconditionFailedError):
        w.apply(plan)
    assert "x-squad" in store.docs["product:p"][0] and 'tokens-per-minute="1000"' in store.docs["product:p"][0]
    last = AuditJournal().entries()[-1]
    assert (last["action"], last["result"]) == ("limits.set", "failed")
    again = w.reapply(plan)
    w.apply(again)
    assert "x-squad" in store.docs["product:p"][0] and 'tokens-per-minute="2000"' in store.docs["product:p"][0]


@pytest.mark.parametrize("text,expected", [("90m", 5400), ("2h", 7200), ("1h30m", 5400), ("7d", 604800), ("45s", 45)])
def test_durations(text, expected):
    assert parse_duration(text).total_seconds() == expected


def test_until_accepts_instants_and_refuses_the_past():
    assert parse_until("2026-11-24T14:00:00Z", NOW) == datetime(2026, 11, 24, 14, tzinfo=timezone.utc)
    assert parse_until("2026-11-24T14:00:00", NOW).tzinfo is not None
    with pytest.raises(Exception, match="not in the future"):
        parse_until("2026-11-24T09:00:00Z", NOW)
