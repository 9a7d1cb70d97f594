"""The guided gateway token rotation (``r`` on ``:gw``), journey J4 step by step.

1. mint a token from the slot the nodes do not use (``m``), shown with copy/reveal;
2. the operator deploys it and says so (``d``); when node URLs are configured the wizard polls
   them until every one reports healthy (bounded), and says plainly when it cannot check;
3. regenerate the old slot (``y``), then probe the nodes once more to prove they survived.

Progress is saved by ``services.gateway_rotation`` (metadata only), so closing the wizard — or
the console — and coming back resumes at the same step. All service calls run in workers.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Static
from textual.worker import get_current_worker

from aiconsole.domain.errors import AiconsoleError
from aiconsole.domain.text import sanitize
from aiconsole.services.gateway_rotation import GatewayRotation
from aiconsole.telemetry.node_health import NodeHealth
from aiconsole.tui.screens.gateway_token import HANDOVER_BINDINGS, SlotPicker, TokenHandover, token_text

POLL_ATTEMPTS = 90
POLL_INTERVAL = 2.0


def nodes_text(nodes: list[NodeHealth]) -> Text:
    out = Text()
    for n in nodes:
        glyph = "✓" if n.healthy else "✗"
        latency = f" {n.latency_ms:.0f}ms" if n.latency_ms is not None else ""
        slot = f" · token from the {n.token_slot} key" if n.token_slot else ""
        out.append(f"  {glyph} {sanitize(n.url, max_length=60)} {n.status}{latency}{slot}",
                   style="" if n.healthy else "bold")
        if n.detail and not n.healthy:
            out.append(f" ({sanitize(n.detail, max_length=60)})", style="dim")
        out.append("\n")
    return out


class RotateGatewayScreen(TokenHandover, ModalScreen[bool]):
    """Dismisses with True when the old slot was regenerated."""

    BINDINGS = [
        Binding("m", "mint", "Mint", id="gwrotate.mint"),
        Binding("d", "deployed", "Deployed", id="gwrotate.deployed"),
        Binding("y", "regenerate", "Regenerate old slot", id="gwrotate.regenerate"),
        Binding("escape", "close", "Close", id="gwrotate.close"),
        *HANDOVER_BINDINGS,
    ]

    DEFAULT_CSS = """
    RotateGatewayScreen { align: center middle; }
    RotateGatewayScreen > Vertical {
        width: 100%; max-width: 96; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    RotateGatewayScreen #rot-title { text-style: bold; }
    RotateGatewayScreen #rot-step { margin: 1 0 0 0; height: auto; }
    RotateGatewayScreen .rot-row { height: auto; }
    RotateGatewayScreen .rot-label { width: 22; text-style: bold; }
    RotateGatewayScreen #rot-expiry { width: 16; }
    RotateGatewayScreen #rot-body { height: auto; max-height: 18; }
    RotateGatewayScreen #rot-keys { color: $text-muted; height: auto; }
    """

    class Planned(Message):
        def __init__(self, phase: str, plan: tuple[str, str] | None, error: BaseException | None,
                     state: Any = None) -> None:
            super().__init__()
            self.phase, self.plan, self.error, self.state = phase, plan, error, state

    class Minted(Message):
        def __init__(self, token: Any, error: BaseException | None) -> None:
            super().__init__()
            self.token, self.error = token, error

    class Probed(Message):
        def __init__(self, nodes: list[NodeHealth], done: bool, healthy: bool) -> None:
            super().__init__()
            self.nodes, self.done, self.healthy = nodes, done, healthy

    class Finished(Message):
        def __init__(self, result: Any, nodes: list[NodeHealth], error: BaseException | None) -> None:
            super().__init__()
            self.result, self.nodes, self.error = result, nodes, error

    def __init__(self, service_factory, gateway: str, *, nodes: list[str] | None = None,
                 production_name: str | None = None) -> None:
        super().__init__()
        self.service_factory = service_factory
        self.gateway = gateway
        self.nodes = list(nodes or [])
        self.production_name = production_name
        self.step = "loading"  # loading | plan | minted | waiting | ready | done
        self.old_slot: str | None = None
        self.new_slot: str | None = None
        self.need_slot = False
        self.resumed: Any = None
        self.observed: str | None = None
        self.node_health: list[NodeHealth] = []
        self.token = None
        self.revealed_until: float | None = None
        self.rotation: GatewayRotation | None = None
        self.message = ""
        self.done_ok = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Rotate the access token of gateway {sanitize(self.gateway)}", id="rot-title", markup=False)
            yield Static(id="rot-step")
            with Horizontal(classes="rot-row", id="rot-slot-row"):
                yield Static("The nodes use now", classes="rot-label")
                yield SlotPicker("primary", id="rot-slot")
            with Horizontal(classes="rot-row", id="rot-expiry-row"):
                yield Static("New token lifetime", classes="rot-label")
                yield Input("30d", id="rot-expiry", compact=True)
            with VerticalScroll(id="rot-body"):
                yield Static(id="rot-text")
            yield Static(id="rot-keys")

    def on_mount(self) -> None:
        expiry = self.query_one("#rot-expiry", Input)
        if not getattr(self.app, "cursor_blink", True):
            expiry.cursor_blink = False
        self.query_one("#rot-slot-row").display = False
        self.query_one("#rot-expiry-row").display = False
        self.set_interval(1.0, self.tick, name="rot-reveal")
        self._paint()
        self.load_plan()

    # -- workers ---------------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="gw-rotate")
    def load_plan(self) -> None:
        try:
            rotation = GatewayRotation(self.service_factory(), self.gateway)
            self.rotation = rotation
            self.observed = None if rotation.state else rotation.observe(self.nodes)
            try:
                plan = rotation.plan(observed=self.observed)
            except AiconsoleError:
                plan = None  # unknown: the operator says which slot the nodes use
        except Exception as exc:  # noqa: BLE001
            self.post_message(self.Planned("new", None, exc))
            return
        self.post_message(self.Planned(rotation.phase, plan, None, rotation.state))

    @work(thread=True, exclusive=True, exit_on_error=False, group="gw-rotate")
    def do_mint(self, from_slot: str | None, expiry: str, confirm_name: str | None) -> None:
        try:
            token = self.rotation.mint(from_slot=from_slot, expiry=expiry, confirm_name=confirm_name,  # type: ignore[union-attr]
                                       nodes=self.nodes, observed=self.observed)
        except Exception as exc:  # noqa: BLE001
            self.post_message(self.Minted(None, exc))
            return
        self.post_message(self.Minted(token, None))

    @work(thread=True, exclusive=True, exit_on_error=False, group="gw-rotate")
    def wait_for_nodes(self) -> None:
        worker = get_current_worker()
        rotation = self.rotation
        assert rotation is not None
        rotation.mark_deployed()

        def wait(seconds: float) -> None:
            if worker.is_cancelled:
                raise RuntimeError("cancelled")
            import threading

            threading.Event().wait(seconds)

        try:
            result = rotation.wait_healthy(self.nodes, attempts=POLL_ATTEMPTS, interval=POLL_INTERVAL, wait=wait,
                                           on_probe=lambda nodes: self.post_message(self.Probed(nodes, False, False)))
        except RuntimeError:
            return
        self.post_message(self.Probed(result.nodes, True, result.healthy))

    @work(thread=True, exclusive=True, exit_on_error=False, group="gw-rotate")
    def do_finish(self, confirm_name: str | None) -> None:
        try:
            result, after = self.rotation.finish(confirm_name=confirm_name, nodes=self.nodes)  # type: ignore[union-attr]
        except Exception as exc:  # noqa: BLE001
            self.post_message(self.Finished(None, [], exc))
            return
        self.post_message(self.Finished(result, after, None))

    # -- messages --------------------------------------------------------------------------
    def on_rotate_gateway_screen_planned(self, message: Planned) -> None:
        if message.error is not None:
            self.app.show_error(message.error, "Cannot start the rotation")
            self.dismiss(False)
            return
        self.resumed = message.state if message.phase in ("minted", "deployed") else None
        if message.plan is None:
            self.need_slot = True
            self.query_one("#rot-slot-row").display = True
            self.query_one("#rot-slot", SlotPicker).focus()
        else:
            self.old_slot, self.new_slot = message.plan
        if message.phase == "deployed":
            self.message = (f"Resumed: the token sha256:{message.state.fingerprint} from the {message.state.new_slot} "
                            "key was reported deployed (m mints a fresh one if you lost it).")
            self.step = "ready" if not self.nodes else "waiting"
            if self.nodes:
                self.wait_for_nodes()
        else:
            self.step = "plan"
            self.query_one("#rot-expiry-row").display = True
        self._paint()

    def on_rotate_gateway_screen_minted(self, message: Minted) -> None:
        if message.error is not None:
            self.step = "plan"
            self.app.show_error(message.error, "Minting failed")
        else:
            self.token = message.token
            self.old_slot = self.rotation.state.old_slot  # type: ignore[union-attr]
            self.new_slot = self.rotation.state.new_slot  # type: ignore[union-attr]
            self.step = "minted"
            self.query_one("#rot-slot-row").display = False
            self.query_one("#rot-expiry-row").display = False
            self.query_one("#rot-body").focus()
        self._paint()

    def on_rotate_gateway_screen_probed(self, message: Probed) -> None:
        self.node_health = message.nodes
        if message.done:
            self.step = "ready" if message.healthy else "minted"
            if not message.healthy:
                self.message = ("Not every node is healthy on the new key: the old key was NOT regenerated. "
                                "Deploy the token or fix the nodes, then press d again.")
        self._paint()

    def on_rotate_gateway_screen_finished(self, message: Finished) -> None:
        if message.error is not None:
            self.step = "ready"
            self.app.show_error(message.error, "Regenerating the old key failed")
            self._paint()
            return
        self.step = "done"
        self.node_health = message.nodes
        self.done_ok = all(n.healthy for n in message.nodes)
        r = message.result
        self.message = (f"Regenerated the {r.slot} key ({r.key_fingerprint_before} → {r.key_fingerprint_after}); "
                        f"{len(r.invalidated)} known token(s) from it are now invalid.")
        self._paint()

    # -- actions ---------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        allowed = {
            "mint": (self.step in ("plan", "waiting") and self.token is None),
            "deployed": self.step == "minted" or (self.step == "plan" and self.resumed is not None),
            "regenerate": self.step == "ready",
            "copy": self.token is not None,
            "reveal": self.token is not None,
        }
        return allowed.get(action, True)

    def action_mint(self) -> None:
        if self.step not in ("plan", "waiting") or self.token is not None:
            return
        self.workers.cancel_group(self, "gw-rotate")
        expiry = self.query_one("#rot-expiry", Input).value
        from_slot = None
        if self.need_slot:
            from_slot = self.query_one("#rot-slot", SlotPicker).slot
        self.step = "loading"
        self.message = ""
        self._paint()
        self._with_confirmation(f"Mint a token for gateway {sanitize(self.gateway)} for the rotation.",
                                lambda typed: self.do_mint(from_slot, expiry, typed))

    def action_deployed(self) -> None:
        if self.rotation is None or self.rotation.state is None:
            return
        self.message = ""
        self.step = "waiting"
        self._paint()
        self.wait_for_nodes()

    def action_regenerate(self) -> None:
        if self.step != "ready":
            return
        self.step = "loading"
        self._paint()
        self._with_confirmation(f"Regenerate the {self.old_slot} key of gateway {sanitize(self.gateway)}.",
                                self.do_finish)

    def _with_confirmation(self, body: str, go) -> None:
        """Production profiles need the service name typed before each write."""
        if not self.production_name:
            go(None)
            return
        from aiconsole.tui.screens.confirm import ConfirmScreen

        def answered(typed: str | None) -> None:
            if typed is None:
                self.step = "plan" if self.token is None else ("minted" if self.step == "loading" else self.step)
                self._paint()
                return
            go(typed)

        self.app.push_screen(ConfirmScreen("Confirm on production", body, require_text=self.production_name), answered)

    def action_close(self) -> None:
        self.workers.cancel_group(self, "gw-rotate")
        self.dismiss(self.step == "done")

    def on_slot_picker_changed(self, event: SlotPicker.Changed) -> None:
        self._paint()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_mint()

    # -- rendering -------------------------------------------------------------------------
    def _render_token(self) -> None:
        self._paint()

    def _paint(self) -> None:
        step = self.query_one("#rot-step", Static)
        body = Text()
        keys = ""
        old, new = self.old_slot, self.new_slot
        if self.need_slot and self.step == "plan":
            old = self.query_one("#rot-slot", SlotPicker).slot
            new = "primary" if old == "secondary" else "secondary"
        if self.step == "loading":
            step.update(Text("Working…", style="italic"))
        elif self.step == "plan":
            step.update(Text(f"Step 1 of 3 — mint a token from the {new} key", style="bold"))
            if self.need_slot:
                body.append("The console knows no live token of this gateway, so say which key slot the nodes "
                            "use now.\n")
            elif self.observed:
                body.append(f"The nodes report that their token comes from the {old} key.\n")
            else:
                body.append(f"The nodes use a token from the {old} key (per this console's records).\n")
            if self.resumed is not None:
                body.append(f"A rotation started {self.resumed.started} already minted sha256:{self.resumed.fingerprint} "
                            f"from the {self.resumed.new_slot} key; its value was not kept.\n", style="bold")
                keys = "m mint a fresh one · d it is deployed, continue · esc close"
            else:
                keys = "m/enter mint · esc close"
        elif self.step == "minted":
            step.update(Text("Step 2 of 3 — deploy the new token to every node, then press d", style="bold"))
            if self.token is not None:
                body.append_text(token_text(self.token, revealed=self.revealed, seconds_left=self.seconds_left()))
            keys = "d deployed · c copy · a copy auth value · k copy Secret · v reveal · esc close (resume later)"
        elif self.step == "waiting":
            step.update(Text(f"Step 2 of 3 — waiting for every node to report healthy on the {new} key…",
                             style="bold"))
            if not self.nodes:
                body.append("No node URLs are configured for this gateway.\n")
            keys = "esc close (resume later)" + (" · m mint a fresh token" if self.token is None else "")
        elif self.step == "ready":
            step.update(Text(f"Step 3 of 3 — regenerate the old {old} key", style="bold"))
            if self.nodes:
                body.append("Every configured node reports healthy.\n")
            else:
                body.append("No node URLs are configured: the console cannot check the nodes. Make sure every node "
                            "runs the new token before you go on.\n", style="bold")
            body.append(f"Regenerating the {old} key invalidates every token minted from it, at once.\n")
            keys = f"y regenerate the {old} key · esc close (resume later)"
        elif self.step == "done":
            step.update(Text("Rotation complete" if self.done_ok else "Rotation complete — check the nodes",
                             style="bold"))
            keys = "esc close"
        if self.node_health:
            body.append("Nodes:\n", style="bold")
            body.append_text(nodes_text(self.node_health))
            if self.step == "done" and not self.done_ok:
                body.append("⚠ Some nodes are unhealthy after the regeneration: they still ran a token from the old "
                            "key. Deploy the new token to them now.\n", style="bold")
        if self.message:
            body.append(self.message + "\n", style="bold")
        self.query_one("#rot-text", Static).update(body)
        self.query_one("#rot-keys", Static).update(keys)
        self.refresh_bindings()
