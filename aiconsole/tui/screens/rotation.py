"""``R``: two-slot rotation of one subscription's keys, with a live panel of calls per slot.

The same resumable state machine as ``aiconsole keys rotate --two-slot``: a rotation left
half way (by the CLI or by a closed console) opens at its recorded step. The panel polls the
per-slot call counters (the sandbox gateway's Prometheus metrics, or ``AICONSOLE_SLOT_METRICS_URL``)
every two seconds in a worker and shows, per slot, calls so far, calls since the panel opened
and how long the slot has been quiet — so the operator sees consumers move before ``f``
regenerates the old slot.
"""

from __future__ import annotations

import time
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from aiconsole.domain.models import KeyPair, Slot
from aiconsole.domain.secrets import fingerprint, mask
from aiconsole.domain.text import sanitize
from aiconsole.tui.errors import sentence
from aiconsole.tui.screens.modal_kit import WorkerDone, modal_css, production_name, service_context

POLL_SECONDS = 2.0
#: the old slot must have been quiet this long before ``f`` goes ahead without a second press
QUIET_SECONDS = 30.0
SLOTS: tuple[Slot, ...] = ("primary", "secondary")


def slot_usage_for(app):
    """The per-slot counter source for this connection (as the CLI finds it), or None."""
    from aiconsole.services.slot_usage import slot_usage_for as for_connection

    return for_connection(app.connection)


class SlotPanel(Static):
    """Calls per key slot: total, since opened, quiet for."""

    DEFAULT_CSS = "SlotPanel { height: auto; border: round $primary; padding: 0 1; margin: 1 0; }"

    def __init__(self, **kw: Any) -> None:
        super().__init__("calls per slot: waiting for telemetry…", **kw)
        self.first: dict[str, float] | None = None
        self.last: dict[str, float] = {}
        self.changed_at: dict[str, float] = {}

    def feed(self, counts: dict[str, float], now: float) -> None:
        if self.first is None:
            self.first = dict(counts)
            self.changed_at = {s: now for s in SLOTS}
        for slot in SLOTS:
            if counts.get(slot, 0) != self.last.get(slot, counts.get(slot, 0)):
                self.changed_at[slot] = now
        self.last = dict(counts)
        self.now = now
        self.refresh_text()

    def quiet_for(self, slot: str) -> float:
        return getattr(self, "now", 0.0) - self.changed_at.get(slot, getattr(self, "now", 0.0))

    def refresh_text(self, marks: dict[str, str] | None = None) -> None:
        if self.first is None:
            return
        lines = ["slot        calls   since opened   quiet for"]
        for slot in SLOTS:
            since = self.last.get(slot, 0) - self.first.get(slot, 0)
            tag = (marks or {}).get(slot, "")
            lines.append(f"{slot:<10} {self.last.get(slot, 0):>6.0f}   {since:>12.0f}   {self.quiet_for(slot):>7.0f}s  {tag}")
        self.update("\n".join(lines))


