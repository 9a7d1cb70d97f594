"""The OData ``$filter`` subset that APIM's list operations document.

Each list operation declares its fields (name → getter plus the operators it allows) and
``compile_filter`` turns the filter text into a predicate over entities. Supported: ``eq``,
``ne``, ``gt``, ``ge``, ``lt``, ``le``; the functions ``contains``, ``startswith``,
``endswith`` and ``substringof``; ``and``, ``or``, ``not`` and parentheses; string literals
in single quotes (``''`` escapes a quote), numbers, ``true``/``false``/``null`` and ISO
date-times. String comparisons ignore case, as APIM's do.

A getter may return several candidate values (a list): ``ownerId eq 'alice'`` then matches an
owner whether it is written as the short id, ``/users/alice`` or the full ARM id.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiconsole.sandbox.clock import parse_instant

COMPARISONS = ("eq", "ne", "gt", "ge", "lt", "le")
FUNCTIONS = ("contains", "startswith", "endswith", "substringof")
ALL_OPS = COMPARISONS + FUNCTIONS
EQ_ONLY = ("eq",)
EQ_NE = ("eq", "ne")


class FilterError(ValueError):
    """The filter text is not valid for this operation (answered as a 400)."""


@dataclass(frozen=True)
class Field:
    """A filterable field: how to read it from an entity and which operators it accepts."""

    getter: Callable[[Any], Any]
    ops: tuple[str, ...] = ALL_OPS
    kind: str = "string"  # "string" | "bool" | "date" | "number"


Predicate = Callable[[Any], bool]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<date>\d{4}-\d{2}-\d{2}(?:T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?)?)
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<punct>[(),])
      | (?P<word>[A-Za-z_][A-Za-z0-9_./]*)
    )""",
    re.VERBOSE,
)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise FilterError(f"Invalid filter: unexpected text at position {pos + 1}.")
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return tokens


class _Parser:
    def __init__(self, text: str, fields: dict[str, Field]) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0
        self.fields = {k.lower(): (k, v) for k, v in fields.items()}

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise FilterError("Invalid filter: it ends too early.")
        self.pos += 1
        return tok

    def expect(self, value: str) -> None:
        tok = self.take()
        if tok[1] != value:
            raise FilterError(f"Invalid filter: expected '{value}' but found '{tok[1]}'.")

    def word_is(self, word: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[0] == "word" and tok[1].lower() == word

    def parse(self) -> Predicate:
        if not self.tokens:
            return lambda _e: True
        pred = self.parse_or()
        if self.peek() is not None:
            raise FilterError(f"Invalid filter: unexpected '{self.peek()[1]}'.")
        return pred

    def parse_or(self) -> Predicate:
        left = self.parse_and()
        while self.word_is("or"):
            self.take()
            right = self.parse_and()
            left = (lambda a, b: lambda e: a(e) or b(e))(left, right)
        return left

    def parse_and(self) -> Predicate:
        left = self.parse_unary()
        while self.word_is("and"):
            self.take()
            right = self.parse_unary()
            left = (lambda a, b: lambda e: a(e) and b(e))(left, right)
        return left

    def parse_unary(self) -> Predicate:
        if self.word_is("not"):
            self.take()
            inner = self.parse_unary()
            return lambda e: not inner(e)
        tok = self.peek()
        if tok is not None and tok[1] == "(":
            self.take()
            pred = self.parse_or()
            self.expect(")")
            return pred
        return self.parse_clause()

    def field(self, name: str, op: str) -> tuple[str, Field]:
        hit = self.fields.get(name.lower())
        if hit is None:
            raise FilterError(f"Invalid filter: '{name}' is not a filterable field here.")
        real, spec = hit
        if op not in spec.ops:
            raise FilterError(f"Invalid filter: '{op}' is not supported for '{real}'.")
        return real, spec

    def literal(self) -> Any:
        kind, value = self.take()
        if kind == "string":
            return value[1:-1].replace("''", "'")
        if kind == "number":
            return float(value)
        if kind == "date":
            try:
                return parse_instant(value).timestamp()
            except ValueError:
                raise FilterError(f"Invalid filter: '{value}' is not a valid date.") from None
        if kind == "word" and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if kind == "word" and value.lower() == "null":
            return None
        if kind == "word" and value.lower().startswith("datetime"):
            raise FilterError("Invalid filter: write dates without a datetime prefix.")
        raise FilterError(f"Invalid filter: expected a value but found '{value}'.")

    def parse_clause(self) -> Predicate:
        kind, name = self.take()
        if kind != "word":
            raise FilterError(f"Invalid filter: expected a field or function but found '{name}'.")
        lowered = name.lower()
        if lowered in FUNCTIONS and self.peek() is not None and self.peek()[1] == "(":
            self.take()
            if lowered == "substringof":
                needle = self.literal()
                self.expect(",")
                _, fname = self.take()
                self.expect(")")
                _, spec = self.field(fname, "substringof")
                return _function("contains", spec, needle)
            _, fname = self.take()
            self.expect(",")
            needle = self.literal()
            self.expect(")")
            _, spec = self.field(fname, lowered)
            return _function(lowered, spec, needle)
        op_tok = self.take()
        op = op_tok[1].lower()
        if op not in COMPARISONS:
            raise FilterError(f"Invalid filter: '{op_tok[1]}' is not a comparison operator.")
        _, spec = self.field(name, op)
        value = self.literal()
        return _comparison(op, spec, value)


def _candidates(spec: Field, entity: Any) -> list[Any]:
    value = spec.getter(entity)
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _norm(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _function(name: str, spec: Field, needle: Any) -> Predicate:
    if not isinstance(needle, str):
        raise FilterError(f"Invalid filter: {name} needs a string value.")
    needle_l = needle.lower()
    test: Callable[[str], bool] = {
        "contains": lambda v: needle_l in v,
        "startswith": lambda v: v.startswith(needle_l),
        "endswith": lambda v: v.endswith(needle_l),
    }[name]

    def pred(entity: Any) -> bool:
        return any(isinstance(v, str) and test(v.lower()) for v in _candidates(spec, entity))

    return pred


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}


def _comparison(op: str, spec: Field, value: Any) -> Predicate:
    if spec.kind == "date" and isinstance(value, str):
        try:
            value = parse_instant(value).timestamp()
        except ValueError:
            raise FilterError(f"Invalid filter: '{value}' is not a valid date.") from None
    compare = _COMPARE[op]
    target = _norm(value)

    def pred(entity: Any) -> bool:
        values = [_norm(v) for v in _candidates(spec, entity)]
        if op == "ne":
            return all(v != target for v in values)
        for v in values:
            if v is None or target is None:
                if op == "eq" and v is target:
                    return True
                continue
            try:
                if compare(v, target):
                    return True
            except TypeError:
                continue
        return False

    return pred


def compile_filter(text: str | None, fields: dict[str, Field]) -> Predicate:
    """Compile ``$filter`` text against ``fields``; raises ``FilterError`` if it is not valid."""
    if text is None or not text.strip():
        return lambda _e: True
    return _Parser(text, fields).parse()
