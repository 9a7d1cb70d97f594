"""Minting a gateway access token (``t`` on ``:gw``) and handing it over safely.

The form takes a key slot and an expiry (default 30 days, never more, never in the past: the
same validation as the CLI, shown inline before anything is sent). The minted token is shown
masked with its fingerprint, next to the ready-to-paste ``config.service.auth`` value and a
Kubernetes Secret; ``c``/``a``/``k`` copy them with OSC 52 (works over SSH), ``v`` reveals for
15 seconds. The token lives only in this modal's memory and is gone when it closes.
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Button, Input, Static

from aiconsole.domain.errors import AiconsoleError
from aiconsole.domain.text import sanitize
from aiconsole.services.gateways import GatewayService, MintedToken, parse_expiry

REVEAL_SECONDS = 15


class SlotPicker(Widget, can_focus=True):
    """``◉ primary  ○ secondary``: readable without colour, chosen with p/s or the arrows."""

    BINDINGS = [
        Binding("p", "pick('primary')", "Primary", show=False, id="slot.primary"),
        Binding("s", "pick('secondary')", "Secondary", show=False, id="slot.secondary"),
        Binding("left,right,space", "toggle", "Other slot", show=False, id="slot.toggle"),
    ]

    DEFAULT_CSS = """
    SlotPicker { height: 1; width: auto; padding: 0 1 0 0; }
    SlotPicker:focus { text-style: reverse; }
    """

    slot: reactive[str] = reactive("primary")

    class Changed(Message):
        def __init__(self, picker: "SlotPicker", slot: str) -> None:
            super().__init__()
            self.picker, self.slot = picker, slot

    def __init__(self, slot: str = "primary", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.set_reactive(SlotPicker.slot, slot)

    def render(self) -> Text:
        out = Text()
        for name in ("primary", "secondary"):
            chosen = name == self.slot
            out.append(("◉ " if chosen else "○ ") + name, style="bold" if chosen else "dim")
            out.append("  ")
        out.append("(p/s)", style="dim")
        return out

    def action_pick(self, slot: str) -> None:
        self.slot = slot

    def action_toggle(self) -> None:
        self.slot = "secondary" if self.slot == "primary" else "primary"

    def watch_slot(self, slot: str) -> None:
        self.post_message(self.Changed(self, slot))


def token_text(token: MintedToken, *, revealed: bool, seconds_left: int = 0) -> Text:
    """The hand-over panel: token, auth value, Kubernetes Secret; masked unless revealed."""
    out = Text()
    out.append(f"Minted from the {token.slot} key · expires {token.expires:%Y-%m-%d %H:%M} UTC · "
               f"sha256:{token.fingerprint}\n", style="bold")
    if revealed:
        out.append(f"◉ revealed — masked again in {seconds_left}s\n", style="bold reverse")
    value = token.value.get_secret_value() if revealed else token.auth_value().removeprefix("GatewayKey ")
    out.append("Token       ", style="bold")
    out.append(value + "\n")
    out.append("Auth value  ", style="bold")
    out.append(token.auth_value(reveal=revealed))
    out.append("   (config.service.auth)\n", style="dim")
    out.append("Kubernetes Secret:\n", style="bold")
    out.append(token.kubernetes_secret(reveal=revealed), style="dim" if not revealed else "")
    return out


class TokenHandover:
    """Copy/reveal actions shared by the mint modal and the rotation wizard.

    The host sets ``self.token`` and has a ``_render_token()``; copying says what was copied by
    fingerprint, never the value.
    """

    token: MintedToken | None = None
    revealed_until: float | None = None

    @property
    def revealed(self) -> bool:
        return self.revealed_until is not None and self.app.clock.monotonic() < self.revealed_until  # type: ignore[attr-defined]

    def seconds_left(self) -> int:
        if self.revealed_until is None:
            return 0
        return max(0, int(round(self.revealed_until - self.app.clock.monotonic())))  # type: ignore[attr-defined]

    def action_reveal(self) -> None:
        if self.token is None:
            return
        self.revealed_until = self.app.clock.monotonic() + REVEAL_SECONDS  # type: ignore[attr-defined]
        self._render_token()

    def tick(self) -> None:
        if self.revealed_until is not None and not self.revealed:
            self.revealed_until = None
            self._render_token()
        elif self.revealed_until is not None:
            self._render_token()

    def action_copy(self, what: str) -> None:
        token = self.token
        if token is None:
            return
        if what == "auth":
            text, label = token.auth_value(reveal=True), "the config.service.auth value"
        elif what == "secret":
            text, label = token.kubernetes_secret(reveal=True), "the Kubernetes Secret"
        else:
            text, label = token.value.get_secret_value(), "the token"
        self.app.copy_to_clipboard(text)  # type: ignore[attr-defined]
        self.notify(f"Copied {label} for {sanitize(token.gateway)} (sha256:{token.fingerprint}) to the clipboard (OSC 52).",  # type: ignore[attr-defined]
                    title="Copied", markup=False)

    def _render_token(self) -> None:  # pragma: no cover - hosts override
        raise NotImplementedError


HANDOVER_BINDINGS = [
    Binding("c", "copy('token')", "Copy token", id="gwtoken.copy"),
    Binding("a", "copy('auth')", "Copy auth value", id="gwtoken.copy_auth"),
    Binding("k", "copy('secret')", "Copy k8s Secret", id="gwtoken.copy_secret"),
    Binding("v", "reveal", "Reveal 15s", id="gwtoken.reveal"),
]


class MintTokenScreen(TokenHandover, ModalScreen[MintedToken | None]):
    """Form → mint in a worker → hand-over panel. Dismisses with the token (or None)."""

    BINDINGS = [
        Binding("escape", "close", "Close", id="gwtoken.close"),
        Binding("enter", "mint", "Mint", show=False, id="gwtoken.mint"),
        *HANDOVER_BINDINGS,
    ]

    DEFAULT_CSS = """
    MintTokenScreen { align: center middle; }
    MintTokenScreen > Vertical {
        width: 100%; max-width: 96; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    MintTokenScreen #mint-title { text-style: bold; margin-bottom: 1; }
    MintTokenScreen .mint-row { height: auto; }
    MintTokenScreen .mint-label { width: 8; padding-top: 0; text-style: bold; }
    MintTokenScreen #mint-expiry { width: 16; }
    MintTokenScreen #mint-expiry-note { width: 1fr; padding-left: 1; color: $text-muted; }
    MintTokenScreen #mint-result { height: auto; max-height: 16; }
    MintTokenScreen #mint-buttons { height: auto; align-horizontal: right; }
    MintTokenScreen Button { margin-left: 2; min-width: 12; }
    """

    class Minted(Message):
        def __init__(self, token: MintedToken | None, error: BaseException | None) -> None:
            super().__init__()
            self.token, self.error = token, error

    def __init__(self, service_factory, gateway: str, *, slot: str = "primary",
                 production_name: str | None = None) -> None:
        super().__init__()
        self.service_factory = service_factory
        self.gateway = gateway
        self.slot = slot
        self.production_name = production_name
        self.token: MintedToken | None = None
        self.revealed_until: float | None = None
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Mint an access token for gateway {sanitize(self.gateway)}", id="mint-title", markup=False)
            with Horizontal(classes="mint-row", id="mint-slot-row"):
                yield Static("Slot", classes="mint-label")
                yield SlotPicker(self.slot, id="mint-slot")
            with Horizontal(classes="mint-row", id="mint-expiry-row"):
                yield Static("Expiry", classes="mint-label")
                yield Input("30d", id="mint-expiry", compact=True)
                yield Static(id="mint-expiry-note", markup=False)
            with VerticalScroll(id="mint-result"):
                yield Static(id="mint-token", markup=False)
            with Horizontal(id="mint-buttons"):
                yield Button("Mint (enter)", id="mint-go", variant="primary")
                yield Button("Close (esc)", id="mint-close")

    def on_mount(self) -> None:
        expiry = self.query_one("#mint-expiry", Input)
        if not getattr(self.app, "cursor_blink", True):
            expiry.cursor_blink = False
        self.query_one(SlotPicker).focus()  # p/s pick the slot; tab moves to the expiry
        self._validate()
        self.set_interval(1.0, self.tick, name="mint-reveal")

    # -- form ------------------------------------------------------------------------------
    def _validate(self) -> bool:
        note = self.query_one("#mint-expiry-note", Static)
        try:
            expires = parse_expiry(self.query_one("#mint-expiry", Input).value, self.app.clock.now())
        except AiconsoleError as exc:
            note.update(Text(f"✗ {exc.message}", style="bold"))
            return False
        note.update(f"→ {expires:%Y-%m-%d %H:%M} UTC (30 days at most)")
        return True

    def on_input_changed(self, event: Input.Changed) -> None:
        self._validate()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_mint()

    def on_slot_picker_changed(self, event: SlotPicker.Changed) -> None:
        self.slot = event.slot

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "mint-go":
            self.action_mint()
        else:
            self.action_close()

    def action_mint(self) -> None:
        if self.busy or self.token is not None:
            return
        if not self._validate():
            self.notify("Fix the expiry first; nothing was minted.", severity="warning", markup=False)
            return
        if self.production_name:
            from aiconsole.tui.screens.confirm import ConfirmScreen

            body = (f"Mint a {self.slot} token for gateway {sanitize(self.gateway)} on the production service "
                    f"'{self.production_name}'.")
            self.app.push_screen(ConfirmScreen("Mint a gateway token?", body, confirm_label="Mint",
                                               require_text=self.production_name),
                                 lambda typed: typed is not None and self._start(typed))
            return
        self._start(None)

    def _start(self, confirm_name: str | None) -> None:
        self.busy = True
        self.query_one("#mint-token", Static).update("minting…")
        self.mint(self.slot, self.query_one("#mint-expiry", Input).value, confirm_name)

    @work(thread=True, exclusive=True, exit_on_error=False, group="gw-mint")
    def mint(self, slot: str, expiry: str, confirm_name: str | None) -> None:
        try:
            service: GatewayService = self.service_factory()
            token = service.mint(self.gateway, slot, expiry, confirm_name=confirm_name)
        except Exception as exc:  # noqa: BLE001 - shown as a sentence
            self.post_message(self.Minted(None, exc))
            return
        self.post_message(self.Minted(token, None))

    def on_mint_token_screen_minted(self, message: Minted) -> None:
        self.busy = False
        if message.error is not None:
            self.query_one("#mint-token", Static).update("")
            self.app.show_error(message.error, "Minting failed")
            return
        self.token = message.token
        for selector in ("#mint-slot-row", "#mint-expiry-row", "#mint-go"):
            self.query_one(selector).display = False
        self.query_one("#mint-title", Static).update(
            f"Token for gateway {sanitize(self.gateway)} · c copy · a copy auth value · k copy Secret · v reveal")
        self._render_token()
        self.query_one("#mint-close", Button).focus()

    def _render_token(self) -> None:
        if self.token is not None:
            self.query_one("#mint-token", Static).update(
                token_text(self.token, revealed=self.revealed, seconds_left=self.seconds_left()))

    def action_close(self) -> None:
        self.dismiss(self.token)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("copy", "reveal"):
            return self.token is not None
        return True
