"""Line endings, indentation and span replacement: how new text is made to look native.

Everything the package inserts copies the document's own habits (its line ending, its
indent unit, its quote and self-closing style) so that a diff shows the change and nothing
else, and so that the inverse edit can restore the original bytes exactly.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable

from aiconsole.policy.scanner import Span, StartTag
from aiconsole.policy.tree import Document, Element

__all__ = [
    "line_ending",
    "line_start",
    "line_indent",
    "alone_on_line",
    "removal_span",
    "indent_unit",
    "add_continuation_indent",
    "remove_continuation_indent",
    "preferred_quote",
    "self_closing_style",
    "apply_replacements",
]

Replacement = tuple[int, int, str]


def line_ending(text: str) -> str:
    """The document's dominant line ending: ``\\r\\n`` if most line breaks are CRLF, else ``\\n``."""
    crlf = text.count("\r\n")
    lf = text.count("\n") - crlf
    return "\r\n" if crlf > lf else "\n"


def line_start(text: str, pos: int) -> int:
    """Index of the first character of the line that holds ``pos``."""
    return text.rfind("\n", 0, pos) + 1


def line_indent(text: str, pos: int) -> str:
    """The leading blanks (spaces and tabs) of the line that holds ``pos``."""
    start = line_start(text, pos)
    end = start
    while end < len(text) and text[end] in " \t":
        end += 1
    return text[start:end]


def _line_end_after(text: str, pos: int) -> int | None:
    """Index after the line break that ends the line of ``pos`` if only blanks lie between;
    ``len(text)`` at end of text; None if something else follows on the line."""
    i = pos
    while i < len(text) and text[i] in " \t":
        i += 1
    if i >= len(text):
        return len(text)
    if text.startswith("\r\n", i):
        return i + 2
    if text[i] == "\n":
        return i + 1
    return None


def alone_on_line(text: str, span: Span) -> bool:
    """True when only blanks precede ``span`` on its first line and follow it on its last."""
    start = line_start(text, span.start)
    return not text[start : span.start].strip(" \t") and _line_end_after(text, span.end) is not None


def removal_span(text: str, span: Span) -> Span:
    """What to delete to remove ``span`` cleanly: its whole line(s) when it is alone there
    (so no blank line is left behind), else exactly the span."""
    if not alone_on_line(text, span):
        return span
    start = line_start(text, span.start)
    end = _line_end_after(text, span.end)
    assert end is not None
    if end == len(text) and start > 0 and not text.endswith("\n"):
        # last line without a final newline: take the line break before it instead
        start = start - 2 if text[start - 2 : start] == "\r\n" else start - 1
    return Span(start, end)


def indent_unit(doc: Document, near: Element | None = None) -> str:
    """One level of indentation as this document writes it (tab, 2 spaces, 4 spaces ...).

    Taken from ``near`` and its parent when they sit on their own lines, else the most
    common step between a parent and a child in the document, else four spaces.
    """
    text = doc.text
    steps: Counter[str] = Counter()
    pairs = [(near.parent, near)] if near is not None and near.parent is not None else []
    for el in doc.iter():
        if el.parent is not None:
            pairs.append((el.parent, el))
    for i, (parent, child) in enumerate(pairs):
        p = line_indent(text, parent.span.start)
        c = line_indent(text, child.span.start)
        if line_start(text, parent.span.start) == line_start(text, child.span.start):
            continue
        if len(c) > len(p) and c.startswith(p):
            step = c[len(p) :]
            if i == 0 and near is not None:
                return step
            steps[step] += 1
    if steps:
        return steps.most_common(1)[0][0]
    return "    "


def add_continuation_indent(fragment: str, prefix: str) -> str:
    """Prefix every line of ``fragment`` after the first with ``prefix`` (exactly reversible)."""
    return fragment.replace("\n", "\n" + prefix) if prefix else fragment


def remove_continuation_indent(fragment: str, prefix: str) -> str:
    """Undo :func:`add_continuation_indent`; lines that do not start with ``prefix`` (edited
    by hand since) are left as they are."""
    if not prefix:
        return fragment
    lines = fragment.split("\n")
    out = [lines[0]] + [ln[len(prefix) :] if ln.startswith(prefix) else ln for ln in lines[1:]]
    return "\n".join(out)


def preferred_quote(doc: Document) -> str:
    """The quote character most attributes use (``"`` when there are none)."""
    counts: Counter[str] = Counter()
    for tok in doc.tokens:
        if isinstance(tok, StartTag):
            for attr in tok.attributes:
                counts[attr.quote] += 1
    return counts.most_common(1)[0][0] if counts else '"'


def self_closing_style(doc: Document) -> str:
    """`` />`` or ``/>``, as most self-closing tags in the document end."""
    spaced = tight = 0
    for tok in doc.tokens:
        if isinstance(tok, StartTag) and tok.self_closing:
            if doc.text[tok.span.end - 3] in " \t\r\n":
                spaced += 1
            else:
                tight += 1
    return "/>" if tight > spaced else " />"


def apply_replacements(text: str, replacements: Iterable[Replacement]) -> str:
    """Replace each ``(start, end, new)`` of the original ``text``; ranges must not overlap.

    Applied from the end backwards so earlier offsets stay valid. An insertion (``start ==
    end``) at the end of a removed range is allowed and lands after it.
    """
    reps = sorted(replacements, key=lambda r: (r[0], r[1]), reverse=True)
    out = text
    last_start = len(text) + 1
    for start, end, new in reps:
        if not 0 <= start <= end <= len(text) or end > last_start:
            raise ValueError("overlapping or out-of-range replacements")
        out = out[:start] + new + out[end:]
        last_start = start
    return out
