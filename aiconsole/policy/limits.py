"""Find every limit in a policy document, with where it is and what it says.

A limit is any of :data:`LIMIT_POLICIES`, wherever it sits (``<choose>``/``<when>``/
``<otherwise>`` included). Each one comes back as a :class:`TokenLimit`: its section, the
path of enclosing elements, every attribute (raw and decoded), typed values for the
attributes the console reasons about, and exact spans for editing.

Numbers are reported as written: ``tokens-per-minute="{tpm}"`` (a template placeholder), an
expression or a named value is a :class:`Number` whose ``value`` is None, never a crash.

Limits that belong to an override block (see :mod:`aiconsole.policy.blocks`) are reported
once, as the base limit in ``<otherwise>`` (``role="base"``); the raised copies inside the
``<when>`` elements are hidden unless asked for (``role="override"``), because to a person
they are properties of the base limit, not limits of their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from aiconsole.policy.blocks import LIMIT_POLICIES, find_override_blocks
from aiconsole.policy.errors import LimitNotFoundError, StaleLimitError, line_col
from aiconsole.policy.scanner import Span
from aiconsole.policy.tree import Document, Element, parse
from aiconsole.policy.xmltext import Form, decode_value, is_expression, resolve_form

__all__ = [
    "LIMIT_POLICIES",
    "TOKEN_LIMIT_POLICIES",
    "SECTIONS",
    "Number",
    "LimitAttribute",
    "TokenLimit",
    "find_limits",
    "get_limit",
    "as_document",
]

TOKEN_LIMIT_POLICIES = ("llm-token-limit", "azure-openai-token-limit")
SECTIONS = ("inbound", "backend", "outbound", "on-error")
Role = Literal["plain", "base", "override"]
NumberKind = Literal["number", "expression", "placeholder", "named-value", "invalid"]

_INT = re.compile(r"[+-]?[0-9]+")
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_NAMED_VALUE = re.compile(r"\{\{[^{}]+\}\}")


@dataclass(frozen=True)
class Number:
    """A numeric attribute as written: ``value`` is set only when ``text`` is a whole number.

    ``kind`` says what it is otherwise: ``expression`` (``@(...)``), ``named-value``
    (``{{name}}``, resolved by APIM), ``placeholder`` (``{tpm}`` left by a template) or
    ``invalid`` (anything else, e.g. ``"5k"``).
    """

    text: str
    value: int | None
    kind: NumberKind

    @classmethod
    def parse(cls, text: str) -> "Number":
        if _INT.fullmatch(text):
            return cls(text, int(text), "number")
        if is_expression(text):
            return cls(text, None, "expression")
        if _NAMED_VALUE.fullmatch(text):
            return cls(text, None, "named-value")
        if _PLACEHOLDER.fullmatch(text):
            return cls(text, None, "placeholder")
        return cls(text, None, "invalid")

    @property
    def is_number(self) -> bool:
        return self.value is not None

    def to_json(self) -> int | str:
        """The number, or the text as written when it is not one (what ``-o json`` shows)."""
        return self.value if self.value is not None else self.text

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class LimitAttribute:
    """One attribute of a limit element: ``raw`` as written, ``value`` decoded for its form."""

    name: str
    raw: str
    value: str
    quote: str
    span: Span
    value_span: Span


_NAME_ATTRS = (
    "retry-after-header-name",
    "retry-after-variable-name",
    "remaining-tokens-header-name",
    "remaining-tokens-variable-name",
    "remaining-quota-tokens-header-name",
    "remaining-quota-tokens-variable-name",
    "tokens-consumed-header-name",
    "tokens-consumed-variable-name",
    "remaining-calls-header-name",
    "remaining-calls-variable-name",
    "total-calls-header-name",
)


@dataclass(frozen=True)
class TokenLimit:
    """One limit element (token limit, rate limit or quota) found in a document.

    ``index`` identifies the limit among the document's editable limits in document order
    (override copies share their base's index); pass it, or the object itself, to the edit
    functions. ``span`` covers the whole element; ``text`` is exactly ``source[span]``.
    """

    policy: str
    index: int
    role: Role
    section: str | None
    path: tuple[str, ...]
    span: Span
    start_tag_span: Span
    line: int
    column: int
    text: str
    form: Form
    attributes: tuple[LimitAttribute, ...]
    override_ids: tuple[str, ...] = field(default=())

    # -- attribute access ---------------------------------------------------------------------
    def attribute(self, name: str) -> LimitAttribute | None:
        for attr in self.attributes:
            if attr.name == name:
                return attr
        return None

    def get(self, name: str) -> str | None:
        """The decoded value of attribute ``name``, or None when it is absent."""
        attr = self.attribute(name)
        return attr.value if attr is not None else None

    def _number(self, name: str) -> Number | None:
        value = self.get(name)
        return Number.parse(value) if value is not None else None

    @property
    def is_token_limit(self) -> bool:
        return self.policy in TOKEN_LIMIT_POLICIES

    @property
    def counter_key(self) -> str | None:
        return self.get("counter-key")

    @property
    def tokens_per_minute(self) -> Number | None:
        return self._number("tokens-per-minute")

    @property
    def token_quota(self) -> Number | None:
        return self._number("token-quota")

    @property
    def token_quota_period(self) -> str | None:
        return self.get("token-quota-period")

    @property
    def estimate_prompt_tokens(self) -> bool | None:
        """True/False when written as a boolean; None when absent or not a boolean."""
        value = self.get("estimate-prompt-tokens")
        if value is None or value.strip().lower() not in ("true", "false"):
            return None
        return value.strip().lower() == "true"

    @property
    def calls(self) -> Number | None:
        return self._number("calls")

    @property
    def renewal_period(self) -> Number | None:
        return self._number("renewal-period")

    @property
    def bandwidth(self) -> Number | None:
        return self._number("bandwidth")

    @property
    def increment_condition(self) -> str | None:
        return self.get("increment-condition")

    @property
    def increment_count(self) -> str | None:
        return self.get("increment-count")

    @property
    def names(self) -> dict[str, str]:
        """Header and variable names it sets (``remaining-tokens-header-name`` ...), in order."""
        return {a.name: a.value for a in self.attributes if a.name in _NAME_ATTRS}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (numbers that are not numbers stay as written)."""

        def num(n: Number | None) -> int | str | None:
            return n.to_json() if n is not None else None

        return {
            "policy": self.policy,
            "index": self.index,
            "role": self.role,
            "section": self.section,
            "path": "/".join(self.path),
            "line": self.line,
            "counter_key": self.counter_key,
            "tokens_per_minute": num(self.tokens_per_minute),
            "token_quota": num(self.token_quota),
            "token_quota_period": self.token_quota_period,
            "estimate_prompt_tokens": self.estimate_prompt_tokens,
            "calls": num(self.calls),
            "renewal_period": num(self.renewal_period),
            "names": self.names,
            "attributes": {a.name: a.value for a in self.attributes},
            "override_ids": list(self.override_ids),
        }


def as_document(source: str | Document) -> Document:
    """Accept text or an already parsed document (parsing is cheap but not free)."""
    return source if isinstance(source, Document) else parse(source)


def _make(doc: Document, el: Element, index: int, role: Role, form: Form, ids: tuple[str, ...]) -> TokenLimit:
    text = doc.text
    section = doc.section_of(el)
    line, column = line_col(text, el.span.start)
    attrs = tuple(
        LimitAttribute(
            name=a.name,
            raw=a.raw,
            value=decode_value(a.raw, form),
            quote=a.quote,
            span=a.span,
            value_span=a.value_span,
        )
        for a in el.start.attributes
    )
    return TokenLimit(
        policy=el.name,
        index=index,
        role=role,
        section=section.name if section is not None else None,
        path=el.path(),
        span=el.span,
        start_tag_span=el.start.span,
        line=line,
        column=column,
        text=el.span.of(text),
        form=form,
        attributes=attrs,
        override_ids=ids,
    )


def find_limits(
    source: str | Document,
    *,
    form: Form | None = None,
    include_override_copies: bool = False,
    policies: tuple[str, ...] = LIMIT_POLICIES,
) -> list[TokenLimit]:
    """Every limit in ``source`` in document order.

    ``form`` is the form the text was read in (``xml`` or ``rawxml``); None detects it.
    Raises :class:`~aiconsole.policy.errors.PolicySyntaxError` if the document is malformed.
    """
    doc = as_document(source)
    form = resolve_form(doc, form)
    blocks = find_override_blocks(doc)
    copies: dict[int, Element] = {}
    base_ids: dict[int, tuple[str, ...]] = {}
    copy_of: dict[int, Element] = {}
    for block in blocks:
        base_ids[id(block.base)] = tuple(w.id for w in block.whens)
        for w in block.whens:
            copies[id(w.limit)] = w.limit
            copy_of[id(w.limit)] = block.base
    elements = [el for el in doc.iter() if el.name in LIMIT_POLICIES]
    index_of: dict[int, int] = {}
    n = 0
    for el in elements:
        if id(el) not in copies:
            index_of[id(el)] = n
            n += 1
    found: list[TokenLimit] = []
    for el in elements:
        if el.name not in policies:
            continue
        if id(el) in copies:
            if not include_override_copies:
                continue
            base = copy_of[id(el)]
            found.append(_make(doc, el, index_of[id(base)], "override", form, ()))
            continue
        ids = base_ids.get(id(el), ())
        found.append(_make(doc, el, index_of[id(el)], "base" if id(el) in base_ids else "plain", form, ids))
    return found


def get_limit(source: str | Document, limit: "int | TokenLimit", *, form: Form | None = None) -> TokenLimit:
    """Resolve ``limit`` (an index, or a limit found earlier) against the current text.

    A :class:`TokenLimit` from another version of the text is refused
    (:class:`StaleLimitError`) rather than trusted: its spans would point at the wrong bytes.
    """
    doc = as_document(source)
    limits = find_limits(doc, form=form)
    if isinstance(limit, TokenLimit):
        for cand in limits:
            if cand.span == limit.span and cand.text == limit.text and cand.policy == limit.policy:
                return cand
        raise StaleLimitError(
            f"The {limit.policy} at line {limit.line} is not in this version of the policy.",
            "Read the policy again and pick the limit from the new text.",
        )
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError("limit must be an index or a TokenLimit")
    if not 0 <= limit < len(limits):
        if not limits:
            raise LimitNotFoundError("This policy has no limit.", "Add one first (add_limit).")
        raise LimitNotFoundError(
            f"There is no limit #{limit}: this policy has {len(limits)} (0 to {len(limits) - 1}).",
        )
    return limits[limit]
