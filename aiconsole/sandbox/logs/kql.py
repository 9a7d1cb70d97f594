"""A small Kusto (KQL) interpreter: enough of the language for gateway-log queries.

The sandbox's Log Analytics stand-in answers the queries an operator (or this console) sends to
``ApiManagementGatewayLogs``: filter, group, count, sort, cut. Supported, in a pipeline after
the table name:

- ``where`` with ``==  !=  =~  !~  <  <=  >  >=``, ``in (…)``, ``!in (…)``, ``has``,
  ``contains``, ``startswith``, ``isempty(c)``, ``isnotempty(c)``, ``and``, ``or``, ``not(…)``
  and parentheses; literals are numbers, strings, ``true``/``false``, ``datetime(…)`` and
  ``ago(5m)``;
- ``summarize [Name =] count() | countif(…) | sum(c) | dcount(c) | min(c) | max(c), … [by c,
  [Name =] bin(TimeGenerated, 1m), …]``;
- ``order by`` / ``sort by`` (``asc``/``desc``, default desc), ``take`` / ``limit``,
  ``top N by c``, ``project c, …`` and ``count``.

Anything else is refused with the error Log Analytics gives (``BadArgumentError`` with a
syntax or semantic inner error), never silently answered wrong. Rows come in *weighted*:
the store keeps identical log records once per minute with a count, and every operator here
treats a row of weight n as n identical rows, so answers equal those over the raw log.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

Row = dict[str, Any]
Weighted = list[tuple[Row, int]]


class KqlError(ValueError):
    """A query the stand-in cannot answer; ``kind`` is Log Analytics' inner error code."""

    def __init__(self, message: str, kind: str = "SyntaxError") -> None:
        super().__init__(message)
        self.kind = kind


# --------------------------------------------------------------------------- tokens

_TOKEN = re.compile(r"""
    (?P<ws>\s+|//[^\n]*)
  | (?P<datetime>datetime\(\s*[^()]*\))
  | (?P<timespan>\d+(?:\.\d+)?(?:ms|d|h|m|s)\b)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>==|!=|=~|!~|<=|>=|!in\b|[|(),=<>])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
""", re.VERBOSE)

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Tok:
    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[Tok]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise KqlError(f"Query could not be parsed at '{text[pos:pos + 12]}' (position {pos}).")
        if m.lastgroup != "ws":
            out.append(Tok(m.lastgroup or "", m.group(), pos))
        pos = m.end()
    out.append(Tok("end", "", pos))
    return out


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def parse_timespan(text: str) -> timedelta:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|d|h|m|s)", text)
    if m is None:
        raise KqlError(f"'{text}' is not a timespan.")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


# --------------------------------------------------------------------------- types

NUMERIC = ("int", "long", "real")


def type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "long" if isinstance(value, int) else "real"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, timedelta):
        return "timespan"
    return "string"


def comparable(column_type: str, value_type: str) -> bool:
    return column_type == value_type or (column_type in NUMERIC and value_type in NUMERIC)


# --------------------------------------------------------------------------- expressions

Expr = Callable[[Row], Any]


def _cmp(op: str) -> Callable[[Any, Any], bool]:
    def ci(a: Any) -> Any:
        return a.lower() if isinstance(a, str) else a

    table: dict[str, Callable[[Any, Any], bool]] = {
        "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
        "=~": lambda a, b: ci(a) == ci(b), "!~": lambda a, b: ci(a) != ci(b),
        "<": lambda a, b: a is not None and a < b, "<=": lambda a, b: a is not None and a <= b,
        ">": lambda a, b: a is not None and a > b, ">=": lambda a, b: a is not None and a >= b,
        "has": lambda a, b: isinstance(a, str) and re.search(rf"(?<![A-Za-z0-9]){re.escape(b.lower())}(?![A-Za-z0-9])",
                                                             a.lower()) is not None,
        "contains": lambda a, b: isinstance(a, str) and b.lower() in a.lower(),
        "startswith": lambda a, b: isinstance(a, str) and a.lower().startswith(b.lower()),
    }
    return table[op]


