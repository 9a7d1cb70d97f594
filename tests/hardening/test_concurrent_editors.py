"""Concurrent editors (issue #10 item 2): two consoles — each its own connection, context and
journal — race to change the same policy and the same subscription from threads released by one
barrier, and a raw SDK client races the console too. Exactly one writer wins each race; the loser
gets the 412 path (a PreconditionFailedError with one sentence, nothing written, journalled as
failed); the winner's change is what the server holds: no lost update."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from aiconsole.audit.journal import AuditJournal
from aiconsole.backends.connect import sandbox_connection
from aiconsole.domain.errors import PreconditionFailedError
from aiconsole.domain.models import PolicyScope
from aiconsole.services.context import ServiceContext
from aiconsole.services.lifecycle import LifecycleService
from aiconsole.services.limit_writes import LimitWriter
from aiconsole.services.limits import LimitsService
from tests.sandbox_fixture import sdk_client, start_sandbox

ROUNDS = 2


@pytest.fixture(scope="module")
def sandbox():
    info, stop = start_sandbox(seed=17, subscriptions=20, traffic=False)
    yield info
    stop()


def console(sandbox, journal: Path) -> ServiceContext:
    """One console: its own connection (its own HTTP session) and its own journal file."""
    backend = sandbox_connection(sandbox["management_url"]).backend()
    return ServiceContext(backend=backend, journal=AuditJournal(journal))


def _race(first, second):
    barrier = threading.Barrier(2)

    def run(fn):
        barrier.wait(timeout=10)
        try:
            return ("ok", fn())
        except PreconditionFailedError as exc:
            return ("412", exc)

    with ThreadPoolExecutor(2) as pool:
        return [f.result(timeout=30) for f in [pool.submit(run, first), pool.submit(run, second)]]


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_consoles_editing_one_policy_lose_no_update(sandbox, tmp_path, round_):
    scope = PolicyScope.parse("product:starter")
    writers = [LimitWriter(LimitsService(console(sandbox, tmp_path / f"journal-{i}.jsonl"))) for i in (0, 1)]
    tpms = [7000 + 10 * round_, 7001 + 10 * round_]
    plans = [w.plan_set(scope, tpm=t) for w, t in zip(writers, tpms)]  # both read the same ETag
    results = _race(lambda: writers[0].apply(plans[0]), lambda: writers[1].apply(plans[1]))
    kinds = sorted(kind for kind, _ in results)
    assert kinds == ["412", "ok"], results
    winner = next(i for i, (kind, _) in enumerate(results) if kind == "ok")
    loser = 1 - winner
    xml = sdk_client(sandbox).product_policy.get(sandbox["resource_group"], sandbox["service_name"], "starter",
                                                 "policy", format="xml").value
    assert f'tokens-per-minute="{tpms[winner]}"' in xml and f'"{tpms[loser]}"' not in xml
    loser_entries = AuditJournal(tmp_path / f"journal-{loser}.jsonl").entries()
    assert [e["result"] for e in loser_entries] == ["failed"]
    assert results[loser][1].message == (
        "The product:starter policy was changed by someone else since it was read; nothing was written.")
    # the loser's 412 path: reapply on the fresh text keeps the winner's change and adds its own
    again = writers[loser].reapply(plans[loser])
    writers[loser].apply(again)
    xml = sdk_client(sandbox).product_policy.get(sandbox["resource_group"], sandbox["service_name"], "starter",
                                                 "policy", format="xml").value
    assert f'tokens-per-minute="{tpms[loser]}"' in xml


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_consoles_changing_one_subscription_lose_no_update(sandbox, tmp_path, round_):
    from azure.mgmt.apimanagement.models import SubscriptionUpdateParameters

    services = [LifecycleService(console(sandbox, tmp_path / f"journal-{i}.jsonl")) for i in (0, 1)]
    sid = "support-bot-prod"
    current = services[0].backend.get_subscription(sid)
    names = [f"Renamed by A {round_}", f"Renamed by B {round_}"]
    results = _race(
        lambda: services[0].update(sid, display_name=names[0], if_match=current.etag),
        lambda: services[1].update(sid, display_name=names[1], if_match=current.etag),
    )
    assert sorted(kind for kind, _ in results) == ["412", "ok"], results
    winner = next(i for i, (kind, _) in enumerate(results) if kind == "ok")
    client = sdk_client(sandbox)
    rg, svc = sandbox["resource_group"], sandbox["service_name"]
    assert client.subscription.get(rg, svc, sid).display_name == names[winner]
    loser = 1 - winner
    assert "nothing was changed" in results[loser][1].message
    assert [e["result"] for e in AuditJournal(tmp_path / f"journal-{loser}.jsonl").entries()] == ["failed"]

    # and a raw SDK client against the console: the console's stale ETag is refused
    fresh = services[0].backend.get_subscription(sid)
    client.subscription.update(rg, svc, sid, fresh.etag, SubscriptionUpdateParameters(display_name="by the SDK"))
    with pytest.raises(PreconditionFailedError):
        services[0].update(sid, display_name="console after SDK", if_match=fresh.etag)
    assert client.subscription.get(rg, svc, sid).display_name == "by the SDK"
