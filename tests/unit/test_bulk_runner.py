"""The bulk runner: paced, throttle-aware, and resumable without repeating finished items."""

from __future__ import annotations

import secrets
import threading

import pytest

from aiconsole.audit.journal import AuditJournal
from aiconsole.domain.errors import PreconditionFailedError, ThrottledError
from aiconsole.domain.models import KeyPair, Scope, Subscription, SubscriptionState
from aiconsole.services.bulk import (
    BulkRunner,
    RetryGate,
    RotateSlotAction,
    RunLog,
    SetStateAction,
    WriteBudget,
    replay,
)
from aiconsole.services.context import ServiceContext


class FakeBackend:
    label = "fake"

    def __init__(self, n=20, throttle_every=0):
        self.lock = threading.Lock()
        self.keys = {f"s{i}": {"primary": secrets.token_hex(8), "secondary": secrets.token_hex(8)} for i in range(n)}
        self.state = {sid: "active" for sid in self.keys}
        self.version = {sid: 1 for sid in self.keys}
        self.regenerated = {sid: 0 for sid in self.keys}
        self.patched = {sid: 0 for sid in self.keys}
        self.calls = 0
        self.throttle_every = throttle_every

    def _maybe_throttle(self):
        with self.lock:
            self.calls += 1
            if self.throttle_every and self.calls % self.throttle_every == 0:
                raise ThrottledError("throttled", retry_after=0.01)

    def list_secrets(self, sid):
        self._maybe_throttle()
        k = self.keys[sid]
        return KeyPair(name=sid, primary_key=k["primary"], secondary_key=k["secondary"])

    def regenerate_key(self, sid, slot):
        self._maybe_throttle()
        with self.lock:
            self.keys[sid][slot] = secrets.token_hex(8)
            self.regenerated[sid] += 1
            self.version[sid] += 1

    def get_subscription(self, sid):
        return Subscription(name=sid, state=SubscriptionState(self.state[sid]), scope=Scope.parse("/apis"),
                            etag=f'"{self.version[sid]}"')

    def update_subscription(self, sid, *, etag, **fields):
        self._maybe_throttle()
        with self.lock:
            if etag.strip('"') != str(self.version[sid]):
                raise PreconditionFailedError("changed")
            self.state[sid] = fields.get("state", self.state[sid])
            self.version[sid] += 1
            self.patched[sid] += 1
        return self.get_subscription(sid)


class Stop(BaseException):
    """Simulates the process being interrupted in the middle of the run."""


@pytest.fixture
def ctx(tmp_path):
    def make(backend):
        return ServiceContext(backend=backend, journal=AuditJournal(tmp_path / "audit.jsonl"), service_name="svc")
    return make


def ok_entries(journal):
    out = {}
    for e in journal.entries():
        if e["result"] == "ok":
            out[e["target"]] = out.get(e["target"], 0) + 1
    return out


def test_rotates_every_item_once_under_throttling(ctx, tmp_path):
    backend = FakeBackend(n=40, throttle_every=7)
    c = ctx(backend)
    runner = BulkRunner(c, RotateSlotAction(c, "primary"), concurrency=8, budget=WriteBudget(rate=0),
                        root=tmp_path / "bulk")
    names, prior = runner.open("filter:x", lambda: sorted(backend.keys))
    results = runner.run(names, prior)
    assert [r.name for r in results] == names
    assert all(r.result == "ok" for r in results), [r.as_json() for r in results if r.result != "ok"]
    assert set(backend.regenerated.values()) == {1}
    assert runner.gate.throttled > 0
    assert ok_entries(c.journal) == {f"subscription:{n}": 1 for n in names}
    for r in results:
        assert r.fields["fingerprint_before"] != r.fields["fingerprint_after"]


