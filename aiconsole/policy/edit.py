"""Byte-preserving edits of limits: set or remove attributes, add or remove a limit.

Every function takes the policy text, returns the new text, and changes only the bytes it
means to change: the other attributes keep their order, quotes and spacing; comments,
indentation, line endings and every other element stay byte-identical.

Which limit: pass its ``index`` from :func:`~aiconsole.policy.limits.find_limits` or the
:class:`~aiconsole.policy.limits.TokenLimit` itself (refused if it came from another version
of the text).

Limits wrapped by overrides: the limit you see (and edit) is the base one in ``<otherwise>``.
Editing it changes the base value. Each override copy in a ``<when>`` follows the edit for
an attribute whose value it shares with the base (say the counter key, or a quota the
override did not raise) and keeps its own value where the override changed it (the raised
``tokens-per-minute``). Removing a limit that has overrides removes the whole block.

Validation: a value that is wrong on its own (``tokens-per-minute="-5"``) is refused, and so
is an edit that leaves the limit with a new error (removing ``counter-key``). Problems that
were already there (a ``{tpm}`` placeholder) do not block edits of other attributes.
"""

from __future__ import annotations

import re
from typing import Mapping

from aiconsole.policy.blocks import LIMIT_POLICIES, find_override_blocks
from aiconsole.policy.errors import LimitNotFoundError, LimitValidationError
from aiconsole.policy.layout import (
    Replacement,
    alone_on_line,
    apply_replacements,
    indent_unit,
    line_ending,
    line_indent,
    preferred_quote,
    removal_span,
    self_closing_style,
)
from aiconsole.policy.limits import TokenLimit, as_document, find_limits, get_limit
from aiconsole.policy.scanner import StartTag
from aiconsole.policy.tree import Document, Element
from aiconsole.policy.validate import check_value, raise_for_errors, validate_limit
from aiconsole.policy.xmltext import Form, decode_value, encode_value, resolve_form

__all__ = ["set_attribute", "remove_attribute", "set_attributes", "add_limit", "remove_limit", "element_of"]

_ATTR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
Changes = Mapping[str, "str | None"]


def _check_changes(policy: str, changes: Changes) -> None:
    for name, value in changes.items():
        if not _ATTR_NAME.fullmatch(name):
            raise LimitValidationError(f"'{name}' is not an attribute name.")
        if value is None:
            continue
        if not isinstance(value, str):
            raise TypeError(f"the value of {name} must be a string (or None to remove it), not {type(value).__name__}")
        problem = check_value(policy, name, value)
        if problem is not None and problem.severity == "error":
            raise LimitValidationError(problem.message, "Nothing was changed.", details=[problem.message])


def attribute_replacements(text: str, tag: StartTag, changes: Changes, form: Form, *, offset: int = 0) -> list[Replacement]:
    """The replacements that apply ``changes`` (name → new value, None removes) to ``tag``.

    A changed value keeps its quote character; a removed attribute takes the whitespace
    before it along; a new attribute goes after the last one, separated the way the last
    one is (same line or its own line) and quoted like it. ``offset`` shifts the result
    when ``text`` is a slice of a larger text.
    """
    reps: list[Replacement] = []
    additions: list[str] = []
    last = tag.attributes[-1] if tag.attributes else None
    sep = last.leading.of(text) if last is not None and last.leading.of(text) else " "
    quote = last.quote if last is not None else '"'
    for name, value in changes.items():
        attr = tag.attribute(name)
        if attr is not None:
            if value is None:
                reps.append((attr.leading.start + offset, attr.span.end + offset, ""))
            else:
                enc = encode_value(value, attr.quote, form)
                reps.append((attr.value_span.start + offset, attr.value_span.end + offset, enc))
        elif value is not None:
            additions.append(f"{sep}{name}={quote}{encode_value(value, quote, form)}{quote}")
    if additions:
        at = last.span.end if last is not None else tag.span.start + 1 + len(tag.name)
        reps.append((at + offset, at + offset, "".join(additions)))
    return reps


def element_of(doc: Document, limit: TokenLimit) -> Element:
    """The element behind ``limit`` in ``doc`` (same span)."""
    for el in doc.iter():
        if el.span == limit.span and el.name == limit.policy:
            return el
    raise LimitNotFoundError(f"The {limit.policy} at line {limit.line} is not in this document.")


def _errors(limit: TokenLimit) -> set[str]:
    return {p.message for p in validate_limit(limit) if p.severity == "error"}


def _check_result(new_text: str, before: TokenLimit, form: Form) -> None:
    """Refuse an edit that adds an error to the limit (old problems do not block)."""
    after = find_limits(new_text, form=form)[before.index]
    new_errors = [p for p in validate_limit(after) if p.severity == "error" and p.message not in _errors(before)]
    raise_for_errors(new_errors, f"The edited {before.policy}")


