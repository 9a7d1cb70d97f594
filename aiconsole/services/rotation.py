"""Two-slot key rotation as a resumable state machine (journey J3).

APIM invalidates a key the moment it is regenerated, so the safe procedure is: regenerate the
slot consumers do not use, hand that key over, wait until the old slot is idle, then regenerate
the old slot. Each step is written to ``state_dir()/rotations/SID.json`` (atomically) *before*
it is carried out, together with the key fingerprints seen before it. A process killed at any
point resumes from the recorded step, and a regeneration step that finds the slot's fingerprint
already different from the recorded one knows it happened and is not repeated.

Steps: ``planned`` → ``regenerating_new`` → ``new_regenerated`` (hand over) → ``waiting`` →
``regenerating_old`` → ``done``. The state file holds fingerprints only, never keys.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

from aiconsole.config import paths
from aiconsole.domain.errors import AiconsoleError, RefusedError, UsageError
from aiconsole.domain.models import KeyPair, Slot
from aiconsole.domain.secrets import fingerprint
from aiconsole.services.context import ServiceContext

STEPS = ("planned", "regenerating_new", "new_regenerated", "waiting", "regenerating_old", "done")
#: transitions the machine may take; anything else in a state file is refused as corrupt
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "planned": ("regenerating_new",),
    "regenerating_new": ("new_regenerated",),
    "new_regenerated": ("waiting",),
    "waiting": ("regenerating_old",),
    "regenerating_old": ("done",),
    "done": (),
}
STATE_VERSION = 1
#: test hook: the process SIGKILLs itself at this checkpoint (a step name, or after_regenerate_new/old)
KILL_ENV = "AICONSOLE_TEST_KILL_AT"


def other(slot: Slot) -> Slot:
    return "secondary" if slot == "primary" else "primary"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class InvalidTransition(AiconsoleError):
    """A step was asked for out of order: a bug, or a hand-edited state file."""


@dataclass
class RotationState:
    """What is persisted between steps. Fingerprints only: this file must never hold a key."""

    sid: str
    old_slot: Slot
    new_slot: Slot
    service: str | None = None
    profile: str | None = None
    rotation_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    step: str = "planned"
    in_use_source: str = "given"  # given | telemetry
    fingerprints: dict[str, str | None] = field(default_factory=dict)
    history: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    started_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
    version: int = STATE_VERSION

    def advance(self, step: str) -> None:
        """Move to ``step`` if the machine allows it from the current one."""
        if step not in TRANSITIONS.get(self.step, ()):
            raise InvalidTransition(f"Rotation of '{self.sid}' cannot go from {self.step} to {step}.",
                                    "The state file may have been edited; remove it to start over.")
        self.step = step
        self.updated_at = _now()
        self.history.append({"step": step, "at": self.updated_at})

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RotationState":
        if data.get("version") != STATE_VERSION or data.get("step") not in STEPS:
            raise UsageError("The rotation state file is not one this version understands.",
                             "Finish or remove it (see `aiconsole keys rotate --help`).")
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


class RotationStore:
    """Atomic JSON files under ``state_dir()/rotations``, one per subscription, plus a lock file."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root else paths.state_dir() / "rotations"

    def path(self, sid: str) -> Path:
        return self.root / f"{quote(sid, safe='')}.json"

    def load(self, sid: str) -> RotationState | None:
        p = self.path(sid)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except ValueError:
            raise UsageError(f"The rotation state file {p} is damaged.", "Check the subscription's keys, then remove it.") from None
        return RotationState.from_json(data)

    def save(self, state: RotationState) -> None:
        """Write to a temp file, fsync, rename: a crash leaves the old or the new state, never half."""
        paths.ensure_private_dir(self.root)
        target = self.path(state.sid)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        data = json.dumps(state.as_json(), indent=2).encode("utf-8")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
        with contextlib.suppress(OSError):
            dfd = os.open(self.root, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)

    def archive(self, state: RotationState) -> Path:
        """Move a finished rotation aside so the next run of the command starts a new one."""
        done = paths.ensure_private_dir(self.root / "done")
        dest = done / f"{quote(state.sid, safe='')}.{state.rotation_id}.json"
        os.replace(self.path(state.sid), dest)
        return dest

    @contextlib.contextmanager
    def lock(self, sid: str) -> Iterator[None]:
        """One process per subscription's rotation; released by the kernel if the process dies."""
        paths.ensure_private_dir(self.root)
        fd = os.open(self.root / f"{quote(sid, safe='')}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RefusedError(f"Another process is rotating the keys of '{sid}' right now.",
                                   "Wait for it to finish, or stop it and run the command again to resume.") from None
            yield
        finally:
            os.close(fd)

    def active(self) -> list[RotationState]:
        """Unfinished rotations (for ``keys rotations`` and the TUI)."""
        if not self.root.is_dir():
            return []
        out = []
        for p in sorted(self.root.glob("*.json")):
            try:
                out.append(RotationState.from_json(json.loads(p.read_text(encoding="utf-8"))))
            except (ValueError, UsageError, TypeError):
                continue
        return out


