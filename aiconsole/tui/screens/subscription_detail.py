"""One subscription: its fields and its two keys, masked until asked.

Keys are fetched (``listSecrets``) only when this screen opens, held as ``SecretStr``, shown as
``••••••••3f9a`` plus a fingerprint. ``v`` reveals both for 15 seconds (a countdown is shown,
then they are masked again); ``c``/``C`` copy the primary/secondary key with OSC 52 and say so
without the key; ``r``/``R`` regenerate one slot after a confirmation that names the
subscription and the slot and says the old key stops working at once.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from aiconsole.domain.models import KeyPair, Slot, Subscription
from aiconsole.domain.secrets import fingerprint, mask
from aiconsole.domain.text import sanitize
from aiconsole.tui.rows.subscriptions import state_label
from aiconsole.tui.screens.base import ConsoleScreen
from aiconsole.tui.screens.modal_kit import production_name

REVEAL_SECONDS = 15


class SubscriptionDetailScreen(ConsoleScreen):
    SCREEN_TITLE = "Subscription"

    BINDINGS = [
        Binding("v", "reveal", "Reveal", id="detail.reveal", tooltip="Show both keys for 15 seconds"),
        Binding("c", "copy('primary')", "Copy", id="detail.copy_primary",
                tooltip="Copy the primary key (OSC 52)"),
        Binding("C", "copy('secondary')", "Copy secondary", show=False, id="detail.copy_secondary",
                tooltip="Copy the secondary key (OSC 52)"),
        Binding("r", "rotate('primary')", "Rotate", id="detail.rotate_primary",
                tooltip="Regenerate the primary key (asks first)"),
        Binding("R", "rotate('secondary')", "Rotate secondary", show=False, id="detail.rotate_secondary",
                tooltip="Regenerate the secondary key (asks first)"),
        Binding("l", "limits", "Limits", show=False, id="detail.limits"),
        Binding("f5", "reload", "Reload", show=False, id="detail.reload"),
    ]

    DEFAULT_CSS = """
    SubscriptionDetailScreen #detail-body { height: 1fr; padding: 0 1; }
    SubscriptionDetailScreen #detail-fields { height: auto; }
    SubscriptionDetailScreen #detail-keys { height: auto; margin-top: 1; border-top: solid $primary; }
    """

    FILTERABLE = False

    class KeysLoaded(Message):
        def __init__(self, keys: KeyPair | None, error: BaseException | None) -> None:
            super().__init__()
            self.keys, self.error = keys, error

    class Described(Message):
        def __init__(self, detail: dict[str, Any]) -> None:
            super().__init__()
            self.detail = detail

    class Rotated(Message):
        def __init__(self, result: Any, error: BaseException | None) -> None:
            super().__init__()
            self.result, self.error = result, error

    def __init__(self, subscription: Subscription) -> None:
        super().__init__()
        self.subscription = subscription
        self.keys: KeyPair | None = None
        self.keys_error: str | None = None
        self.detail: dict[str, Any] = {}
        self.revealed_until: float | None = None
        self.rotating: Slot | None = None

    # -- layout ----------------------------------------------------------------------------
    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="detail-body"):
            yield Static(id="detail-fields")
            yield Static(id="detail-keys")

    def focus_body(self) -> None:
        self.query_one("#detail-body").focus()

    def on_mount(self) -> None:
        self.set_status(f"{sanitize(self.subscription.name)} · loading keys…")
        self._render_fields()
        self._render_keys()
        self.focus_body()
        self.set_interval(1.0, self.tick, name="reveal-countdown")
        self.action_reload()

    WRITE_ACTIONS = ("rotate",)

    # -- loading ---------------------------------------------------------------------------
    def action_reload(self) -> None:
        self.load_keys()
        self.load_detail()

    @work(thread=True, exclusive=True, exit_on_error=False, group="detail-keys")
    def load_keys(self) -> None:
        try:
            keys = self.app.hub.subscriptions().keys(self.subscription.name)
        except Exception as exc:  # noqa: BLE001 - shown as a sentence
            self.post_message(self.KeysLoaded(None, exc))
            return
        self.post_message(self.KeysLoaded(keys, None))

    @work(thread=True, exclusive=True, exit_on_error=False, group="detail-describe")
    def load_detail(self) -> None:
        try:
            detail = self.app.hub.subscriptions().describe(self.subscription.name)
        except Exception:  # noqa: BLE001 - the list row is enough to show; keys matter more
            return
        self.post_message(self.Described(detail))

    def on_subscription_detail_screen_keys_loaded(self, message: KeysLoaded) -> None:
        if message.error is not None:
            self.keys = None
            from aiconsole.tui.errors import describe

            self.keys_error = describe(message.error)[0]
            self.app.show_error(message.error, "Cannot read the keys")
        else:
            self.keys = message.keys
            self.keys_error = None
            self.mark_updated()
        self._render_keys()
        self._status()

    def on_subscription_detail_screen_described(self, message: Described) -> None:
        self.detail = message.detail
        self._render_fields()

    # -- reveal ----------------------------------------------------------------------------
    @property
    def revealed(self) -> bool:
        return self.revealed_until is not None and self.app.clock.monotonic() < self.revealed_until

    def seconds_left(self) -> int:
        if self.revealed_until is None:
            return 0
        return max(0, int(round(self.revealed_until - self.app.clock.monotonic())))

    def action_reveal(self) -> None:
        if self.keys is None:
            self.notify("The keys have not loaded yet.", severity="warning", markup=False)
            return
        self.revealed_until = self.app.clock.monotonic() + REVEAL_SECONDS
        self._render_keys()

    def tick(self) -> None:
        """Once a second: count the reveal down and mask the keys when it runs out."""
        if self.revealed_until is None:
            return
        if not self.revealed:
            self.revealed_until = None
        self._render_keys()

    # -- copy ------------------------------------------------------------------------------
    def action_copy(self, slot: Slot) -> None:
        if self.keys is None:
            self.notify("The keys have not loaded yet.", severity="warning", markup=False)
            return
        secret = self.keys.key(slot)
        self.app.copy_to_clipboard(secret.get_secret_value())
        self.notify(
            f"Copied the {slot} key of {sanitize(self.subscription.name)} (fingerprint {fingerprint(secret)}) "
            "to the clipboard (OSC 52).",
            title="Copied",
            markup=False,
        )

    # -- rotate ----------------------------------------------------------------------------
    def action_rotate(self, slot: Slot) -> None:
        from aiconsole.tui.screens.confirm import ConfirmScreen

        if self.rotating is not None:
            self.notify("A rotation is already running.", severity="warning", markup=False)
            return
        sub = self.subscription
        name = sanitize(sub.display_name or "")
        who = f"{sanitize(sub.name)}" + (f" ({name})" if name else "")
        body = (
            f"Regenerate the {slot} key of subscription {who}.\n\n"
            f"The current {slot} key stops working at once: every consumer still using it gets "
            "401 until it switches. Hand out the other slot first if consumers use this one."
        )
        require = production_name(self.app)
        self.app.push_screen(
            ConfirmScreen(f"Rotate the {slot} key?", body, confirm_label=f"Rotate {slot}", require_text=require),
            lambda typed: self._confirmed(slot, typed),
        )

    def _confirmed(self, slot: Slot, typed: str | None) -> None:
        if typed is None:
            self.notify("Nothing was changed.", markup=False, timeout=3)
            return
        self.rotating = slot
        self.revealed_until = None
        self._render_keys()
        self._status()
        self.rotate_slot(slot, typed or None)

    @work(thread=True, exclusive=True, exit_on_error=False, group="detail-rotate")
    def rotate_slot(self, slot: Slot, confirm_name: str | None) -> None:
        try:
            result = self.app.hub.subscriptions().rotate(self.subscription.name, slot, confirm_name=confirm_name)
        except Exception as exc:  # noqa: BLE001 - shown as a sentence
            self.post_message(self.Rotated(None, exc))
            return
        self.post_message(self.Rotated(result, None))

    def on_subscription_detail_screen_rotated(self, message: Rotated) -> None:
        slot = self.rotating
        self.rotating = None
        if message.error is not None:
            self.app.show_error(message.error, f"Rotating the {slot} key failed")
        else:
            r = message.result
            self.notify(
                f"Rotated the {r.slot} key of {sanitize(r.name)}: {r.fingerprint_before} → {r.fingerprint_after}.",
                title="Key rotated",
                markup=False,
            )
        self.load_keys()
        self._status()

    def action_limits(self) -> None:
        from aiconsole.tui.screens.subscriptions import open_limits

        open_limits(self.app, self.subscription.name)

    # -- rendering -------------------------------------------------------------------------
    def _status(self) -> None:
        parts = [sanitize(self.subscription.name)]
        if self.rotating:
            parts.append(f"rotating the {self.rotating} key…")
        elif self.keys is None and self.keys_error is None:
            parts.append("loading keys…")
        if getattr(self.app.connection, "read_only", False):
            parts.append("v reveal · c/C copy primary/secondary · read-only")
        else:
            parts.append("v reveal · c/C copy · r/R rotate primary/secondary")
        self.set_status(" · ".join(parts))

    def _render_fields(self) -> None:
        sub = self.subscription
        now = self.app.clock.now()
        state, _ = state_label(sub, now)
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")

        def add(label: str, value: object) -> None:
            if value not in (None, ""):
                grid.add_row(label, Text(sanitize(value, max_length=400)))

        def date(value) -> str | None:
            return value.strftime("%Y-%m-%d %H:%M UTC") if value else None

        add("Name", sub.name)
        add("Display name", sub.display_name)
        add("State", state)
        add("Scope", sub.scope.label)
        product = self.detail.get("product") or {}
        api = self.detail.get("api") or {}
        if product:
            add("Product", f"{product.get('display_name') or product.get('name')} ({product.get('state') or '?'})")
        if api:
            add("API", f"{api.get('display_name') or api.get('name')} {api.get('path') or ''}".strip())
        add("Owner", sub.owner)
        add("Created", date(sub.created_date))
        add("Starts", date(sub.start_date))
        expires = date(sub.expiration_date)
        if expires and sub.is_expired(now):
            expires += "  ⌛ past (APIM does not enforce it)"
        add("Expires", expires)
        add("Ends", date(sub.end_date))
        add("Comment", sub.state_comment)
        if sub.allow_tracing is not None:
            add("Tracing", "allowed" if sub.allow_tracing else "off")
        self.query_one("#detail-fields", Static).update(grid)

    def _render_keys(self) -> None:
        widget = self.query_one("#detail-keys", Static)
        out = Text()
        if self.keys is None:
            out.append("Keys  ", style="bold")
            out.append(self.keys_error or "loading…", style="italic")
            widget.update(out)
            return
        revealed = self.revealed
        out.append("Keys", style="bold")
        if revealed:
            out.append(f"   ◉ revealed — masked again in {self.seconds_left()}s", style="bold reverse")
        elif self.rotating:
            out.append(f"   ⟳ rotating the {self.rotating} key…", style="italic")
        out.append("\n")
        for slot in ("primary", "secondary"):
            secret = self.keys.key(slot)  # type: ignore[arg-type]
            shown = secret.get_secret_value() if revealed else mask(secret)
            out.append(f"{slot:<10} ", style="bold")
            out.append(shown)
            out.append(f"   sha256:{fingerprint(secret)}\n", style="dim")
        widget.update(out)
