"""The two textual forms of an APIM policy, and what APIM rejects as malformed.

``format=xml`` is a well-formed XML document whose policy expressions (``@(...)``, ``@{...}``)
are XML-escaped; ``format=rawxml`` is what people write, with the expressions as C# source
(raw ``"``, ``<``, ``>``, ``&&``), usually not well-formed XML. The sandbox stores the xml form
verbatim and converts on the way in and out, touching only the bytes inside expressions so
that everything else (comments, whitespace, quoting, attribute order) survives unchanged.

Escaping follows APIM's serializer: in element text ``&``, ``<`` and ``>`` are escaped and
``"`` stays; in attribute values ``"`` (or ``'`` in a single-quoted value) is escaped too.

``validate`` parses the xml form with expat and reports the first problem with its line and
column: not well-formed, an unknown section, a token limit outside ``inbound`` or a bad
token-limit attribute.
"""

from __future__ import annotations

import re
import xml.parsers.expat
from dataclasses import dataclass

SECTIONS = ("inbound", "backend", "outbound", "on-error")
TOKEN_LIMITS = ("llm-token-limit", "azure-openai-token-limit")
QUOTA_PERIODS = ("Hourly", "Daily", "Weekly", "Monthly", "Yearly")

_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}


@dataclass(frozen=True)
class PolicyProblem:
    """Why a document is rejected, and where (1-based line and column)."""

    message: str
    line: int
    column: int
    element: str | None = None

    def sentence(self) -> str:
        where = f"line {self.line}, column {self.column}"
        if self.element:
            return f"Error in element '{self.element}' on {where}: {self.message}"
        return f"Error on {where}: {self.message}"


# --------------------------------------------------------------------------- expression scanning


def _expression_end(chars: list[str], start: int) -> int | None:
    """Index just past the expression that starts at ``chars[start] == '@'``, or ``None``.

    Brackets nest; C# string literals (regular with backslash escapes, verbatim ``@"..."``
    with doubled quotes) and char literals are stepped over so that brackets inside them
    do not count.
    """
    opener = chars[start + 1]
    closer = ")" if opener == "(" else "}"
    stack = [closer]
    i = start + 2
    n = len(chars)
    while i < n:
        c = chars[i]
        if c == '"' or (c == "@" and i + 1 < n and chars[i + 1] == '"') or (c == "$" and i + 1 < n and chars[i + 1] == '"'):
            verbatim = c == "@"
            i += 1 if c == '"' else 2
            while i < n:
                if verbatim and chars[i] == '"':
                    if i + 1 < n and chars[i + 1] == '"':
                        i += 2
                        continue
                    break
                if not verbatim and chars[i] == "\\":
                    i += 2
                    continue
                if chars[i] == '"':
                    break
                i += 1
            i += 1
            continue
        if c == "'":
            j = i + 1
            if j < n and chars[j] == "\\":
                j += 2
            else:
                j += 1
            if j < n and chars[j] == "'":
                i = j + 1
                continue
            i += 1
            continue
        if c in "({[":
            stack.append({"(": ")", "{": "}", "[": "]"}[c])
        elif c in ")}]":
            if c != stack[-1]:
                return None
            stack.pop()
            if not stack:
                return i + 1
        i += 1
    return None


def _starts_expression(text: str, i: int) -> bool:
    return text.startswith("@(", i) or text.startswith("@{", i)


def _escape(expr: str, *, quote: str | None) -> str:
    out: list[str] = []
    i = 0
    while i < len(expr):
        c = expr[i]
        if c == "&":
            m = _ENTITY.match(expr, i)
            if m:  # already escaped: keep it (a C# expression never contains an entity)
                out.append(m.group(0))
                i = m.end()
                continue
            out.append("&amp;")
        elif c == "<":
            out.append("&lt;")
        elif c == ">":
            out.append("&gt;")
        elif quote is not None and c == quote:
            out.append("&quot;" if c == '"' else "&apos;")
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _unescape_entity(ref: str) -> str:
    body = ref[1:-1]
    if body.startswith("#x") or body.startswith("#X"):
        return chr(int(body[2:], 16))
    if body.startswith("#"):
        return chr(int(body[1:]))
    return _NAMED[body]


