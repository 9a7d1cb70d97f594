"""``<when condition="@(...)">``: the grammar the console writes for time-boxed overrides.

Supported: ``context.Subscription.Id`` / ``context.Product.Id`` compared with ``==``/``!=`` to a
string literal; ``DateTime.UtcNow`` compared with ``<``, ``<=``, ``>``, ``>=`` (and ``==``/``!=``)
to ``new DateTime(y, m, d, h, min, s, DateTimeKind.Utc)``; ``&&``, ``||``, ``!`` and parentheses.
A condition is compiled once (per policy ETag) into a predicate; evaluation is a few closure
calls, so it costs nothing per request. Anything else raises ``ExpressionError`` at compile
time: the engine logs it once and treats the branch as false, as the issue asks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiconsole.sandbox.gateway.lexer import ExpressionError, TokenStream, tokenize, unwrap


@dataclass(frozen=True)
class ConditionContext:
    """What a condition may look at: ids of the caller and the gateway's current time."""

    subscription_id: str | None
    product_id: str | None
    now: datetime


Predicate = Callable[[ConditionContext], bool]

_STRING_OPERANDS: dict[str, Callable[[ConditionContext], str | None]] = {
    "context.Subscription.Id": lambda c: c.subscription_id,
    "context.Product.Id": lambda c: c.product_id,
}
_COMPARE: dict[str, Callable[[object, object], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,  # type: ignore[operator]
    "<=": lambda a, b: a <= b,  # type: ignore[operator]
    ">": lambda a, b: a > b,  # type: ignore[operator]
    ">=": lambda a, b: a >= b,  # type: ignore[operator]
}


@dataclass(frozen=True)
class _Operand:
    kind: str  # "string" | "datetime"
    get: Callable[[ConditionContext], object]
    constant: bool


class _Parser:
    def __init__(self, text: str) -> None:
        self.ts = TokenStream(tokenize(text))

    def parse(self) -> Predicate:
        pred = self._or()
        if self.ts.peek().kind != "end":
            raise ExpressionError(f"unexpected {self.ts.peek().value!r} at {self.ts.peek().pos}")
        return pred

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self.ts.accept("op", "||"):
            parts.append(self._and())
        if len(parts) == 1:
            return parts[0]
        return lambda c, ps=tuple(parts): any(p(c) for p in ps)

    def _and(self) -> Predicate:
        parts = [self._unary()]
        while self.ts.accept("op", "&&"):
            parts.append(self._unary())
        if len(parts) == 1:
            return parts[0]
        return lambda c, ps=tuple(parts): all(p(c) for p in ps)

    def _unary(self) -> Predicate:
        if self.ts.accept("op", "!"):
            inner = self._unary()
            return lambda c: not inner(c)
        if self.ts.accept("op", "("):
            inner = self._or()
            self.ts.expect("op", ")")
            return inner
        return self._comparison()

    def _comparison(self) -> Predicate:
        left = self._operand()
        tok = self.ts.next()
        if tok.kind != "op" or tok.value not in _COMPARE:
            raise ExpressionError(f"expected a comparison at {tok.pos}")
        right = self._operand()
        if left.kind != right.kind:
            raise ExpressionError("cannot compare a string with a date")
        if left.kind == "string" and tok.value not in ("==", "!="):
            raise ExpressionError("strings compare only with == and !=")
        if left.constant and right.constant:
            raise ExpressionError("comparison of two constants")
        op = _COMPARE[tok.value]
        lg, rg = left.get, right.get
        return lambda c: op(lg(c), rg(c))

    def _operand(self) -> _Operand:
        tok = self.ts.peek()
        if tok.kind == "string":
            self.ts.next()
            value = tok.value
            return _Operand("string", lambda c: value, True)
        if tok.kind == "ident" and tok.value == "new":
            self.ts.next()
            return self._new_datetime()
        if tok.kind == "ident":
            path = self.ts.dotted()
            if path in _STRING_OPERANDS:
                return _Operand("string", _STRING_OPERANDS[path], False)
            if path == "DateTime.UtcNow":
                return _Operand("datetime", lambda c: c.now, False)
            raise ExpressionError(f"{path} is not supported in conditions")
        raise ExpressionError(f"unexpected {tok.value or tok.kind!r} at {tok.pos}")

    def _new_datetime(self) -> _Operand:
        if self.ts.dotted() not in ("DateTime", "System.DateTime"):
            raise ExpressionError("only new DateTime(...) is supported")
        self.ts.expect("op", "(")
        numbers: list[int] = []
        while self.ts.peek().kind == "number":
            numbers.append(int(self.ts.next().value))
            self.ts.expect("op", ",")
        kind = self.ts.dotted()
        self.ts.expect("op", ")")
        if kind not in ("DateTimeKind.Utc", "System.DateTimeKind.Utc"):
            raise ExpressionError("DateTime must be built with DateTimeKind.Utc")
        if len(numbers) != 6:
            raise ExpressionError("new DateTime needs year, month, day, hour, minute, second")
        try:
            instant = datetime(*numbers, tzinfo=UTC)  # type: ignore[misc]
        except ValueError as exc:
            raise ExpressionError(f"invalid date: {exc}") from None
        return _Operand("datetime", lambda c: instant, True)


def compile_condition(condition: str) -> Predicate:
    """Compile a ``condition`` attribute (``@(...)``, already XML-unescaped) into a predicate."""
    body = unwrap(condition)
    if body is None:
        stripped = condition.strip().lower()
        if stripped in ("true", "false"):
            value = stripped == "true"
            return lambda c: value
        raise ExpressionError("condition must be a single @(...) expression")
    return _Parser(body).parse()