class RotationEvent(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class TwoSlotRotationScreen(ModalScreen[None]):
    """Keys: ``1``/``2`` say consumers use primary/secondary, ``i`` infer it, ``g`` regenerate
    the idle slot, ``v``/``c`` reveal/copy the new key, ``f`` finish (regenerate the old slot)."""

    BINDINGS = [
        Binding("1", "in_use('primary')", "Primary in use", id="rotate.in_use_primary"),
        Binding("2", "in_use('secondary')", "Secondary in use", id="rotate.in_use_secondary"),
        Binding("i", "infer", "Infer slot", id="rotate.infer"),
        Binding("g", "go", "Regenerate idle", id="rotate.go"),
        Binding("v", "reveal", "Reveal", id="rotate.reveal"),
        Binding("c", "copy", "Copy new key", id="rotate.copy"),
        Binding("f", "finish", "Finish", id="rotate.finish"),
        Binding("escape", "close", "Close", id="rotate.close"),
    ]
    DEFAULT_CSS = modal_css("TwoSlotRotationScreen")

    def __init__(self, sid: str) -> None:
        super().__init__()
        self.sid = sid
        self.in_use: Slot | None = None
        self.step: str | None = None  # None: nothing recorded yet
        self.new_slot: Slot | None = None
        self.keys: KeyPair | None = None
        self.revealed = False
        self.busy = False
        self.finish_armed = False
        self.usage = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Two-slot rotation · {sanitize(self.sid)}", classes="title")
            yield Static("loading…", id="rotate-state")
            yield SlotPanel(id="rotate-slots")
            yield Static("", id="rotate-key")
            if production_name(self.app):
                yield Input(placeholder=f"Type the service name '{production_name(self.app)}' to confirm",
                            id="rotate-confirm", compact=True)
            yield Static("", classes="hint", id="rotate-log")
            with Horizontal():
                yield Button("Regenerate idle (g)", id="rotate-go", variant="primary", compact=True)
                yield Button("Finish (f)", id="rotate-finish", variant="error", compact=True)

    def on_mount(self) -> None:
        self.usage = slot_usage_for(self.app)
        self.load()
        if self.usage is not None:
            self.set_interval(POLL_SECONDS, self.poll, name="slot-poll")
            self.poll()
        else:
            self.query_one(SlotPanel).update("No per-slot telemetry for this connection: say which slot "
                                             "consumers use (1/2) and confirm they moved yourself.")

    # -- workers ---------------------------------------------------------------------------
    def _confirm(self) -> str | None:
        """The typed service name on production profiles (read on the UI thread)."""
        return self.query_one("#rotate-confirm", Input).value.strip() if production_name(self.app) else None

    def _machine(self, confirm: str | None = None):
        from aiconsole.services.rotation import TwoSlotRotation

        return TwoSlotRotation(service_context(self.app), self.sid, confirm_name=confirm,
                               on_event=lambda e: self.post_message(RotationEvent(e.message)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="rotate-load")
    def load(self) -> None:
        try:
            machine = self._machine()
            state = machine.load()
            keys = service_context(self.app).backend.list_secrets(self.sid)
        except Exception as exc:  # noqa: BLE001
            self.post_message(WorkerDone("load", error=exc))
            return
        self.post_message(WorkerDone("load", (state, keys)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="rotate-poll")
    def poll(self) -> None:
        if self.usage is None:
            return
        try:
            counts = self.usage.calls_by_slot(self.sid)
        except Exception:  # noqa: BLE001 - the panel says telemetry is unavailable; rotation still works
            return
        self.post_message(WorkerDone("counts", (counts, time.monotonic())))

    @work(thread=True, exclusive=True, exit_on_error=False, group="rotate-infer")
    def infer(self) -> None:
        from aiconsole.services.slot_usage import infer_in_use

        try:
            slot = infer_in_use(self.usage, self.sid, window=5.0)
        except Exception as exc:  # noqa: BLE001
            self.post_message(WorkerDone("infer", error=exc))
            return
        self.post_message(WorkerDone("infer", slot))

    @work(thread=True, exclusive=True, exit_on_error=False, group="rotate-step")
    def run_step(self, what: str, in_use: Slot | None, confirm: str | None = None) -> None:
        try:
            machine = self._machine(confirm)
            with machine.store.lock(self.sid):
                if what == "start":
                    machine.start(in_use)
                    machine.regenerate_new()
                    keys = machine.new_key()
                    machine.begin_wait()
                else:
                    machine.start(None)
                    machine.begin_wait()
                    machine.consumers_moved("confirmed in the console")
                    machine.regenerate_old()
                    keys = service_context(self.app).backend.list_secrets(self.sid)
                    machine.finish()
                state = machine.state
        except Exception as exc:  # noqa: BLE001
            self.post_message(WorkerDone(what, error=exc))
            return
        self.post_message(WorkerDone(what, (state, keys)))

    # -- results ---------------------------------------------------------------------------
    def on_rotation_event(self, message: RotationEvent) -> None:
        self.query_one("#rotate-log", Static).update(sanitize(message.text))

    def on_worker_done(self, message: WorkerDone) -> None:
        if message.what == "counts":
            counts, now = message.result
            panel = self.query_one(SlotPanel)
            panel.feed(counts, now)
            panel.refresh_text(self._marks())
            return
        if message.error is not None:
            self.busy = False
            self.query_one("#rotate-log", Static).update(
                sentence(message.error))
            return
        if message.what == "infer":
            self.in_use = message.result
        elif message.what in ("load", "start", "finish"):
            self.busy = False
            state, keys = message.result
            self.keys = keys
            if state is not None:
                self.step, self.in_use, self.new_slot = state.step, state.old_slot, state.new_slot
            if message.what == "finish":
                self.step = "done"
        self._redraw()

    def _marks(self) -> dict[str, str]:
        if self.in_use is None:
            return {}
        other = "secondary" if self.in_use == "primary" else "primary"
        if self.step in ("waiting", "new_regenerated", "regenerating_old"):
            return {self.in_use: "← old (consumers must leave)", other: "← new"}
        if self.step == "done":
            return {other: "← in use now"}
        return {self.in_use: "← in use"}

    def _redraw(self) -> None:
        state = self.query_one("#rotate-state", Static)
        steps = {None: "not started", "planned": "planned", "regenerating_new": "regenerating the idle slot",
                 "new_regenerated": "new key ready", "waiting": "waiting for consumers to move",
                 "regenerating_old": "regenerating the old slot", "done": "done"}
        in_use = self.in_use or "unknown (1 primary · 2 secondary · i infer)"
        state.update(f"step: {steps.get(self.step, self.step)} · consumers on: {in_use}")
        key_line = ""
        if self.keys is not None and self.new_slot and self.step in ("waiting", "new_regenerated", "done"):
            value = self.keys.key(self.new_slot)
            shown = value.get_secret_value() if self.revealed else mask(value)
            key_line = f"new {self.new_slot} key: {shown}  (fingerprint {fingerprint(value)}) · v reveal · c copy"
        self.query_one("#rotate-key", Static).update(key_line)
        self.query_one(SlotPanel).refresh_text(self._marks())

    # -- actions ---------------------------------------------------------------------------
    def action_in_use(self, slot: Slot) -> None:
        if self.step is not None:
            self.notify("This rotation already recorded which slot consumers use.", markup=False)
            return
        self.in_use = slot
        self._redraw()

    def action_infer(self) -> None:
        if self.usage is None:
            self.notify("No per-slot telemetry for this connection; press 1 or 2.", severity="warning", markup=False)
            return
        self.query_one("#rotate-log", Static).update("watching the counters for 5 s…")
        self.infer()

    def action_go(self) -> None:
        if self.busy:
            return
        if self.step not in (None, "planned", "regenerating_new"):
            self.notify("The idle slot is already regenerated; f finishes.", markup=False)
            return
        if self.in_use is None:
            self.notify("Say which slot consumers use first (1, 2, or i to infer).", severity="warning",
                        markup=False)
            return
        self.busy = True
        self.query_one("#rotate-log", Static).update(f"regenerating the idle key (consumers on {self.in_use})…")
        self.run_step("start", self.in_use if self.step is None else None, self._confirm())

    def action_finish(self) -> None:
        if self.busy or self.step not in ("waiting", "new_regenerated", "regenerating_old"):
            if self.step != "done":
                self.notify("Regenerate the idle slot first (g).", markup=False)
            return
        panel = self.query_one(SlotPanel)
        quiet = panel.quiet_for(self.in_use or "") if panel.first is not None else None
        if quiet is not None and quiet < QUIET_SECONDS and not self.finish_armed:
            self.finish_armed = True
            self.notify(f"The old {self.in_use} key had calls {quiet:.0f}s ago: consumers still use it. "
                        "Press f again to regenerate it anyway.", severity="warning", markup=False)
            return
        self.finish_armed = False
        self.busy = True
        self.query_one("#rotate-log", Static).update(f"regenerating the old {self.in_use} key…")
        self.run_step("finish", None, self._confirm())

    def action_reveal(self) -> None:
        self.revealed = not self.revealed
        self._redraw()

    def action_copy(self) -> None:
        if self.keys is None or self.new_slot is None or self.step not in ("waiting", "new_regenerated", "done"):
            return
        secret = self.keys.key(self.new_slot)
        self.app.copy_to_clipboard(secret.get_secret_value())
        self.notify(f"Copied the new {self.new_slot} key of {sanitize(self.sid)} (fingerprint "
                    f"{fingerprint(secret)}) to the clipboard (OSC 52).", title="Copied", markup=False)

    def action_close(self) -> None:
        if self.step not in (None, "done"):
            self.notify("The rotation is recorded; R on this subscription (or the CLI) resumes it.", markup=False)
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "rotate-go":
            self.action_go()
        else:
            self.action_finish()
