"""Parse stored policy documents without ever expanding entities.

Policies reach the gateway in APIM's ``xml`` form (expressions escaped, well-formed). The parser
refuses any DOCTYPE — and so any ENTITY declaration — before expat sees it, and again from
the tree builder's doctype hook, so a billion-laughs or external-entity document can only be refused,
never expanded. A document in the ``rawxml`` form (raw ``"``, ``&&``, ``<`` inside ``@(...)``)
is converted by escaping the inside of its expressions first, which is what APIM does between
the two forms (reference/POLICY-FORMS.md).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

_DOCTYPE = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}


class PolicyXmlError(ValueError):
    """The document cannot be read as a policy (not XML, or forbidden constructs)."""


class _NoDoctypeBuilder(ET.TreeBuilder):
    """A tree builder that aborts the parse as soon as expat reports a DOCTYPE."""

    def doctype(self, *_args: object) -> None:
        raise PolicyXmlError("DOCTYPE is not allowed in a policy document")


def _strict_parse(text: str) -> ET.Element:
    parser = ET.XMLParser(target=_NoDoctypeBuilder())
    try:
        parser.feed(text)
        return parser.close()
    except ET.ParseError as exc:
        raise PolicyXmlError(f"not well-formed XML: {exc}") from None


def _skip_string(text: str, i: int) -> int:
    """Return the index after the C# string or char literal starting at ``text[i]``."""
    quote = text[i]
    verbatim = i > 0 and text[i - 1] == "@" and quote == '"'
    j = i + 1
    while j < len(text):
        ch = text[j]
        if not verbatim and ch == "\\":
            j += 2
            continue
        if ch == quote:
            if verbatim and j + 1 < len(text) and text[j + 1] == '"':
                j += 2
                continue
            return j + 1
        j += 1
    return j


def _expression_end(text: str, start: int) -> int:
    """Index after the expression opening at ``start`` (``@(`` or ``@{``), brackets balanced."""
    opener = text[start + 1]
    closer = ")" if opener == "(" else "}"
    depth, j = 0, start + 1
    while j < len(text):
        ch = text[j]
        if ch in "\"'":
            j = _skip_string(text, j)
            continue
        if ch == opener:
            depth += 1
        elif ch == closer:
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    raise PolicyXmlError("unterminated policy expression")


def raw_to_xml(text: str) -> str:
    """Escape the inside of every ``@(...)``/``@{...}`` so a raw-form document becomes XML."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("<!--", i):
            end = text.find("-->", i)
            end = len(text) if end < 0 else end + 3
            out.append(text[i:end])
            i = end
            continue
        if text[i] == "@" and i + 1 < len(text) and text[i + 1] in "({":
            end = _expression_end(text, i)
            body = text[i:end]
            out.append("".join(_ESCAPES.get(ch, ch) for ch in body))
            i = end
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


def parse_policy(text: str) -> ET.Element:
    """Parse a policy document in either form; raise ``PolicyXmlError`` if it is unusable."""
    if _DOCTYPE.search(text):
        raise PolicyXmlError("DOCTYPE/ENTITY declarations are not allowed in a policy document")
    try:
        root = _strict_parse(text)
    except PolicyXmlError:
        root = _strict_parse(raw_to_xml(text))
    if root.tag != "policies":
        raise PolicyXmlError(f"root element must be <policies>, not <{root.tag}>")
    return root