@dataclass
class Parser:
    tokens: list[Tok]
    columns: dict[str, str]  # the current columns and their types
    now: datetime
    i: int = 0

    # -- cursor ----------------------------------------------------------------------------
    @property
    def tok(self) -> Tok:
        return self.tokens[self.i]

    def take(self) -> Tok:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def accept(self, text: str) -> bool:
        if self.tok.text.lower() == text and self.tok.kind in ("op", "name"):
            self.i += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.accept(text):
            raise KqlError(f"Expected '{text}' at position {self.tok.pos}, found '{self.tok.text or 'end of query'}'.")

    def name(self) -> str:
        t = self.take()
        if t.kind != "name":
            raise KqlError(f"Expected a name at position {t.pos}, found '{t.text or 'end of query'}'.")
        return t.text

    def column(self) -> str:
        name = self.name()
        if name not in self.columns:
            raise KqlError(f"Failed to resolve scalar expression named '{name}'", "SemanticError")
        return name

    def check(self, col: str, value: Any, op: str) -> None:
        """KQL compares like with like: a string column with a string, a number with a number…"""
        col_type, value_type = self.columns[col], type_of(value)
        if op in ("has", "contains", "startswith", "=~", "!~"):
            ok = col_type == "string" and value_type == "string"
        else:
            ok = comparable(col_type, value_type)
        if not ok:
            raise KqlError(f"Cannot compare values of types {col_type} and {value_type} ('{col}' {op}).",
                           "SemanticError")

    # -- literals --------------------------------------------------------------------------
    def literal(self) -> Any:
        t = self.take()
        if t.kind == "number":
            return float(t.text) if "." in t.text else int(t.text)
        if t.kind == "string":
            return _unquote(t.text)
        if t.kind == "timespan":
            return parse_timespan(t.text)
        if t.kind == "name" and t.text.lower() in ("true", "false"):
            return t.text.lower() == "true"
        if t.kind == "name" and t.text.lower() == "ago":
            self.expect("(")
            span = self.take()
            self.expect(")")
            return self.now - parse_timespan(span.text)
        if t.kind == "name" and t.text.lower() == "now":
            self.expect("(")
            self.expect(")")
            return self.now
        if t.kind == "datetime":
            return _datetime(t.text[t.text.index("(") + 1:-1])
        raise KqlError(f"Expected a literal at position {t.pos}, found '{t.text or 'end of query'}'.")

    # -- predicates ------------------------------------------------------------------------
    def predicate(self) -> Expr:
        left = self.conjunction()
        while self.accept("or"):
            right = self.conjunction()
            left = (lambda a, b: lambda r: a(r) or b(r))(left, right)
        return left

    def conjunction(self) -> Expr:
        left = self.atom()
        while self.accept("and"):
            right = self.atom()
            left = (lambda a, b: lambda r: a(r) and b(r))(left, right)
        return left

    def atom(self) -> Expr:
        if self.accept("("):
            inner = self.predicate()
            self.expect(")")
            return inner
        if self.tok.kind == "name" and self.tokens[self.i + 1].text == "(":
            fn = self.take().text.lower()
            self.expect("(")
            if fn == "not":
                inner = self.predicate()
                self.expect(")")
                return lambda r: not inner(r)
            if fn in ("isempty", "isnotempty", "isnull", "isnotnull"):
                col = self.column()
                self.expect(")")
                test = (lambda v: v is None or v == "") if fn.endswith("empty") else (lambda v: v is None)
                if fn.startswith("isnot"):
                    return lambda r: not test(r.get(col))
                return lambda r: test(r.get(col))
            raise KqlError(f"Unknown function '{fn}' in a where clause.", "SemanticError")
        col = self.column()
        if self.accept("in") or self.tok.text == "!in":
            negate = self.tok.text == "!in"
            if negate:
                self.i += 1
            self.expect("(")
            values = [self.literal()]
            while self.accept(","):
                values.append(self.literal())
            self.expect(")")
            for value in values:
                self.check(col, value, "in")
            allowed = set(values)
            return (lambda r: r.get(col) not in allowed) if negate else (lambda r: r.get(col) in allowed)
        op = self.take()
        if op.text.lower() not in ("==", "!=", "=~", "!~", "<", "<=", ">", ">=", "has", "contains", "startswith"):
            raise KqlError(f"Expected a comparison after '{col}' at position {op.pos}, found '{op.text or 'end of query'}'.")
        value = self.literal()
        self.check(col, value, op.text.lower())
        compare = _cmp(op.text.lower())
        return lambda r: compare(r.get(col), value)


