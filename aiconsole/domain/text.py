"""Sanitising strings that come from a server or a file before they reach a terminal.

Display names, notes, policy XML and error messages are attacker-controllable: an ESC or an
OSC sequence in a subscription's display name must not repaint or retitle the operator's
terminal, and a bidi override must not reorder what they read.
"""

from __future__ import annotations

import re
import unicodedata

# CSI / OSC / DCS / other ESC sequences, then any remaining C0/C1 control characters.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC ... BEL or ST
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC
    r"|\x1b[@-Z\\-_]"  # two-byte ESC sequences
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
_BIDI = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"))


def sanitize(value: object, *, keep_newlines: bool = False, max_length: int | None = None) -> str:
    """Return ``value`` as text with escape sequences, control and bidi characters removed.

    ``keep_newlines`` keeps ``\\n`` (and turns ``\\t`` into spaces) for multi-line text such as
    policy XML; ``max_length`` cuts the result with an ellipsis.
    """
    text = "" if value is None else str(value)
    if text.isprintable():
        # The common case, and the hot path of big tables: no control, format (bidi) or escape
        # characters at all (ESC and every C0/C1/Cf character are non-printable).
        if max_length is not None and len(text) > max_length:
            text = text[: max(0, max_length - 1)] + "…"
        return text
    text = _ESCAPES.sub("", text)
    text = text.translate(_BIDI)
    out = []
    for ch in text:
        if ch == "\n" and keep_newlines:
            out.append(ch)
        elif ch == "\t":
            out.append("    " if keep_newlines else " ")
        elif ch == "\r" and keep_newlines:
            continue
        elif unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\u200d":
            continue
        else:
            out.append(ch)
    text = "".join(out)
    if max_length is not None and len(text) > max_length:
        text = text[: max(0, max_length - 1)] + "…"
    return text
