"""The two textual forms (``xml`` and ``rawxml``): decoding, encoding and telling them apart.

In the ``xml`` form every attribute value is XML-escaped, expressions included. In the
``rawxml`` form an expression (a value that starts with ``@(`` or ``@{``) is written as C#,
unescaped; plain values are still XML. These helpers are the only place that knows this.
"""

from __future__ import annotations

import re
from typing import Literal

from aiconsole.policy.scanner import StartTag, Text
from aiconsole.policy.tree import Document

Form = Literal["xml", "rawxml"]
FORMS: tuple[Form, ...] = ("xml", "rawxml")

__all__ = ["Form", "FORMS", "is_expression", "decode_value", "encode_value", "escape", "unescape", "detect_form", "resolve_form"]

_REF = re.compile(r"&(quot|apos|lt|gt|amp|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
_NAMED = {"quot": '"', "apos": "'", "lt": "<", "gt": ">", "amp": "&"}


def is_expression(value: str) -> bool:
    """True for a policy expression: the value starts with ``@(`` or ``@{``."""
    return value.startswith(("@(", "@{"))


def unescape(raw: str) -> str:
    """Decode the five predefined entities and numeric character references.

    Any other ``&name;`` is left as written: entities are never expanded from a DTD (there
    is none; the scanner refuses them).
    """

    def repl(m: re.Match[str]) -> str:
        ref = m.group(1)
        if ref in _NAMED:
            return _NAMED[ref]
        try:
            code = int(ref[2:], 16) if ref[1] == "x" else int(ref[1:])
            return chr(code)
        except (ValueError, OverflowError):
            return m.group(0)

    return _REF.sub(repl, raw) if "&" in raw else raw


def escape(value: str, quote: str = '"') -> str:
    """XML-escape ``value`` for an attribute delimited by ``quote`` (tabs and line breaks
    become character references so that XML attribute normalisation cannot change them)."""
    out = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = out.replace('"', "&quot;") if quote == '"' else out.replace("'", "&apos;")
    return out.replace("\t", "&#9;").replace("\n", "&#10;").replace("\r", "&#13;")


def decode_value(raw: str, form: Form) -> str:
    """The value an attribute means, from its ``raw`` text in a document of ``form``."""
    if form == "rawxml" and is_expression(raw):
        return raw
    return unescape(raw)


def encode_value(value: str, quote: str, form: Form) -> str:
    """The raw text to write for ``value`` between ``quote`` characters in ``form``.

    Raw-form expressions are written as they are, which is what people and the APIM portal
    do; everything else is escaped.
    """
    if form == "rawxml" and is_expression(value):
        return value
    return escape(value, quote)


def _raw_evidence(expr: str, quote: str | None) -> bool:
    if "<" in expr or (quote is not None and quote in expr):
        return True
    for i, c in enumerate(expr):
        if c == "&" and not _REF.match(expr, i):
            return True
    return False


def _escaped_evidence(expr: str) -> bool:
    return bool(re.search(r"&(quot|apos|lt|gt|amp);", expr))


def detect_form(doc: Document) -> Form | None:
    """Which form ``doc`` is written in, or None when nothing tells them apart.

    Evidence for ``rawxml``: a raw ``<``, a raw ``&`` that starts no entity, or the
    attribute's own quote inside an expression. Evidence for ``xml``: ``&quot;``, ``&lt;``,
    ``&amp;``... inside an expression. Raw evidence wins (it cannot occur in the ``xml`` form).
    A document without such characters reads the same in both forms: None.
    """
    text = doc.text
    escaped = False
    for tok in doc.tokens:
        if isinstance(tok, StartTag):
            for attr in tok.attributes:
                if is_expression(attr.raw):
                    if _raw_evidence(attr.raw, attr.quote):
                        return "rawxml"
                    escaped = escaped or _escaped_evidence(attr.raw)
        elif isinstance(tok, Text):
            for span in tok.expressions:
                expr = span.of(text)
                if _raw_evidence(expr, None):
                    return "rawxml"
                escaped = escaped or _escaped_evidence(expr)
    return "xml" if escaped else None


def resolve_form(doc: Document, form: Form | None) -> Form:
    """``form`` if the caller knows it (it read the policy with that ``format``), else the
    detected form, else ``xml`` (the API's default, and what the services read with)."""
    if form is not None:
        if form not in FORMS:
            raise ValueError(f"form must be 'xml' or 'rawxml', not {form!r}")
        return form
    return detect_form(doc) or "xml"
