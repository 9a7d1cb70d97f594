"""The two-slot rotation state machine: transitions, persistence, resume without repeats."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

import pytest

from aiconsole.audit.journal import AuditJournal
from aiconsole.domain.errors import RefusedError, UsageError
from aiconsole.domain.models import KeyPair
from aiconsole.services.context import ServiceContext
from aiconsole.services.rotation import (
    STEPS,
    TRANSITIONS,
    InvalidTransition,
    RotationState,
    RotationStore,
    TwoSlotRotation,
)
from aiconsole.services.slot_usage import InferenceError, WaitTimedOut, infer_in_use, wait_until_idle


class FakeBackend:
    """Just enough of the management port: keys per slot and a count of regenerations."""

    label = "fake"

    def __init__(self) -> None:
        self.keys = {"primary": secrets.token_hex(16), "secondary": secrets.token_hex(16)}
        self.regenerated = {"primary": 0, "secondary": 0}
        self.issued = list(self.keys.values())

    def list_secrets(self, sid):
        return KeyPair(name=sid, primary_key=self.keys["primary"], secondary_key=self.keys["secondary"])

    def regenerate_key(self, sid, slot):
        self.keys[slot] = secrets.token_hex(16)
        self.issued.append(self.keys[slot])
        self.regenerated[slot] += 1


class Crash(Exception):
    pass


def crash_at(point):
    def checkpoint(name):
        if name == point:
            raise Crash(name)
    return checkpoint


@pytest.fixture
def env(tmp_path):
    backend = FakeBackend()
    ctx = ServiceContext(backend=backend, journal=AuditJournal(tmp_path / "audit.jsonl"), service_name="svc")
    store = RotationStore(tmp_path / "rotations")
    return backend, ctx, store


def run_all(machine, in_use="primary"):
    machine.start(in_use)
    machine.regenerate_new()
    machine.new_key()
    machine.begin_wait()
    machine.consumers_moved("confirmed")
    machine.regenerate_old()


def test_transitions_are_a_single_chain():
    chain = ["planned"]
    while TRANSITIONS[chain[-1]]:
        (nxt,) = TRANSITIONS[chain[-1]]
        chain.append(nxt)
    assert tuple(chain) == STEPS


def test_out_of_order_step_is_refused():
    state = RotationState(sid="s", old_slot="primary", new_slot="secondary")
    with pytest.raises(InvalidTransition):
        state.advance("regenerating_old")
    state.advance("regenerating_new")
    assert state.history[-1]["step"] == "regenerating_new"


def test_full_rotation_regenerates_each_slot_once_and_records_fingerprints_only(env, tmp_path):
    backend, ctx, store = env
    start_keys = dict(backend.keys)
    m = TwoSlotRotation(ctx, "sub1", store=store, checkpoint=lambda _n: None)
    run_all(m)
    assert m.state.step == "done"
    assert backend.regenerated == {"primary": 1, "secondary": 1}
    summary = m.summary(backend.list_secrets("sub1"))
    assert summary["new_slot"] == "secondary" and summary["status"] == "done"
    assert summary["new_key"].startswith("••••")
    archived = m.finish()
    assert archived is not None and not store.path("sub1").exists()
    text = archived.read_text() + (tmp_path / "audit.jsonl").read_text()
    for key in backend.issued:
        assert key not in text
    actions = [e["action"] for e in ctx.journal.entries()]
    assert actions == ["keys.rotate.plan", "keys.rotate", "keys.rotate.handover", "keys.rotate.idle",
                       "keys.rotate", "keys.rotate.done"]
    assert start_keys["primary"] != backend.keys["primary"]


CHECKPOINTS = ["planned", "regenerating_new", "after_regenerate_new", "new_regenerated", "waiting",
               "regenerating_old", "after_regenerate_old", "done"]


@pytest.mark.parametrize("point", CHECKPOINTS)
def test_crash_at_any_checkpoint_then_resume_never_repeats(env, point):
    backend, ctx, store = env
    with pytest.raises(Crash):
        run_all(TwoSlotRotation(ctx, "sub1", store=store, checkpoint=crash_at(point)))
    again = TwoSlotRotation(ctx, "sub1", store=store, checkpoint=lambda _n: None)
    run_all(again, in_use=None)  # resuming needs no --in-use
    assert again.resumed
    assert again.state.step == "done"
    assert backend.regenerated == {"primary": 1, "secondary": 1}
    fps = again.state.fingerprints
    assert fps["new_after"] != fps["new_before"] and fps["old_after"] != fps["old_before"]


def test_crash_twice_in_the_same_step(env):
    backend, ctx, store = env
    with pytest.raises(Crash):
        run_all(TwoSlotRotation(ctx, "sub1", store=store, checkpoint=crash_at("after_regenerate_old")))
    with pytest.raises(Crash):
        run_all(TwoSlotRotation(ctx, "sub1", store=store, checkpoint=crash_at("done")), in_use=None)
    run_all(TwoSlotRotation(ctx, "sub1", store=store, checkpoint=lambda _n: None), in_use=None)
    assert backend.regenerated == {"primary": 1, "secondary": 1}


def test_resume_with_a_different_slot_in_use_is_refused(env):
    backend, ctx, store = env
    with pytest.raises(Crash):
        run_all(TwoSlotRotation(ctx, "sub1", store=store, checkpoint=crash_at("waiting")))
    with pytest.raises(UsageError, match="recorded consumers on the primary key"):
        TwoSlotRotation(ctx, "sub1", store=store).start("secondary")


def test_state_of_another_service_is_not_resumed(env, tmp_path):
    backend, ctx, store = env
    with pytest.raises(Crash):
        run_all(TwoSlotRotation(ctx, "sub1", store=store, checkpoint=crash_at("waiting")))
    other = ServiceContext(backend=backend, journal=ctx.journal, service_name="other-svc")
    with pytest.raises(UsageError, match="on service 'svc' is unfinished"):
        TwoSlotRotation(other, "sub1", store=store).start(None)


def test_damaged_state_file_is_reported(env):
    backend, ctx, store = env
    store.root.mkdir(parents=True)
    store.path("sub1").write_text("{not json")
    with pytest.raises(UsageError, match="damaged"):
        TwoSlotRotation(ctx, "sub1", store=store).start("primary")
    store.path("sub1").write_text(json.dumps({"version": 99, "step": "planned"}))
    with pytest.raises(UsageError, match="not one this version"):
        TwoSlotRotation(ctx, "sub1", store=store).start("primary")


def test_read_only_profile_refuses_before_anything_is_recorded(env):
    backend, ctx, store = env
    ctx.read_only = True
    with pytest.raises(RefusedError):
        TwoSlotRotation(ctx, "sub1", store=store).start("primary")
    assert not store.path("sub1").exists()
    assert backend.regenerated == {"primary": 0, "secondary": 0}


def test_second_process_is_locked_out(env):
    _, _, store = env
    with store.lock("sub1"):
        with pytest.raises(RefusedError, match="Another process"):
            with store.lock("sub1"):
                pass


def test_without_in_use_or_telemetry_asks(env):
    _, ctx, store = env
    with pytest.raises(UsageError, match="--in-use"):
        TwoSlotRotation(ctx, "sub1", store=store).start(None)


def test_inferred_slot_is_recorded(env):
    backend, ctx, store = env
    m = TwoSlotRotation(ctx, "sub1", store=store, checkpoint=lambda _n: None)
    state = m.start(None, infer=lambda: "secondary")
    assert (state.old_slot, state.new_slot, state.in_use_source) == ("secondary", "primary", "telemetry")


# --------------------------------------------------------------------------- telemetry helpers


class Counters:
    def __init__(self, script):
        self.script = list(script)
        self.last = self.script[0]

    def calls_by_slot(self, sid):
        if self.script:
            self.last = self.script.pop(0)
        return dict(self.last)


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.slept = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_infer_one_slot_ever_used():
    assert infer_in_use(Counters([{"primary": 5, "secondary": 0}]), "s", sleep=pytest.fail) == "primary"


def test_infer_both_used_watches_which_moves():
    c = FakeClock()
    usage = Counters([{"primary": 5, "secondary": 9}, {"primary": 5, "secondary": 12}])
    assert infer_in_use(usage, "s", window=10, sleep=c.sleep) == "secondary"
    assert c.slept == [10]


@pytest.mark.parametrize("script, match", [
    ([{"primary": 0, "secondary": 0}], "No calls"),
    ([{"primary": 1, "secondary": 1}, {"primary": 2, "secondary": 2}], "both keys"),
    ([{"primary": 1, "secondary": 1}, {"primary": 1, "secondary": 1}], "neither moved"),
])
def test_infer_refuses_when_it_cannot_tell(script, match):
    with pytest.raises(InferenceError, match=match):
        infer_in_use(Counters(script), "s", sleep=lambda _s: None)


def test_wait_until_idle_resets_on_each_new_call():
    c = FakeClock()
    # calls keep arriving for three polls, then stop
    script = [{"primary": n, "secondary": 0} for n in (1, 2, 3, 4)] + [{"primary": 4, "secondary": 0}] * 50
    wait_until_idle(Counters(script), "s", "primary", timedelta(seconds=60), poll=10, clock=c.clock, sleep=c.sleep)
    assert c.now == pytest.approx(90)  # last change seen at t=30, then 60 s of silence


def test_wait_until_idle_times_out_with_a_resumable_message():
    c = FakeClock()
    script = [{"primary": n, "secondary": 0} for n in range(100)]
    with pytest.raises(WaitTimedOut, match="still in use"):
        wait_until_idle(Counters(script), "s", "primary", timedelta(seconds=60), poll=10, clock=c.clock,
                        sleep=c.sleep, timeout=timedelta(seconds=120))
