"""Time-boxed overrides: raise a token limit for one subscription or product until an instant.

The gateway reverts an override by itself: it is a ``<choose>`` whose ``<when>`` compares
the caller and ``DateTime.UtcNow`` with a fixed UTC instant (see
:mod:`aiconsole.policy.blocks` for the exact shape and grammar). Nothing of ours has to run
at expiry; :func:`cleanup_expired` only tidies the text afterwards.

Rules:

* the first override of a limit wraps it: the original element text moves, unchanged, into
  ``<otherwise>`` (continuation lines of a multi-line element get two indent levels more);
  later overrides add a ``<when>`` before ``<otherwise>``;
* removing the last override puts the ``<otherwise>`` element back where the ``<choose>``
  was, so the document returns to exactly the bytes it had before the first override
  (plus any edit made to the base limit in between);
* a subscription or product may hold one unexpired override per limit: replace one by
  removing it first. The gateway takes the first ``<when>`` that matches, so a subscription
  override listed before a product override wins for that subscription;
* the override copy is the base limit with ``tokens-per-minute`` and/or ``token-quota``
  (and, if given, ``token-quota-period``) replaced, so it shares the base's counter key.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, NamedTuple

from aiconsole.policy.blocks import (
    OverrideBlock,
    SubjectKind,
    utc,
    build_condition,
    check_subject,
    find_override_blocks,
    format_instant,
    format_marker,
)
from aiconsole.policy.edit import attribute_replacements, element_of
from aiconsole.policy.errors import LimitNotFoundError, LimitValidationError, line_col
from aiconsole.policy.layout import (
    add_continuation_indent,
    alone_on_line,
    apply_replacements,
    indent_unit,
    line_ending,
    line_indent,
    line_start,
    remove_continuation_indent,
    removal_span,
)
from aiconsole.policy.limits import TOKEN_LIMIT_POLICIES, Number, TokenLimit, as_document, find_limits, get_limit
from aiconsole.policy.tree import Document, parse
from aiconsole.policy.validate import check_value
from aiconsole.policy.xmltext import Form, encode_value, resolve_form

__all__ = ["Override", "OverrideAdded", "add_override", "list_overrides", "remove_override", "cleanup_expired"]

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Override:
    """One override as found in a document.

    ``expires`` comes from the condition (what the gateway evaluates), not from the marker.
    ``tokens_per_minute``/``token_quota`` are the values of the raised copy.
    """

    id: str
    kind: SubjectKind
    subject: str
    expires: datetime
    author: str
    reason: str
    limit_index: int
    policy: str
    tokens_per_minute: Number | None
    token_quota: Number | None
    line: int

    def active_at(self, now: datetime) -> bool:
        """True while the gateway still applies it (until ``expires``, exclusive).

        ``now`` must be timezone-aware: a naive time would be read as local time, which is
        how an override silently ends hours early or late.
        """
        return utc(now) < self.expires

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        """JSON-ready: ``{id, subscription|product, tokens_per_minute, token_quota, expires, ...}``."""
        out: dict[str, Any] = {
            "id": self.id,
            self.kind: self.subject,
            "tokens_per_minute": self.tokens_per_minute.to_json() if self.tokens_per_minute else None,
            "token_quota": self.token_quota.to_json() if self.token_quota else None,
            "expires": format_instant(self.expires),
            "author": self.author,
            "reason": self.reason,
            "limit_index": self.limit_index,
            "policy": self.policy,
        }
        if now is not None:
            out["active"] = self.active_at(now)
        return out


class OverrideAdded(NamedTuple):
    """The new text and the id of the override written into it."""

    text: str
    id: str


def _overrides_of(doc: Document, form: Form) -> list[tuple[Override, OverrideBlock]]:
    limits = {lim.span: lim for lim in find_limits(doc, form=form)}
    copies = {lim.span: lim for lim in find_limits(doc, form=form, include_override_copies=True) if lim.role == "override"}
    out: list[tuple[Override, OverrideBlock]] = []
    for block in find_override_blocks(doc):
        base = limits[block.base.span]
        for w in block.whens:
            copy = copies[w.limit.span]
            out.append(
                (
                    Override(
                        id=w.id,
                        kind=w.condition.kind,
                        subject=w.condition.subject,
                        expires=w.condition.until,
                        author=w.author,
                        reason=w.reason,
                        limit_index=base.index,
                        policy=base.policy,
                        tokens_per_minute=copy.tokens_per_minute,
                        token_quota=copy.token_quota,
                        line=line_col(doc.text, w.when.span.start)[0],
                    ),
                    block,
                )
            )
    return out


def list_overrides(source: str | Document, *, form: Form | None = None) -> list[Override]:
    """Every override in the document, in document order (expired ones included)."""
    doc = as_document(source)
    return [ov for ov, _ in _overrides_of(doc, resolve_form(doc, form))]


def _new_id(doc: Document, seed: str) -> str:
    taken = {w.id for b in find_override_blocks(doc) for w in b.whens}
    n = 0
    while True:
        candidate = "ov-" + hashlib.sha256(f"{seed}:{n}".encode()).hexdigest()[:8]
        if candidate not in taken:
            return candidate
        n += 1


def add_override(
    source: str | Document,
    limit: int | TokenLimit,
    *,
    until: datetime,
    subscription: str | None = None,
    product: str | None = None,
    tokens_per_minute: int | None = None,
    token_quota: int | None = None,
    token_quota_period: str | None = None,
    author: str = "",
    reason: str = "",
    override_id: str | None = None,
    now: datetime | None = None,
    form: Form | None = None,
) -> OverrideAdded:
    """Raise ``limit`` for one subscription (or product) until ``until`` (an aware datetime;
    kept to whole seconds, UTC).

    ``form`` is the form the text was read in; the condition is XML-escaped in ``xml`` and
    raw in ``rawxml`` (None detects it, falling back to ``xml``). ``now``, when given,
    refuses an instant in the past and lets an expired override of the same subject stand.
    ``override_id`` defaults to a short id derived from the request.
    """
    doc = as_document(source)
    form = resolve_form(doc, form)
    target = get_limit(doc, limit, form=form)
    if target.policy not in TOKEN_LIMIT_POLICIES:
        raise LimitValidationError(
            f"Overrides raise token limits; the limit at line {target.line} is a {target.policy}.",
            "Pick an llm-token-limit or azure-openai-token-limit.",
        )
    if (subscription is None) == (product is None):
        raise LimitValidationError("Give exactly one of a subscription id or a product id for the override.")
    kind: SubjectKind = "subscription" if subscription is not None else "product"
    subject = check_subject(subscription if subscription is not None else product or "", kind)
    if until.tzinfo is None:
        raise LimitValidationError("The override's end time needs a time zone (use UTC).")
    until = until.astimezone(timezone.utc).replace(microsecond=0)
    if now is not None and until <= utc(now):
        raise LimitValidationError(f"The override would end at {format_instant(until)}, which is not in the future.")
    changes: dict[str, str] = {}
    for name, value in (("tokens-per-minute", tokens_per_minute), ("token-quota", token_quota)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise LimitValidationError(f"{name} must be a positive whole number, got '{value}'.")
        changes[name] = str(value)
    if not changes:
        raise LimitValidationError("An override needs a raised tokens-per-minute, token-quota, or both.")
    if token_quota_period is not None:
        changes["token-quota-period"] = token_quota_period
    elif "token-quota" in changes and target.attribute("token-quota-period") is None:
        raise LimitValidationError("A token-quota override needs token-quota-period, since the limit has none.")
    for name, value in changes.items():
        problem = check_value(target.policy, name, value)
        if problem is not None and problem.severity == "error":
            raise LimitValidationError(problem.message)
    if override_id is not None and not _ID.fullmatch(override_id):
        raise LimitValidationError(f"'{override_id}' is not a usable override id (letters, digits, '.', '_', '-').")

    existing = [ov for ov, _ in _overrides_of(doc, form) if ov.limit_index == target.index]
    for ov in existing:
        if ov.kind == kind and ov.subject == subject and (now is None or ov.active_at(now)):
            raise LimitValidationError(
                f"{kind.capitalize()} {subject} already has override {ov.id} on this limit until {format_instant(ov.expires)}.",
                f"Remove it first (override --remove {ov.id}).",
            )
    if override_id is None:
        override_id = _new_id(doc, f"{kind}:{subject}:{format_instant(until)}:{target.index}:{target.text}")
    elif any(w.id == override_id for b in find_override_blocks(doc) for w in b.whens):
        raise LimitValidationError(f"An override with id {override_id} already exists.")

    text = doc.text
    nl = line_ending(text)
    condition = encode_value(build_condition(kind, subject, until), '"', form)
    marker = format_marker(override_id, until, author, reason)
    el = element_of(doc, target)

    if target.role == "base":
        block = next(b for b in find_override_blocks(doc) if b.base is el)
        base_text = el.span.of(text)
        copy = _raised_copy(base_text, changes, form)
        ind1 = line_indent(text, block.otherwise.span.start)
        ind2 = line_indent(text, el.span.start)
        when = f'<when condition="{condition}">{nl}{ind2}{marker}{nl}{ind2}{copy}{nl}{ind1}</when>'
        other = block.otherwise.span
        if alone_on_line(text, other):
            at = line_start(text, other.start)
            rep = (at, at, f"{ind1}{when}{nl}")
        else:
            rep = (other.start, other.start, f"{when}{nl}{ind1}")
        new_text = apply_replacements(text, [rep])
    else:
        unit = indent_unit(doc, el)
        base_ind = line_indent(text, el.span.start)
        ind1, ind2 = base_ind + unit, base_ind + unit + unit
        original = add_continuation_indent(target.text, unit + unit)
        copy = _raised_copy(original, changes, form)
        block_text = (
            f"<choose>{nl}"
            f'{ind1}<when condition="{condition}">{nl}{ind2}{marker}{nl}{ind2}{copy}{nl}{ind1}</when>{nl}'
            f"{ind1}<otherwise>{nl}{ind2}{original}{nl}{ind1}</otherwise>{nl}"
            f"{base_ind}</choose>"
        )
        new_text = apply_replacements(text, [(el.span.start, el.span.end, block_text)])
    check = parse(new_text)
    if not any(w.id == override_id for b in find_override_blocks(check) for w in b.whens):  # pragma: no cover
        raise LimitValidationError("The override could not be written in a form that reads back; nothing was changed.")
    return OverrideAdded(new_text, override_id)


def _raised_copy(element_text: str, changes: dict[str, str], form: Form) -> str:
    """``element_text`` (one limit element) with ``changes`` applied, byte-exact elsewhere."""
    el = parse(element_text).elements[0]
    return apply_replacements(element_text, attribute_replacements(element_text, el.start, changes, form))


def _restore(text: str, block: OverrideBlock) -> str:
    """Put the base limit back in place of its ``<choose>``, undoing the re-indentation."""
    choose_ind = line_indent(text, block.choose.span.start)
    base_ind = line_indent(text, block.base.span.start)
    prefix = base_ind[len(choose_ind) :] if base_ind.startswith(choose_ind) else ""
    original = remove_continuation_indent(block.base.span.of(text), prefix)
    return apply_replacements(text, [(block.choose.span.start, block.choose.span.end, original)])


def remove_override(source: str | Document, override_id: str, *, form: Form | None = None) -> str:
    """Remove one override by id; the last one of a limit restores the original text."""
    doc = as_document(source)
    for block in find_override_blocks(doc):
        for w in block.whens:
            if w.id != override_id:
                continue
            if len(block.whens) == 1:
                return _restore(doc.text, block)
            cut = removal_span(doc.text, w.when.span)
            return apply_replacements(doc.text, [(cut.start, cut.end, "")])
    raise LimitNotFoundError(f"There is no override {override_id} in this policy.", "List them with 'limits list'.")


def cleanup_expired(source: str | Document, now: datetime, *, form: Form | None = None) -> tuple[str, list[Override]]:
    """Remove every override that has expired at ``now``; returns the new text and what went."""
    doc = as_document(source)
    expired = [ov for ov in list_overrides(doc, form=form) if not ov.active_at(now)]
    text = doc.text
    for ov in expired:
        text = remove_override(text, ov.id, form=form)
    return text, expired