def set_attributes(
    source: str | Document,
    limit: int | TokenLimit,
    changes: Changes,
    *,
    form: Form | None = None,
    validate: bool = True,
) -> str:
    """Apply several attribute changes to one limit at once (``None`` removes an attribute).

    Use it when values belong together (``token-quota`` with ``token-quota-period``): each
    is checked, then the result as a whole.
    """
    doc = as_document(source)
    form = resolve_form(doc, form)
    target = get_limit(doc, limit, form=form)
    if validate:
        _check_changes(target.policy, changes)
    text = doc.text
    el = element_of(doc, target)
    reps = attribute_replacements(text, el.start, changes, form)
    if target.role == "base":
        for block in find_override_blocks(doc):
            if block.base is not el:
                continue
            for when in block.whens:
                follow = {}
                for name, value in changes.items():
                    base_attr = el.attribute(name)
                    copy_attr = when.limit.attribute(name)
                    base_old = decode_value(base_attr.raw, form) if base_attr is not None else None
                    copy_old = decode_value(copy_attr.raw, form) if copy_attr is not None else None
                    if base_old == copy_old:
                        follow[name] = value
                if follow:
                    reps.extend(attribute_replacements(text, when.limit.start, follow, form))
    new_text = apply_replacements(text, reps)
    if validate and new_text != text:
        _check_result(new_text, target, form)
    return new_text


def set_attribute(
    source: str | Document, limit: int | TokenLimit, name: str, value: str, *, form: Form | None = None, validate: bool = True
) -> str:
    """Set one attribute of one limit (added after the last attribute if it is new).

    Only that attribute's value bytes change (or, for a new one, bytes are only inserted).
    """
    return set_attributes(source, limit, {name: value}, form=form, validate=validate)


def remove_attribute(
    source: str | Document, limit: int | TokenLimit, name: str, *, form: Form | None = None, validate: bool = True
) -> str:
    """Remove one attribute (and the whitespace before it) from one limit.

    Removing an attribute the limit does not have is refused, so a typo cannot pass silently.
    """
    doc = as_document(source)
    target = get_limit(doc, limit, form=form)
    if target.attribute(name) is None:
        raise LimitNotFoundError(f"The {target.policy} at line {target.line} has no attribute {name}.")
    return set_attributes(doc, target, {name: None}, form=form, validate=validate)


def add_limit(
    source: str | Document,
    policy: str,
    attributes: Mapping[str, str],
    *,
    form: Form | None = None,
    validate: bool = True,
) -> str:
    """Add a limit element to the ``inbound`` section.

    It goes right after ``<base />`` when the section has one (so inherited policies still
    run first), else at the start of the section; on its own line, indented like its
    siblings, with the document's line ending, quote character and self-closing style.
    Attributes are written in the order given.
    """
    if policy not in LIMIT_POLICIES:
        raise LimitValidationError(f"'{policy}' is not a limit policy; use one of {', '.join(LIMIT_POLICIES)}.")
    doc = as_document(source)
    form = resolve_form(doc, form)
    if validate:
        _check_changes(policy, attributes)
    text = doc.text
    root = doc.root
    inbound = next((c for c in root.children if c.name == "inbound"), None) if root is not None else None
    if root is None or inbound is None:
        raise LimitNotFoundError("This policy has no inbound section to add a limit to.", "Add <inbound> first.")
    if inbound.end is None:
        raise LimitNotFoundError("The inbound section is empty (<inbound />).", "Write it as <inbound></inbound> first.")
    nl = line_ending(text)
    quote = preferred_quote(doc)
    attrs = "".join(f" {name}={quote}{encode_value(value, quote, form)}{quote}" for name, value in attributes.items())
    element = f"<{policy}{attrs}{self_closing_style(doc)}"
    kids = inbound.children
    base = next((c for c in kids if c.name == "base"), None)
    if base is not None:
        indent = line_indent(text, base.span.start) if alone_on_line(text, base.span) else None
        at = base.span.end
    else:
        at = inbound.start.span.end
        indent = None
    if indent is None:
        first = kids[0] if kids else None
        if first is not None and alone_on_line(text, first.span):
            indent = line_indent(text, first.span.start)
        else:
            indent = line_indent(text, inbound.span.start) + indent_unit(doc, inbound)
    new_text = apply_replacements(text, [(at, at, f"{nl}{indent}{element}")])
    if validate:
        added = [lim for lim in find_limits(new_text, form=form) if lim.span.start == at + len(nl) + len(indent)]
        for lim in added:
            raise_for_errors([p for p in validate_limit(lim)], f"The new {policy}")
    return new_text


def remove_limit(source: str | Document, limit: int | TokenLimit, *, form: Form | None = None) -> str:
    """Remove one limit: its whole line when it is alone there, else exactly its element.

    A limit with overrides goes with its whole ``<choose>`` block (overrides included).
    Comments next to it are kept: they may describe more than this limit.
    """
    doc = as_document(source)
    target = get_limit(doc, limit, form=form)
    el = element_of(doc, target)
    span = el.span
    if target.role == "base":
        for block in find_override_blocks(doc):
            if block.base is el:
                span = block.choose.span
    cut = removal_span(doc.text, span)
    return apply_replacements(doc.text, [(cut.start, cut.end, "")])