def _skip_markup(text: str, i: int) -> int | None:
    """If ``text[i:]`` starts a comment, CDATA, PI or doctype, return the index past it."""
    for opener, closer in (("<!--", "-->"), ("<![CDATA[", "]]>"), ("<?", "?>"), ("<!", ">")):
        if text.startswith(opener, i):
            end = text.find(closer, i + len(opener))
            return len(text) if end < 0 else end + len(closer)
    return None


def raw_to_xml(text: str) -> str:
    """Escape every expression of a rawxml document; everything else is copied unchanged."""
    out: list[str] = []
    i, n = 0, len(text)
    chars = list(text)
    while i < n:
        skipped = _skip_markup(text, i)
        if skipped is not None:
            out.append(text[i:skipped])
            i = skipped
            continue
        c = text[i]
        if c == "<":
            i = _copy_tag_raw(text, chars, i, out)
            continue
        if c == "@" and _starts_expression(text, i):
            end = _expression_end(chars, i)
            if end is not None:
                out.append(_escape(text[i:end], quote=None))
                i = end
                continue
        out.append(c)
        i += 1
    return "".join(out)


def _copy_tag_raw(text: str, chars: list[str], i: int, out: list[str]) -> int:
    """Copy one tag starting at ``<``, escaping expressions inside its attribute values."""
    n = len(text)
    out.append("<")
    i += 1
    while i < n:
        c = text[i]
        if c == ">":
            out.append(">")
            return i + 1
        if c in "\"'":
            quote = c
            out.append(c)
            i += 1
            if _starts_expression(text, i):
                end = _expression_end(chars, i)
                if end is not None:
                    out.append(_escape(text[i:end], quote=quote))
                    i = end
            close = text.find(quote, i)
            if close < 0:
                out.append(text[i:])
                return n
            out.append(text[i : close + 1])
            i = close + 1
            continue
        out.append(c)
        i += 1
    return n


