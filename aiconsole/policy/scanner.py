"""A tolerant tokenizer for APIM policy documents, in either textual form.

APIM shows one policy in two forms (shared/reference/POLICY-FORMS.md): ``xml``, where policy
expressions are XML-escaped and the document is well-formed, and ``rawxml``, as people write
it, with raw ``"``, ``<``, ``>``, ``=>`` and ``&&`` inside ``@(...)`` and ``@{...}``. A strict XML
parser stops at the first of those, so this module never parses XML: it walks the text once,
steps over expressions by bracket matching that understands C# string and char literals, and
cuts the text into tokens whose spans are exact ``str`` offsets.

The tokens cover the text with no gaps and no overlaps, so ``"".join(t.text(src) for t in
tokens) == src`` for every document this module accepts; edits elsewhere in the package
replace a span and leave every other character alone.

Safety: DTDs (``<!DOCTYPE``, ``<!ENTITY`` ...) are refused outright and entity references are
never expanded beyond the five predefined ones and numeric character references, so the
"billion laughs" and external-entity attacks have nothing to work with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from aiconsole.policy.errors import PolicySyntaxError

__all__ = [
    "Span",
    "Attribute",
    "Text",
    "Comment",
    "CData",
    "ProcessingInstruction",
    "StartTag",
    "EndTag",
    "Token",
    "scan",
    "skip_expression",
]


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open range ``[start, end)`` of ``str`` offsets into the scanned text."""

    start: int
    end: int

    def of(self, text: str) -> str:
        """The characters this span covers in ``text``."""
        return text[self.start : self.end]

    def byte_range(self, text: str, encoding: str = "utf-8") -> tuple[int, int]:
        """The same range in bytes of ``text.encode(encoding)``, for callers that hold bytes."""
        start = len(text[: self.start].encode(encoding))
        return start, start + len(text[self.start : self.end].encode(encoding))

    def __len__(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Attribute:
    """One ``name="value"`` of a start tag.

    ``span`` runs from the first character of the name to the closing quote (inclusive);
    ``leading`` is the whitespace before the name (needed to remove an attribute cleanly and
    to copy the element's layout when adding one); ``value_span`` is between the quotes.
    ``raw`` is the value exactly as written: decoding depends on the document's form and is
    done by :func:`aiconsole.policy.xmltext.decode_value`.
    """

    name: str
    quote: str
    span: Span
    name_span: Span
    value_span: Span
    leading: Span
    raw: str


@dataclass(frozen=True, slots=True)
class Text:
    """Character data between markup; ``expressions`` are the ``@(...)``/``@{...}`` in it."""

    span: Span
    expressions: tuple[Span, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Comment:
    """``<!-- ... -->``; ``body`` is the text between the delimiters."""

    span: Span
    body: str


@dataclass(frozen=True, slots=True)
class CData:
    """``<![CDATA[ ... ]]>``."""

    span: Span


@dataclass(frozen=True, slots=True)
class ProcessingInstruction:
    """``<? ... ?>`` (an XML declaration is one of these)."""

    span: Span


@dataclass(frozen=True, slots=True)
class StartTag:
    """``<name attr="v" ...>`` or, when ``self_closing``, ``<name ... />``."""

    span: Span
    name: str
    attributes: tuple[Attribute, ...] = field(default=())
    self_closing: bool = False

    def attribute(self, name: str) -> Attribute | None:
        """The first attribute called ``name`` (names are case-sensitive, as in XML)."""
        for attr in self.attributes:
            if attr.name == name:
                return attr
        return None


@dataclass(frozen=True, slots=True)
class EndTag:
    """``</name>``."""

    span: Span
    name: str


Token = Text | Comment | CData | ProcessingInstruction | StartTag | EndTag

# --- character classes ---------------------------------------------------------------------

_WS = " \t\r\n"
_CLOSERS = {"(": ")", "{": "}", "[": "]"}
_ENTITY = re.compile(r"&(?:quot|apos|lt|gt|amp|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
_ENTITY_CHARS = {"&quot;": '"', "&apos;": "'", "&lt;": "<", "&gt;": ">", "&amp;": "&"}


def _is_name_start(c: str) -> bool:
    return c.isalpha() or c in "_:"


def _is_name_char(c: str) -> bool:
    return c.isalnum() or c in "-._:\u00b7"


def _logical(text: str, i: int) -> tuple[str, int]:
    """The character at ``i`` as an expression sees it, and the index after it.

    In the ``xml`` form an expression's quotes and operators are entity references
    (``&quot;``, ``&lt;``, ``&amp;``); treating each one as the character it stands for lets one
    bracket matcher serve both forms.
    """
    c = text[i]
    if c == "&":
        m = _ENTITY.match(text, i)
        if m:
            ref = m.group(0)
            if ref in _ENTITY_CHARS:
                return _ENTITY_CHARS[ref], m.end()
            return "#", m.end()  # a numeric reference: never a quote or bracket that matters
    return c, i + 1


# --- expressions ----------------------------------------------------------------------------


class _Unbalanced(Exception):
    """Raised inside the bracket matcher; ``pos`` is how far it got (for the work budget)."""

    def __init__(self, pos: int) -> None:
        super().__init__(pos)
        self.pos = pos


def skip_expression(text: str, start: int) -> int | None:
    """Index just after the policy expression that starts at ``start``, or None.

    ``text[start]`` must be ``@`` followed by ``(`` or ``{``. Brackets are matched while C#
    string literals (regular, verbatim ``@"..."``, interpolated ``$"..."`` with nested holes),
    char literals and comments are stepped over, so ``@(x.Contains(")"))`` ends where C# says.
    None means the expression is not balanced (a damaged document); the caller falls back to
    a heuristic instead of failing.
    """
    try:
        return _expression_end(text, start)
    except _Unbalanced:
        return None


def _expression_end(text: str, start: int) -> int:
    n = len(text)
    if start + 1 >= n or text[start] != "@" or text[start + 1] not in "({":
        raise _Unbalanced(start)
    return _skip_code(text, start + 1, n)


def _skip_code(text: str, i: int, n: int) -> int:
    """Scan C# code from the opening bracket at ``i`` to just after its match."""
    stack: list[str] = []
    while i < n:
        c, j = _logical(text, i)
        if c in _CLOSERS:
            stack.append(_CLOSERS[c])
            i = j
        elif c in ")}]":
            if not stack or stack.pop() != c:
                raise _Unbalanced(i)
            i = j
            if not stack:
                return i
        elif c == '"':
            i = _skip_string(text, j, n, verbatim=False, interpolated=False)
        elif c in "@$":
            i = _skip_prefixed(text, i, n)
        elif c == "'":
            i = _skip_char_literal(text, i, j, n)
        elif c == "/" and j < n:
            d, k = _logical(text, j)
            if d == "/":
                nl = text.find("\n", k)
                i = n if nl < 0 else nl
            elif d == "*":
                close = text.find("*/", k)
                if close < 0:
                    raise _Unbalanced(n)
                i = close + 2
            else:
                i = j
        else:
            i = j
    raise _Unbalanced(n)


def _skip_prefixed(text: str, i: int, n: int) -> int:
    """Handle ``@"..."``, ``$"..."``, ``$@"..."``, ``@$"..."`` or a lone ``@``/``$``."""
    verbatim = interpolated = False
    j = i
    for _ in range(2):
        if j >= n:
            break
        c, k = _logical(text, j)
        if c == "@" and not verbatim:
            verbatim = True
            j = k
        elif c == "$" and not interpolated:
            interpolated = True
            j = k
        else:
            break
    if j < n:
        c, k = _logical(text, j)
        if c == '"':
            return _skip_string(text, k, n, verbatim=verbatim, interpolated=interpolated)
    # not a string prefix: step over one character only
    return _logical(text, i)[1]


def _skip_string(text: str, i: int, n: int, *, verbatim: bool, interpolated: bool) -> int:
    """Index after the closing quote of a string whose body starts at ``i``.

    A regular string cannot span lines in C#, so a newline ends the attempt early: that keeps
    a damaged document from swallowing everything after it.
    """
    while i < n:
        c, j = _logical(text, i)
        if c == '"':
            if verbatim and j < n and _logical(text, j)[0] == '"':
                i = _logical(text, j)[1]
                continue
            return j
        if c == "\\" and not verbatim:
            if j >= n:
                raise _Unbalanced(n)
            i = _logical(text, j)[1]
            continue
        if c == "\n" and not verbatim:
            raise _Unbalanced(i)
        if interpolated and c == "{":
            if j < n and _logical(text, j)[0] == "{":
                i = _logical(text, j)[1]
                continue
            i = _skip_code(text, i, n)
            continue
        i = j
    raise _Unbalanced(n)


def _skip_char_literal(text: str, i: int, j: int, n: int) -> int:
    """Step over ``'x'`` or ``'\\n'``/``'\\u0041'``; a lone apostrophe is just a character."""
    if j >= n:
        return j
    c, k = _logical(text, j)
    if c == "\\":
        pos = k
        for _ in range(9):
            if pos >= n:
                break
            d, nxt = _logical(text, pos)
            if d == "'" and pos > k:
                return nxt
            if d == "\n":
                break
            pos = nxt
        return j
    if c != "\n" and k < n:
        d, nxt = _logical(text, k)
        if d == "'":
            return nxt
    return j


# --- the tokenizer --------------------------------------------------------------------------

_DTD_WORDS = ("<!DOCTYPE", "<!ENTITY", "<!ELEMENT", "<!ATTLIST", "<!NOTATION")


class _Budget:
    """Caps the work spent on expressions that turn out not to be ones.

    A failed bracket match can read to the end of the text, and a document made of many
    unbalanced ``@(`` would then cost quadratic time. Work on failed (or rejected) attempts
    is charged here; once the allowance (several times the text's length, far more than
    any real policy needs) is spent, further ``@(`` are read as plain characters, so the
    scan stays linear and can never hang. Successful expressions are consumed, not charged.
    """

    def __init__(self, n: int) -> None:
        self.left = 4 * n + 65_536

    def expression(self, text: str, start: int) -> int | None:
        if self.left <= 0:
            return None
        try:
            return _expression_end(text, start)
        except _Unbalanced as err:
            self.charge(err.pos - start + 1)
            return None

    def charge(self, work: int) -> None:
        self.left -= max(1, work)


def scan(text: str) -> list[Token]:
    """Cut ``text`` into tokens that cover it exactly.

    Raises :class:`PolicySyntaxError` (with line and column) for an unterminated comment,
    CDATA section, processing instruction or tag, an attribute without a quoted value, a
    malformed end tag, or any DTD. Element balance is checked by
    :func:`aiconsole.policy.tree.parse`, which builds on this. Runs in linear time.
    """
    tokens: list[Token] = []
    n = len(text)
    i = 0
    text_start = 0
    expressions: list[Span] = []
    budget = _Budget(n)

    def flush(upto: int) -> None:
        if upto > text_start:
            tokens.append(Text(Span(text_start, upto), tuple(expressions)))
        expressions.clear()

    while i < n:
        c = text[i]
        if c == "@" and i + 1 < n and text[i + 1] in "({":
            end = budget.expression(text, i)
            if end is not None and _ends_text_value(text, end):
                expressions.append(Span(i, end))
                i = end
                continue
            if end is not None:
                budget.charge(end - i)
            i += 1
            continue
        if c != "<" or i + 1 >= n:
            i += 1
            continue
        d = text[i + 1]
        if d == "!":
            flush(i)
            i = _scan_bang(text, i, tokens)
        elif d == "?":
            flush(i)
            end = text.find("?>", i + 2)
            if end < 0:
                raise PolicySyntaxError("this processing instruction is never closed with '?>'.", text=text, offset=i)
            tokens.append(ProcessingInstruction(Span(i, end + 2)))
            i = end + 2
        elif d == "/":
            flush(i)
            i = _scan_end_tag(text, i, tokens)
        elif _is_name_start(d):
            flush(i)
            i = _scan_start_tag(text, i, tokens, budget)
        else:
            # '<' that cannot start markup ("a < b" in raw text): keep it as text
            i += 1
            continue
        text_start = i
    flush(n)
    return tokens


def _ends_text_value(text: str, end: int) -> bool:
    """True if an expression in element text ends the text run (only blanks up to the next tag).

    APIM treats an element's value as an expression only when the expression is the whole
    value; requiring that stops an unbalanced ``@(`` in prose from swallowing later markup.
    """
    n = len(text)
    while end < n and text[end] in _WS:
        end += 1
    return end >= n or text[end] == "<"


def _scan_bang(text: str, i: int, tokens: list[Token]) -> int:
    if text.startswith("<!--", i):
        end = text.find("-->", i + 4)
        if end < 0:
            raise PolicySyntaxError("this comment is never closed with '-->'.", text=text, offset=i)
        tokens.append(Comment(Span(i, end + 3), text[i + 4 : end]))
        return end + 3
    if text.startswith("<![CDATA[", i):
        end = text.find("]]>", i + 9)
        if end < 0:
            raise PolicySyntaxError("this CDATA section is never closed with ']]>'.", text=text, offset=i)
        tokens.append(CData(Span(i, end + 3)))
        return end + 3
    upper = text[i : i + 10].upper()
    if any(upper.startswith(w) for w in _DTD_WORDS) or upper.startswith("<!["):
        raise PolicySyntaxError(
            "document type declarations (DTDs and entities) are not allowed in a policy.",
            text=text,
            offset=i,
            hint="Remove the <!DOCTYPE ...> or <!ENTITY ...> declaration; APIM policies never use one.",
        )
    raise PolicySyntaxError("'<!' must start a comment ('<!--') or a CDATA section.", text=text, offset=i)


def _scan_end_tag(text: str, i: int, tokens: list[Token]) -> int:
    n = len(text)
    j = i + 2
    k = j
    while k < n and _is_name_char(text[k]):
        k += 1
    name = text[j:k]
    m = k
    while m < n and text[m] in _WS:
        m += 1
    if not name or not _is_name_start(name[0]) or m >= n or text[m] != ">":
        shown = name or text[j : j + 10]
        raise PolicySyntaxError(f"the end tag '</{shown}' is not closed with '>'.", text=text, offset=i)
    tokens.append(EndTag(Span(i, m + 1), name))
    return m + 1


def _scan_start_tag(text: str, i: int, tokens: list[Token], budget: _Budget) -> int:
    n = len(text)
    k = i + 1
    while k < n and _is_name_char(text[k]):
        k += 1
    name = text[i + 1 : k]
    attrs: list[Attribute] = []
    j = k
    while True:
        ws = j
        while j < n and text[j] in _WS:
            j += 1
        if j >= n:
            raise PolicySyntaxError(f"the start tag <{name}> is never closed with '>'.", text=text, offset=i)
        c = text[j]
        if c == ">":
            tokens.append(StartTag(Span(i, j + 1), name, tuple(attrs), False))
            return j + 1
        if c == "/":
            if j + 1 < n and text[j + 1] == ">":
                tokens.append(StartTag(Span(i, j + 2), name, tuple(attrs), True))
                return j + 2
            raise PolicySyntaxError(f"unexpected '/' inside the start tag <{name}>.", text=text, offset=j)
        if c == "<":
            raise PolicySyntaxError(f"the start tag <{name}> is never closed with '>'.", text=text, offset=i)
        if j == ws and attrs:
            # 'a="1"b="2"': not XML, but unambiguous; keep going with an empty separator
            pass
        a_start = j
        while j < n and text[j] not in _WS and text[j] not in "=<>/\"'":
            j += 1
        a_name = text[a_start:j]
        if not a_name:
            raise PolicySyntaxError(f"unexpected {c!r} inside the start tag <{name}>.", text=text, offset=j)
        m = j
        while m < n and text[m] in _WS:
            m += 1
        if m >= n or text[m] != "=":
            raise PolicySyntaxError(
                f"attribute '{a_name}' of <{name}> has no value (expected {a_name}=\"...\").", text=text, offset=a_start
            )
        m += 1
        while m < n and text[m] in _WS:
            m += 1
        if m >= n or text[m] not in "\"'":
            raise PolicySyntaxError(
                f"the value of attribute '{a_name}' of <{name}> must be in quotes.", text=text, offset=m if m < n else a_start
            )
        quote = text[m]
        v_start = m + 1
        v_end = _value_end(text, v_start, quote, budget)
        if v_end < 0:
            raise PolicySyntaxError(
                f"the value of attribute '{a_name}' of <{name}> is never closed with {quote}.", text=text, offset=m
            )
        attrs.append(
            Attribute(
                name=a_name,
                quote=quote,
                span=Span(a_start, v_end + 1),
                name_span=Span(a_start, a_start + len(a_name)),
                value_span=Span(v_start, v_end),
                leading=Span(ws, a_start),
                raw=text[v_start:v_end],
            )
        )
        j = v_end + 1


_TAG_END = {q: re.compile(re.escape(q) + r"(?=\s*/?>)") for q in "\"'"}
_NEXT_ATTR = {q: re.compile(re.escape(q) + r"(?=\s+[^\s=<>/\"']+\s*=\s*[\"'])") for q in "\"'"}


def _value_end(text: str, v_start: int, quote: str, budget: _Budget) -> int:
    """Index of the quote that closes an attribute value starting at ``v_start``; -1 if none.

    An expression value (``@(`` or ``@{`` right after the quote) may contain the quote
    character in the raw form, so it is stepped over first. When the expression is not
    balanced (a damaged document), the value ends at the first quote that is followed by the
    end of the tag, or failing that by another attribute: the least surprising reading.
    """
    if text.startswith(("@(", "@{"), v_start):
        end = budget.expression(text, v_start)
        if end is not None:
            close = text.find(quote, end)
            if close >= 0:
                return close
        m = _TAG_END[quote].search(text, v_start) or _NEXT_ATTR[quote].search(text, v_start)
        return m.start() if m else -1
    return text.find(quote, v_start)
