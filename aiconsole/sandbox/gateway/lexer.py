"""Tokenizer for the small subset of APIM policy expressions (C#) the sandbox understands.

The gateway never runs real C#. It reads a handful of shapes (member paths such as
``context.Subscription.Id``, string and integer literals, comparisons, ``&&``/``||``/``!``,
``new DateTime(...)`` and a few calls); anything else raises ``ExpressionError`` so the caller can
report it once and fall back safely instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass


class ExpressionError(ValueError):
    """The expression is outside the subset the sandbox evaluates."""


@dataclass(frozen=True)
class Token:
    kind: str  # "ident", "string", "number", "op", "end"
    value: str
    pos: int


_OPS = ("&&", "||", "==", "!=", "<=", ">=", "<", ">", "!", "(", ")", ",", ".", "+")


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens; raise ``ExpressionError`` on anything unexpected."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch == '"':
            j, buf = i + 1, []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    buf.append(text[j + 1])
                    j += 2
                    continue
                buf.append(text[j])
                j += 1
            if j >= n:
                raise ExpressionError("unterminated string literal")
            tokens.append(Token("string", "".join(buf), i))
            i = j + 1
            continue
        if ch.isdigit():
            j = i
            while j < n and text[j].isdigit():
                j += 1
            tokens.append(Token("number", text[i:j], i))
            i = j
            continue
        if ch.isalpha() or ch == "_":
            j = i
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            tokens.append(Token("ident", text[i:j], i))
            i = j
            continue
        for op in _OPS:
            if text.startswith(op, i):
                tokens.append(Token("op", op, i))
                i += len(op)
                break
        else:
            raise ExpressionError(f"unexpected character {ch!r} at {i}")
    tokens.append(Token("end", "", n))
    return tokens


class TokenStream:
    """A cursor over tokens with the few helpers a recursive-descent parser needs."""

    def __init__(self, tokens: list[Token]) -> None:
        self._tokens = tokens
        self._i = 0

    def peek(self, offset: int = 0) -> Token:
        return self._tokens[min(self._i + offset, len(self._tokens) - 1)]

    def next(self) -> Token:
        tok = self.peek()
        self._i = min(self._i + 1, len(self._tokens) - 1)
        return tok

    def accept(self, kind: str, value: str | None = None) -> Token | None:
        tok = self.peek()
        if tok.kind == kind and (value is None or tok.value == value):
            return self.next()
        return None

    def expect(self, kind: str, value: str | None = None) -> Token:
        tok = self.accept(kind, value)
        if tok is None:
            got = self.peek()
            raise ExpressionError(f"expected {value or kind} at {got.pos}, got {got.value or got.kind!r}")
        return tok

    def dotted(self) -> str:
        """Read ``a.b.c`` (identifiers joined by dots) starting at an identifier."""
        parts = [self.expect("ident").value]
        while self.peek().kind == "op" and self.peek().value == "." and self.peek(1).kind == "ident":
            self.next()
            parts.append(self.next().value)
        return ".".join(parts)


def unwrap(expression: str) -> str | None:
    """The body of ``@(...)``, or None when ``expression`` is not a single-statement expression."""
    text = expression.strip()
    if text.startswith("@(") and text.endswith(")"):
        return text[2:-1]
    return None