def xml_to_raw(text: str) -> str:
    """Unescape every expression of an xml-form document; everything else is copied unchanged."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        skipped = _skip_markup(text, i)
        if skipped is not None:
            out.append(text[i:skipped])
            i = skipped
            continue
        c = text[i]
        if c == "<":
            close = _tag_end(text, i)
            out.append(_unescape_attributes(text[i:close]))
            i = close
            continue
        if c == "@" and _starts_expression(text, i):
            stop = text.find("<", i)
            stop = n if stop < 0 else stop
            decoded, end = _decode_expression(text, i, stop)
            if decoded is not None:
                out.append(decoded)
                i = end
                continue
        out.append(c)
        i += 1
    return "".join(out)


def _tag_end(text: str, i: int) -> int:
    """Index past the ``>`` that closes the tag at ``i`` (quoted values may hold ``>``)."""
    quote: str | None = None
    for j in range(i + 1, len(text)):
        c = text[j]
        if quote:
            if c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c == ">":
            return j + 1
    return len(text)


_ATTR_VALUE = re.compile(r"""(=\s*)(["'])(@[({].*?)\2""", re.DOTALL)


def _unescape_attributes(tag: str) -> str:
    def repl(m: re.Match[str]) -> str:
        raw = m.group(3)
        decoded, end = _decode_expression(raw, 0, len(raw))
        value = decoded + raw[end:] if decoded is not None else raw
        return f"{m.group(1)}{m.group(2)}{value}{m.group(2)}"

    return _ATTR_VALUE.sub(repl, tag)


def _decode_expression(text: str, start: int, stop: int) -> tuple[str | None, int]:
    """Decode entities in ``text[start:stop]`` far enough to find where the expression ends."""
    chars: list[str] = []
    positions: list[int] = []  # raw index just past each decoded char
    i = start
    while i < stop:
        if text[i] == "&":
            m = _ENTITY.match(text, i)
            if m:
                chars.append(_unescape_entity(m.group(0)))
                i = m.end()
                positions.append(i)
                continue
        chars.append(text[i])
        i += 1
        positions.append(i)
    if len(chars) < 2:
        return None, start
    end = _expression_end(chars, 0)
    if end is None:
        return None, start
    return "".join(chars[:end]), positions[end - 1]


def convert(text: str, source: str, target: str) -> str:
    """Convert between ``xml`` and ``rawxml`` (identity when the forms are equal)."""
    if source == target:
        return text
    if source == "rawxml" and target == "xml":
        return raw_to_xml(text)
    if source == "xml" and target == "rawxml":
        return xml_to_raw(text)
    raise ValueError(f"cannot convert {source} to {target}")


# --------------------------------------------------------------------------- validation


def _is_dynamic(value: str) -> bool:
    """Expressions and named values are resolved at run time; their value is not checked here."""
    v = value.strip()
    return v.startswith("@(") or v.startswith("@{") or (v.startswith("{{") and v.endswith("}}"))


def _check_token_limit(tag: str, attrs: dict[str, str], line: int, col: int) -> PolicyProblem | None:
    def problem(message: str) -> PolicyProblem:
        return PolicyProblem(message, line, col, tag)

    if not attrs.get("counter-key", "").strip():
        return problem("The 'counter-key' attribute is required.")
    estimate = attrs.get("estimate-prompt-tokens")
    if estimate is None:
        return problem("The 'estimate-prompt-tokens' attribute is required.")
    if not _is_dynamic(estimate) and estimate.strip().lower() not in ("true", "false"):
        return problem(f"'{estimate}' is not a valid value for 'estimate-prompt-tokens'; use true or false.")
    tpm = attrs.get("tokens-per-minute")
    quota = attrs.get("token-quota")
    period = attrs.get("token-quota-period")
    if tpm is None and quota is None:
        return problem("Either 'tokens-per-minute' or 'token-quota' must be specified.")
    for name, value in (("tokens-per-minute", tpm), ("token-quota", quota)):
        if value is None or _is_dynamic(value):
            continue
        if not value.strip().isdigit() or int(value) <= 0:
            return problem(f"'{value}' is not a valid value for '{name}'; it must be a positive whole number.")
    if quota is not None and period is None:
        return problem("'token-quota-period' is required when 'token-quota' is specified.")
    if period is not None and quota is None:
        return problem("'token-quota' is required when 'token-quota-period' is specified.")
    if period is not None and not _is_dynamic(period) and period not in QUOTA_PERIODS:
        return problem(f"'{period}' is not a valid value for 'token-quota-period'; use one of {', '.join(QUOTA_PERIODS)}.")
    return None


class _Doctype(Exception):
    """Raised from expat's DOCTYPE/ENTITY hooks to stop the parse at the declaration."""

    def __init__(self, line: int, column: int) -> None:
        super().__init__(line, column)
        self.line, self.column = line, column


def validate(xml_text: str) -> PolicyProblem | None:
    """The first reason APIM would reject this xml-form document, or ``None`` if it is fine."""
    parser = xml.parsers.expat.ParserCreate()
    stack: list[str] = []
    seen_sections: set[str] = set()
    problems: list[PolicyProblem] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        if problems:
            stack.append(tag)
            return
        line, col = parser.CurrentLineNumber, parser.CurrentColumnNumber + 1
        depth = len(stack)
        if depth == 0 and tag != "policies":
            problems.append(PolicyProblem("The root element must be 'policies'.", line, col, tag))
        elif depth == 1:
            if tag not in SECTIONS:
                problems.append(PolicyProblem(
                    f"'{tag}' is not a policy section; use {', '.join(SECTIONS)}.", line, col, tag))
            elif tag in seen_sections:
                problems.append(PolicyProblem(f"The section '{tag}' appears more than once.", line, col, tag))
            seen_sections.add(tag)
        elif tag in TOKEN_LIMITS:
            section = stack[1] if len(stack) > 1 else None
            if section != "inbound":
                problems.append(PolicyProblem(
                    f"The '{tag}' policy is allowed only in the inbound section, not in '{section}'.", line, col, tag))
            else:
                found = _check_token_limit(tag, attrs, line, col)
                if found:
                    problems.append(found)
        stack.append(tag)

    def end(tag: str) -> None:
        stack.pop()

    def doctype(*_args: object) -> None:
        # APIM refuses DTDs; expat would store a parameter-entity DOCTYPE it cannot resolve.
        raise _Doctype(parser.CurrentLineNumber, parser.CurrentColumnNumber + 1)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    try:
        parser.Parse(xml_text, True)
    except _Doctype as exc:
        return PolicyProblem("DOCTYPE and ENTITY declarations are not allowed in a policy.", exc.line, exc.column)
    except xml.parsers.expat.ExpatError as exc:
        return PolicyProblem(
            f"The policy is not well-formed XML ({xml.parsers.expat.ErrorString(exc.code)}).",
            exc.lineno, exc.offset + 1,
        )
    return problems[0] if problems else None
