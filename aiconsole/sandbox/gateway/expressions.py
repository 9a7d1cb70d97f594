"""Value expressions used by ``counter-key`` and ``<dimension value>`` attributes.

Supported: literals; ``@(member)`` for the context members below; ``String.Concat(...)`` and ``+``
of those and string literals; ``context.Request.Headers.GetValueOrDefault("name", "default")``.
Compiled once per policy ETag into a function of ``RequestInfo``; anything else raises
``ExpressionError`` so the engine can log it once and fall back.
"""

from __future__ import annotations

from collections.abc import Callable

from aiconsole.sandbox.gateway.context import RequestInfo
from aiconsole.sandbox.gateway.lexer import ExpressionError, TokenStream, tokenize, unwrap

ValueFn = Callable[[RequestInfo], str]

MEMBERS: dict[str, Callable[[RequestInfo], str | None]] = {
    "context.Subscription.Id": lambda r: r.subscription_id,
    "context.Subscription.Name": lambda r: r.subscription_name or r.subscription_id,
    "context.Subscription.Key": lambda r: None,  # never exposed: keys stay out of metrics and counters
    "context.Product.Id": lambda r: r.product_id,
    "context.Product.Name": lambda r: r.product_id,
    "context.Api.Id": lambda r: r.api_id,
    "context.Api.Name": lambda r: r.api_id,
    "context.Operation.Id": lambda r: r.operation_id,
    "context.Operation.Name": lambda r: r.operation_id,
    "context.User.Id": lambda r: r.user_id,
    "context.Request.IpAddress": lambda r: r.ip,
    "context.Deployment.Region": lambda r: "sandbox",
    "context.Deployment.ServiceName": lambda r: "sandbox",
}


class _Parser:
    def __init__(self, text: str) -> None:
        self.ts = TokenStream(tokenize(text))

    def parse(self) -> ValueFn:
        fn = self._sum()
        if self.ts.peek().kind != "end":
            raise ExpressionError(f"unexpected {self.ts.peek().value!r} at {self.ts.peek().pos}")
        return fn

    def _sum(self) -> ValueFn:
        parts = [self._atom()]
        while self.ts.accept("op", "+"):
            parts.append(self._atom())
        if len(parts) == 1:
            return parts[0]
        return lambda r, ps=tuple(parts): "".join(p(r) for p in ps)

    def _args(self) -> list[ValueFn]:
        self.ts.expect("op", "(")
        args: list[ValueFn] = []
        if not self.ts.accept("op", ")"):
            args.append(self._sum())
            while self.ts.accept("op", ","):
                args.append(self._sum())
            self.ts.expect("op", ")")
        return args

    def _atom(self) -> ValueFn:
        tok = self.ts.peek()
        if tok.kind == "string":
            self.ts.next()
            value = tok.value
            return lambda r: value
        if tok.kind == "number":
            self.ts.next()
            number = tok.value
            return lambda r: number
        if tok.kind == "op" and tok.value == "(":
            self.ts.next()
            inner = self._sum()
            self.ts.expect("op", ")")
            return inner
        if tok.kind != "ident":
            raise ExpressionError(f"unexpected {tok.value or tok.kind!r} at {tok.pos}")
        path = self.ts.dotted()
        if path in ("String.Concat", "string.Concat"):
            args = self._args()
            return lambda r, a=tuple(args): "".join(f(r) for f in a)
        if path == "context.Request.Headers.GetValueOrDefault":
            args = self._args()
            if len(args) not in (1, 2):
                raise ExpressionError("GetValueOrDefault takes a name and an optional default")
            name_fn = args[0]
            default_fn = args[1] if len(args) == 2 else (lambda r: "")
            return lambda r: r.headers.get(name_fn(r).lower(), default_fn(r))
        if path in MEMBERS:
            member = MEMBERS[path]
            return lambda r: member(r) or ""
        raise ExpressionError(f"{path} is not supported in value expressions")


def compile_value(text: str) -> ValueFn:
    """Compile an attribute value: a literal, or an ``@(...)`` expression of the supported subset."""
    body = unwrap(text)
    if body is None:
        if text.strip().startswith("@"):
            raise ExpressionError("multi-statement expressions @{...} are not supported")
        literal = text
        return lambda r: literal
    return _Parser(body).parse()