def test_interrupted_run_resumes_without_repeating(ctx, tmp_path):
    backend = FakeBackend(n=30)
    c = ctx(backend)
    count = {"n": 0}
    real = backend.regenerate_key

    def dying(sid, slot):
        real(sid, slot)
        count["n"] += 1
        if count["n"] == 12:
            raise Stop()  # killed after the server applied it, before the result was logged

    backend.regenerate_key = dying
    runner = BulkRunner(c, RotateSlotAction(c, "secondary"), concurrency=1, budget=WriteBudget(rate=0),
                        root=tmp_path / "bulk")
    names, prior = runner.open("filter:x", lambda: sorted(backend.keys))
    with pytest.raises(Stop):
        runner.run(names, prior)
    backend.regenerate_key = real
    again = BulkRunner(c, RotateSlotAction(c, "secondary"), concurrency=4, budget=WriteBudget(rate=0),
                       root=tmp_path / "bulk")
    names2, prior2 = again.open("filter:x", lambda: pytest.fail("a resumed run keeps its item list"))
    assert names2 == names and prior2 is not None
    assert len(prior2.finished) in (11, 12) and len(prior2.in_flight) == 1  # the worker may take one more
    results = again.run(names2, prior2)
    assert all(r.result == "ok" for r in results)
    assert sum(r.resumed for r in results) == len(prior2.finished)
    assert set(backend.regenerated.values()) == {1}
    detected = [r for r in results if r.fields.get("detected")]
    assert len(detected) == 1
    assert ok_entries(c.journal) == {f"subscription:{n}": 1 for n in names}
    # a finished run is not resumed: the same command later starts a new run
    third = BulkRunner(c, RotateSlotAction(c, "secondary"), root=tmp_path / "bulk")
    _, prior3 = third.open("filter:x", lambda: ["s1"])
    assert prior3 is None


def test_set_state_skips_unchanged_and_refuses_stale_etags(ctx, tmp_path):
    backend = FakeBackend(n=5)
    backend.state["s0"] = "suspended"
    c = ctx(backend)
    runner = BulkRunner(c, SetStateAction(c, "suspended"), budget=WriteBudget(rate=0), root=tmp_path / "bulk")
    names, prior = runner.open("filter:y", lambda: sorted(backend.keys))
    real_get = backend.get_subscription

    def racing_get(sid):
        sub = real_get(sid)
        if sid == "s3":
            backend.version[sid] += 1  # someone else writes between our read and our write
        return sub

    backend.get_subscription = racing_get
    by_name = {r.name: r for r in runner.run(names, prior)}
    assert by_name["s0"].result == "unchanged"
    assert by_name["s3"].result == "failed" and "changed by someone else" in by_name["s3"].error
    assert backend.state["s3"] == "active"
    assert all(by_name[n].result == "ok" for n in ("s1", "s2", "s4"))
    assert backend.patched == {"s0": 0, "s1": 1, "s2": 1, "s3": 0, "s4": 1}


def test_write_budget_paces_after_the_burst():
    now = {"t": 0.0}

    def sleep(s):
        now["t"] += s

    budget = WriteBudget(rate=10, burst=5, clock=lambda: now["t"], sleep=sleep)
    for _ in range(25):
        budget.acquire()
    assert now["t"] == pytest.approx(2.0, abs=0.01)  # 5 at once, then 20 at 10/s


def test_retry_gate_holds_every_worker():
    now = {"t": 0.0}
    gate = RetryGate(clock=lambda: now["t"], sleep=lambda s: now.__setitem__("t", now["t"] + s))
    gate.pause(3)
    gate.pause(1)  # a shorter Retry-After does not shorten the pause
    gate.wait()
    assert now["t"] == pytest.approx(3)


def test_replay_ignores_a_torn_last_line(tmp_path):
    log = RunLog(tmp_path / "r.jsonl")
    log.append({"type": "header", "items": ["a", "b"]})
    log.append({"type": "start", "name": "a", "before": {"fingerprint": "x"}})
    log.append({"type": "result", "name": "a", "result": "ok"})
    with open(log.path, "ab") as fh:
        fh.write(b'{"type": "start", "name": "b", "bef')
    prior = replay(log.read())
    assert prior.items == ["a", "b"] and set(prior.finished) == {"a"} and prior.in_flight == {}


def test_a_key_regenerated_but_not_read_back_is_journalled_as_made(ctx, tmp_path):
    """The regenerate landed; only reading the new key failed. The journal must not say 'failed'."""
    backend = FakeBackend(n=1)
    reads = {"n": 0}
    real = backend.list_secrets

    def flaky_after_regenerate(sid):
        if backend.regenerated[sid] and reads["n"] == 0:
            reads["n"] += 1
            raise ThrottledError("throttled", retry_after=0.01)
        return real(sid)

    backend.list_secrets = flaky_after_regenerate
    c = ctx(backend)
    runner = BulkRunner(c, RotateSlotAction(c, "primary"), concurrency=1, budget=WriteBudget(rate=0),
                        root=tmp_path / "bulk")
    names, prior = runner.open("filter:x", lambda: sorted(backend.keys))
    [result] = runner.run(names, prior)
    assert result.result == "ok" and backend.regenerated["s0"] == 1
    entries = [e for e in c.journal.entries() if e["target"] == "subscription:s0"]
    assert [e["result"] for e in entries] == ["ok"], entries
    assert "reading the result back failed" in (entries[0]["error"] or "")
