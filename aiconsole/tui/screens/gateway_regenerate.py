"""Regenerating a gateway key slot (``K`` on ``:gw``): a confirmation that names the damage.

Regenerating a slot invalidates every token minted from it at once, and nodes running one go
down at their next sync. The modal says so, lists the tokens the console knows were minted from
the chosen slot (fingerprint, minted, expiry), and preselects the slot the current token does
NOT use, so the safe choice is the default. On production profiles the service name must be typed.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from aiconsole.domain.text import sanitize
from aiconsole.services.gateway_tokens import TokenRecord
from aiconsole.tui.screens.confirm import ConfirmScreen
from aiconsole.tui.screens.gateway_token import SlotPicker


def damage_text(gateway: str, slot: str, known: list[TokenRecord], current_slot: str | None,
                node_slots: dict[str, str] | None = None) -> Text:
    out = Text()
    out.append(f"Regenerating the {slot} key of {sanitize(gateway)} invalidates EVERY token minted from it, at once.\n",
               style="bold")
    out.append("Nodes running such a token lose their connection to the instance.\n")
    if known:
        out.append(f"Tokens this console minted from the {slot} key:\n", style="bold")
        for r in known:
            out.append(f"  ✗ sha256:{r.fingerprint}  minted {r.minted:%Y-%m-%d %H:%M}  "
                       f"expires {r.expires:%Y-%m-%d %H:%M}" + ("  (adopted)" if r.source == "adopted" else "") + "\n")
    else:
        out.append(f"This console knows no live token from the {slot} key (tokens minted elsewhere die too).\n",
                   style="italic")
    on_slot = [url for url, used in (node_slots or {}).items() if used == slot]
    for url in on_slot:
        out.append(f"⚠ Node {sanitize(url, max_length=60)} runs a token from the {slot} key: it goes down.\n",
                   style="bold")
    if current_slot == slot and not on_slot:
        out.append(f"⚠ The gateway's current token comes from the {slot} key: rotate first (r).\n", style="bold")
    return out


class RegenerateKeyScreen(ConfirmScreen):
    """Dismisses with (slot, typed confirmation) or None when cancelled.

    A ``ConfirmScreen`` (typed service name on production, y/n) with a slot picker and a body
    that lists what regenerating that slot kills, redrawn when the slot changes.
    """

    BINDINGS = [
        Binding("y", "confirm", "Regenerate", id="gwregen.yes"),
        Binding("n,escape", "cancel", "Cancel", id="gwregen.no"),
        Binding("p", "slot('primary')", "Primary", id="gwregen.primary"),
        Binding("s", "slot('secondary')", "Secondary", id="gwregen.secondary"),
    ]

    DEFAULT_CSS = """
    RegenerateKeyScreen > Vertical { max-width: 88; }
    RegenerateKeyScreen #regen-body { margin: 1 0; height: auto; }
    """

    def __init__(self, gateway: str, known: dict[str, list[TokenRecord]], *, current_slot: str | None = None,
                 require_text: str | None = None, node_slots: dict[str, str] | None = None) -> None:
        super().__init__(f"Regenerate a key of gateway {sanitize(gateway)}?", "", confirm_label="Regenerate",
                         require_text=require_text)
        self.gateway = gateway
        self.known = known
        self.node_slots = dict(node_slots or {})
        used = set(self.node_slots.values())
        # What the nodes report beats what the console remembers (its newest token may not be deployed).
        if len(used) == 1:
            current_slot = used.pop()
        self.current_slot = current_slot
        # The safe default: the slot the current token does not use.
        self.slot = "secondary" if current_slot == "primary" else "primary"

    def compose_body(self) -> ComposeResult:
        yield SlotPicker(self.slot, id="regen-slot")
        yield Static(id="regen-body")  # what regenerating the picked slot kills (_render_body)

    def on_mount(self) -> None:
        self._render_body()
        super().on_mount()

    def _render_body(self) -> None:
        self.query_one("#regen-body", Static).update(
            damage_text(self.gateway, self.slot, self.known.get(self.slot, []), self.current_slot, self.node_slots))

    def on_slot_picker_changed(self, event: SlotPicker.Changed) -> None:
        self.slot = event.slot
        self._render_body()

    def action_slot(self, slot: str) -> None:
        """``p``/``s`` pick the slot wherever the focus is (except in the typed confirmation)."""
        self.query_one(SlotPicker).slot = slot

    def result(self, typed: str):
        return (self.slot, typed)