def default_checkpoint(name: str) -> None:
    """Test hook: die like ``kill -9`` at a named checkpoint when ``AICONSOLE_TEST_KILL_AT`` says so."""
    wanted = os.environ.get(KILL_ENV)
    if wanted and name in wanted.split(","):
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class StepEvent:
    """What the machine tells its caller as it goes (for progress lines and the TUI)."""

    step: str
    message: str
    skipped: bool = False


class TwoSlotRotation:
    """Drive one subscription's two-slot rotation; every method is safe to call again after a crash."""

    def __init__(self, ctx: ServiceContext, sid: str, *, store: RotationStore | None = None,
                 checkpoint: Callable[[str], None] = default_checkpoint,
                 on_event: Callable[[StepEvent], None] | None = None, reason: str | None = None,
                 confirm_name: str | None = None) -> None:
        self.ctx = ctx
        self.sid = sid
        self.store = store or RotationStore()
        self.checkpoint = checkpoint
        self.on_event = on_event or (lambda _e: None)
        self.reason = reason
        self.confirm_name = confirm_name
        self.state: RotationState | None = None
        self.resumed = False

    # -- helpers ---------------------------------------------------------------------------
    @property
    def target(self) -> str:
        return f"subscription:{self.sid}"

    def _keys(self) -> KeyPair:
        return self.ctx.backend.list_secrets(self.sid)

    def _persist(self, step: str | None = None) -> None:
        assert self.state is not None
        if step is not None:
            self.state.advance(step)
        self.store.save(self.state)
        self.checkpoint(self.state.step)

    def _note(self, action: str, after: dict[str, Any] | None = None, result: str = "ok") -> None:
        """A journal entry for a step that is not itself a write (plan, handover, idle, done)."""
        assert self.state is not None
        self.ctx.journal.append(action=action, target=self.target, result=result, profile=self.ctx.profile,
                                service=self.ctx.service_name, principal=self.ctx.principal, reason=self.reason,
                                after=after, rotation_id=self.state.rotation_id, step=self.state.step)

    def _emit(self, message: str, skipped: bool = False) -> None:
        assert self.state is not None
        self.on_event(StepEvent(self.state.step, message, skipped))

    # -- start / resume --------------------------------------------------------------------
    def load(self) -> RotationState | None:
        """The unfinished rotation of this subscription, if there is one (checks it is ours)."""
        state = self.store.load(self.sid)
        if state is not None and state.service and self.ctx.service_name and state.service != self.ctx.service_name:
            raise UsageError(
                f"A rotation of '{self.sid}' on service '{state.service}' is unfinished.",
                f"Finish it with that profile, or remove {self.store.path(self.sid)} after checking its keys.")
        return state

    def start(self, in_use: Slot | None, *, infer: Callable[[], Slot] | None = None) -> RotationState:
        """Resume the recorded rotation, or plan a new one (the slot in use given or inferred)."""
        state = self.load()
        if state is not None:
            if in_use is not None and in_use != state.old_slot:
                raise UsageError(
                    f"The unfinished rotation of '{self.sid}' recorded consumers on the {state.old_slot} key, "
                    f"not the {in_use} key.", "Run it again without --in-use (or with the recorded slot) to resume.")
            self.state = state
            self.resumed = True
            self._note("keys.rotate.resume", {"step": state.step})
            self._emit(f"Resuming the rotation of {self.sid} at step {state.step}.")
            return state
        self.ctx.check_writable("rotate the keys of", self.target, confirm_name=self.confirm_name)
        keys = self._keys()  # 404 and missing RBAC fail here, before anything is recorded
        source = "given"
        if in_use is None:
            if infer is None:
                raise UsageError(f"Which key do the consumers of '{self.sid}' use?",
                                 "Give --in-use primary|secondary (no telemetry source is configured).")
            in_use = infer()
            source = "telemetry"
        fps = keys.fingerprints()
        self.state = RotationState(
            sid=self.sid, old_slot=in_use, new_slot=other(in_use), service=self.ctx.service_name,
            profile=self.ctx.profile, in_use_source=source,
            fingerprints={"primary_start": fps["primary"], "secondary_start": fps["secondary"]},
        )
        self.state.history.append({"step": "planned", "at": self.state.started_at})
        self.store.save(self.state)
        self._note("keys.rotate.plan", {"in_use": in_use, "in_use_source": source,
                                        "new_slot": self.state.new_slot, "fingerprints": fps})
        self._emit(f"Consumers use the {in_use} key ({source}); the {self.state.new_slot} key is regenerated first.")
        self.checkpoint("planned")
        return self.state

    # -- the regeneration steps --------------------------------------------------------------
    def _regenerate(self, slot: Slot, step: str, done_step: str, role: str, keys: KeyPair | None = None) -> None:
        """Regenerate ``slot`` once: record its fingerprint, then compare before acting on resume."""
        st = self.state
        assert st is not None
        if st.step != step:
            current = fingerprint((keys or self._keys()).key(slot))
            st.fingerprints[f"{role}_before"] = current
            self._persist(step)
        else:  # resuming inside this step: did the regeneration already happen?
            current = fingerprint(self._keys().key(slot))
        before = st.fingerprints[f"{role}_before"]
        if current != before:
            # The regeneration went through before the process stopped: never do it twice.
            st.fingerprints[f"{role}_after"] = current
            st.notes.append(f"{slot} key already regenerated ({before} → {current}); not repeated")
            self._note("keys.rotate.detected", {"slot": slot, "fingerprint_before": before,
                                                "fingerprint_after": current})
            self._emit(f"The {slot} key was already regenerated ({before} → {current}); not repeated.", True)
        else:
            with self.ctx.write("keys.rotate", self.target, reason=self.reason, confirm_name=self.confirm_name,
                                before={"slot": slot, "fingerprint": before}) as rec:
                rec.extra.update(rotation_id=st.rotation_id, step=step)
                rec.make(self.ctx.backend.regenerate_key, self.sid, slot)
                self.checkpoint(f"after_{step.replace('ing_', 'e_')}")
                after = fingerprint(self._keys().key(slot))
                rec.after = {"slot": slot, "fingerprint": after}
            st.fingerprints[f"{role}_after"] = after
            self._emit(f"Regenerated the {slot} key ({before} → {after}).")
        self._persist(done_step)

    def regenerate_new(self) -> None:
        """Steps ``regenerating_new`` → ``new_regenerated``: the idle slot gets a new key."""
        assert self.state is not None
        if self.state.step in ("planned", "regenerating_new"):
            self._regenerate(self.state.new_slot, "regenerating_new", "new_regenerated", "new")

    def new_key(self) -> KeyPair:
        """The keys after the first regeneration, for the hand-over (read fresh; never stored)."""
        keys = self._keys()
        assert self.state is not None
        fp = fingerprint(keys.key(self.state.new_slot))
        self._note("keys.rotate.handover", {"slot": self.state.new_slot, "fingerprint": fp})
        return keys

    def begin_wait(self) -> None:
        """Step ``waiting``: the new key has been handed over; consumers are moving."""
        assert self.state is not None
        if self.state.step == "new_regenerated":
            self._persist("waiting")

    def consumers_moved(self, how: str, detail: dict[str, Any] | None = None) -> None:
        """Record why the old slot is considered idle (telemetry, the user's word, --yes)."""
        self._note("keys.rotate.idle", {"how": how, **(detail or {})})

    def regenerate_old(self) -> None:
        """Steps ``regenerating_old`` → ``done``: the slot consumers left gets a new key."""
        st = self.state
        assert st is not None
        keys = None
        if st.step == "waiting":
            keys = self._keys()
            start = st.fingerprints.get(f"{st.old_slot}_start")
            current = fingerprint(keys.key(st.old_slot))
            if start and current != start:
                st.notes.append(f"{st.old_slot} key changed outside this rotation ({start} → {current})")
        if st.step in ("waiting", "regenerating_old"):
            self._regenerate(st.old_slot, "regenerating_old", "done", "old", keys)
            self._note("keys.rotate.done", {"fingerprints": st.fingerprints})

    def finish(self) -> Path | None:
        """Archive the state file of a finished rotation."""
        if self.state is not None and self.state.step == "done" and self.store.path(self.sid).exists():
            return self.store.archive(self.state)
        return None

    def summary(self, keys: KeyPair | None = None, *, show_keys: bool = False) -> dict[str, Any]:
        """The JSON the CLI prints: status, slots, fingerprints, and the new key (masked unless asked)."""
        st = self.state
        assert st is not None
        out: dict[str, Any] = {
            "name": self.sid,
            "rotation_id": st.rotation_id,
            "status": "done" if st.step == "done" else st.step,
            "resumed": self.resumed,
            "in_use_before": st.old_slot,
            "in_use_source": st.in_use_source,
            "new_slot": st.new_slot,
            "fingerprints": dict(st.fingerprints),
            "notes": list(st.notes),
        }
        if keys is not None:
            value = keys.key(st.new_slot)
            out["new_key"] = value.get_secret_value() if show_keys else keys.masked()[f"{st.new_slot}_key"]
            out["new_key_fingerprint"] = fingerprint(value)
        return out