def _datetime(raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise KqlError(f"'{raw}' is not a datetime.") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- operators

def _expand(rows: Weighted, limit: int | None = None) -> Iterable[Row]:
    n = 0
    for row, weight in rows:
        for _ in range(weight):
            if limit is not None and n >= limit:
                return
            n += 1
            yield row


def _sort_key(value: Any) -> tuple[int, Any]:
    """KQL sorts nulls last in descending order (first in ascending); mixed types by type."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool | int | float):
        return (1, value)
    if isinstance(value, datetime):
        return (2, value)
    return (3, str(value))


@dataclass
class _Agg:
    name: str
    fn: str
    column: str | None
    where: Expr | None = None
    column_type: str = "long"

    def compute(self, rows: Weighted) -> Any:
        if self.fn == "count":
            return sum(w for _, w in rows)
        if self.fn == "countif":
            return sum(w for r, w in rows if self.where and self.where(r))
        values = [(r.get(self.column or ""), w) for r, w in rows if r.get(self.column or "") is not None]
        if self.fn == "sum":
            return sum(v * w for v, w in values)
        if self.fn == "dcount":
            return len({v for v, _ in values})
        if not values:
            return None
        return (min if self.fn == "min" else max)(v for v, _ in values)

    @property
    def type(self) -> str:
        if self.fn in ("count", "countif", "dcount"):
            return "long"
        if self.fn == "sum":
            return "real" if self.column_type == "real" else "long"
        return self.column_type  # min / max


def _summarize(p: Parser, rows: Weighted) -> Weighted:
    aggs: list[_Agg] = []
    while True:
        name = None
        if p.tok.kind == "name" and p.tokens[p.i + 1].text == "=":
            name = p.take().text
            p.i += 1
        fn = p.name().lower()
        if fn not in ("count", "countif", "sum", "dcount", "min", "max"):
            raise KqlError(f"Unknown aggregation '{fn}'.", "SemanticError")
        p.expect("(")
        col = where = None
        if fn == "countif":
            where = p.predicate()
        elif fn != "count":
            col = p.column()
            if fn == "sum" and p.columns[col] not in NUMERIC:
                raise KqlError(f"sum() needs a numeric column; '{col}' is {p.columns[col]}.", "SemanticError")
            if fn in ("min", "max") and p.columns[col] == "bool":
                raise KqlError(f"{fn}() cannot order the bool column '{col}'.", "SemanticError")
        p.expect(")")
        default = {"count": "count_", "countif": "countif_"}.get(fn, f"{fn}_{col}")
        aggs.append(_Agg(name or default, fn, col, where, p.columns[col] if col else "long"))
        if not p.accept(","):
            break
    keys: list[tuple[str, Callable[[Row], Any], str]] = []
    if p.accept("by"):
        while True:
            name = None
            if p.tok.kind == "name" and p.tokens[p.i + 1].text == "=":
                name = p.take().text
                p.i += 1
            if p.tok.text.lower() == "bin" and p.tokens[p.i + 1].text == "(":
                p.i += 2
                col = p.column()
                p.expect(",")
                span = parse_timespan(p.take().text).total_seconds()
                p.expect(")")
                if p.columns[col] != "datetime":
                    raise KqlError("bin() is supported on datetime columns only.", "SemanticError")
                keys.append((name or col, (lambda c, s: lambda r: _bin(r.get(c), s))(col, span), "datetime"))
            else:
                col = p.column()
                keys.append((name or col, (lambda c: lambda r: r.get(c))(col), p.columns[col]))
            if not p.accept(","):
                break
    groups: dict[tuple, Weighted] = {}
    for row, w in rows:
        groups.setdefault(tuple(k(row) for _, k, _ in keys), []).append((row, w))
    if not keys and not groups:
        groups[()] = []
    p.columns = {name: typ for name, _, typ in keys} | {a.name: a.type for a in aggs}
    return [({**{name: v for (name, _, _), v in zip(keys, key)}, **{a.name: a.compute(g) for a in aggs}}, 1)
            for key, g in groups.items()]


def _bin(value: Any, seconds: float) -> Any:
    if not isinstance(value, datetime):
        return None
    ts = value.timestamp()
    return datetime.fromtimestamp(ts - ts % seconds, UTC)


def _order(p: Parser, rows: Weighted) -> Weighted:
    p.expect("by")
    keys = []
    while True:
        col = p.column()
        desc = not p.accept("asc")
        if desc:
            p.accept("desc")
        keys.append((col, desc))
        if not p.accept(","):
            break
    for col, desc in reversed(keys):
        rows = sorted(rows, key=lambda rw, c=col: _sort_key(rw[0].get(c)), reverse=desc)
    return rows


def _count_arg(p: Parser, op: str) -> int:
    t = p.take()
    if t.kind != "number" or "." in t.text:
        raise KqlError(f"{op} needs a whole number, found '{t.text or 'end of query'}'.")
    return int(t.text)


def _cut(rows: Weighted, n: int) -> Weighted:
    """The first ``n`` rows, counting a row of weight w as w rows."""
    out = []
    for row, w in rows:
        if n <= 0:
            break
        out.append((row, min(w, n)))
        n -= w
    return out


def _project(p: Parser, rows: Weighted) -> Weighted:
    cols = [p.column()]
    while p.accept(","):
        cols.append(p.column())
    p.columns = {c: p.columns[c] for c in cols}
    return [({c: r.get(c) for c in cols}, w) for r, w in rows]


def run(text: str, tables: dict[str, tuple[dict[str, str], Callable[[], Weighted]]], now: datetime,
        *, max_rows: int) -> tuple[dict[str, str], list[Row], bool]:
    """Evaluate ``text``; returns (columns with types, rows, truncated at ``max_rows``)."""
    tokens = tokenize(text)
    first = tokens[0]
    if first.kind != "name":
        raise KqlError("A query starts with a table name.")
    table = tables.get(first.text)
    if table is None:
        raise KqlError(f"Failed to resolve table or column expression named '{first.text}'", "SemanticError")
    columns, load = table
    p = Parser(tokens, dict(columns), now, i=1)
    rows = load()
    while p.accept("|"):
        op = p.name().lower()
        if op == "where":
            pred = p.predicate()
            rows = [(r, w) for r, w in rows if pred(r)]
        elif op == "summarize":
            rows = _summarize(p, rows)
        elif op in ("order", "sort"):
            rows = _order(p, rows)
        elif op in ("take", "limit"):
            rows = _cut(rows, _count_arg(p, op))
        elif op == "top":
            n = _count_arg(p, op)
            rows = _cut(_order(p, rows), n)
        elif op == "project":
            rows = _project(p, rows)
        elif op == "count":
            rows = [({"Count": sum(w for _, w in rows)}, 1)]
            p.columns = {"Count": "long"}
        else:
            raise KqlError(f"The operator '{op}' is not supported by the sandbox's Log Analytics.", "SemanticError")
    if p.tok.kind != "end":
        raise KqlError(f"Unexpected '{p.tok.text}' at position {p.tok.pos}.")
    total = sum(w for _, w in rows)
    return p.columns, list(_expand(rows, max_rows)), total > max_rows
