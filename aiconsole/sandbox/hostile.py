"""Hostile names: a seed option that renames some entities with strings built to attack a terminal.

Display names, notes, state comments and descriptions come from the server and are shown by the
console; anyone who can create a subscription or edit a product can choose them. ``aiconsole
sandbox --hostile-names`` seeds the usual world and then renames some entities with ANSI/OSC
sequences, bidi overrides, control characters, 10,000-character names and unicode everywhere, so
that tests (and people) can check that no screen or table output lets them through.

Only names change: ids, keys, scopes and policies stay as seeded, so every journey still works.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiconsole.sandbox.state import SandboxState

ESC = "\x1b"
BEL = "\x07"
ST = ESC + "\\"

# Each string attacks one thing; tests import this list to know what must never reach a screen.
HOSTILE_STRINGS: tuple[str, ...] = (
    f"{ESC}[31;1mRED ALERT{ESC}[0m team",  # SGR colour
    f"{ESC}]0;pwned title{BEL}retitle",  # OSC 0: window title
    f"{ESC}]52;c;cm0gLXJmIC8K{BEL}clipboard",  # OSC 52: write the operator's clipboard
    f"{ESC}]8;;https://evil.example/{ST}click me{ESC}]8;;{ST}",  # OSC 8 hyperlink
    f"{ESC}[2J{ESC}[H{ESC}[?1049h wipe",  # clear screen, alternate buffer
    f"{ESC}P+q544e{ST}dcs query",  # DCS request
    "invoice\u202egpj.exe",  # RLO bidi override
    "\u2066isolate\u2069 \u200fright-to-left\u200e \u061c",  # isolates and marks
    "tab\there\nnewline\rreturn\x08backspace\x07bell\x00nul\x7fdel",  # C0 + DEL
    "c1 \x9b31m csi \x9d0;x\x9c osc \x85 nel",  # 8-bit C1 controls
    "Ünïcödé 名前 🚀 Z\u0334a\u0337l\u0338g\u0336o ﷽ 𝔘𝔫𝔦",  # wide, combining, astral
    "\u200b\u2060\ufeffzero width\u00ad",  # invisible format characters
    "L" * 10_000,  # a 10,000-character name
    "W" + "名" * 3000 + "\x1b[5m",  # very wide, with a trailing blink
)


def hostile(index: int) -> str:
    """The ``index``-th hostile string (cycling), prefixed so that entities stay distinguishable."""
    return f"h{index} " + HOSTILE_STRINGS[index % len(HOSTILE_STRINGS)]


def apply_hostile_names(state: SandboxState) -> int:
    """Rename every third subscription, every second user and every product, API and gateway.

    Returns how many entities were renamed. Subscriptions are chosen in sorted id order so that
    hostile rows appear on the first page of every list, whatever the sort.
    """
    count = 0
    for i, sid in enumerate(sorted(state.subscriptions)):
        sub = state.subscriptions[sid]
        if i % 3 == 0:
            sub.display_name = hostile(count)
            sub.state_comment = hostile(count + 1)
            count += 1
    for i, uid in enumerate(sorted(state.users)):
        user = state.users[uid]
        if i % 2 == 0:
            user.first_name = hostile(count)
            user.last_name = hostile(count + 1)
            user.note = hostile(count + 2)
            count += 1
    for product in state.products.values():
        product.display_name = hostile(count)
        product.description = hostile(count + 1)
        count += 1
    for api in state.apis.values():
        api.display_name = hostile(count)
        api.description = hostile(count + 1)
        count += 1
    for gateway in state.gateways.values():
        gateway.description = hostile(count)
        gateway.location_name = hostile(count + 1)
        gateway.city = hostile(count + 2)
        count += 1
    return count
