"""The ``<when condition>`` grammar: what it accepts, how it evaluates, and what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aiconsole.sandbox.gateway.conditions import ConditionContext, compile_condition
from aiconsole.sandbox.gateway.lexer import ExpressionError

BEFORE = datetime(2026, 3, 10, 11, 59, 59, tzinfo=UTC)
AFTER = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)
UNTIL = "new DateTime(2026, 3, 10, 12, 0, 0, DateTimeKind.Utc)"


def ctx(sid="sub-a", product="starter", now=BEFORE):
    return ConditionContext(subscription_id=sid, product_id=product, now=now)


@pytest.mark.parametrize(
    ("condition", "context", "expected"),
    [
        ('@(context.Subscription.Id == "sub-a")', ctx(), True),
        ('@(context.Subscription.Id != "sub-a")', ctx(), False),
        ('@(context.Product.Id == "starter")', ctx(), True),
        ('@(context.Product.Id == "starter")', ctx(product=None), False),
        (f"@(DateTime.UtcNow < {UNTIL})", ctx(), True),
        (f"@(DateTime.UtcNow < {UNTIL})", ctx(now=AFTER), False),
        (f"@(DateTime.UtcNow <= {UNTIL})", ctx(now=AFTER), True),
        (f"@(DateTime.UtcNow >= {UNTIL})", ctx(now=AFTER), True),
        (f"@({UNTIL} > DateTime.UtcNow)", ctx(), True),
        (f'@(context.Subscription.Id == "sub-a" && DateTime.UtcNow < {UNTIL})', ctx(), True),
        (f'@(context.Subscription.Id == "sub-a" && DateTime.UtcNow < {UNTIL})', ctx(now=AFTER), False),
        (f'@(context.Subscription.Id == "x" || context.Subscription.Id == "sub-a")', ctx(), True),
        ('@(!(context.Subscription.Id == "sub-a"))', ctx(), False),
        ('@((context.Product.Id == "a" || context.Product.Id == "starter") && !(context.Subscription.Id == "z"))', ctx(), True),
    ],
)
def test_grammar_evaluates(condition, context, expected):
    assert compile_condition(condition)(context) is expected


@pytest.mark.parametrize(
    "condition",
    [
        '@(context.Subscription.Name == "x")',
        '@(context.Request.Headers.GetValueOrDefault("a","") == "b")',
        "@(DateTime.UtcNow < new DateTime(2026, 3, 10, 12, 0, 0))",  # no DateTimeKind.Utc
        "@(DateTime.UtcNow < new DateTime(2026, 13, 10, 12, 0, 0, DateTimeKind.Utc))",  # bad month
        '@(context.Subscription.Id < "x")',
        '@(context.Subscription.Id == "x" &&)',
        "@{ return true; }",
        '@("a" == "a")',
        '@(context.Subscription.Id == "unterminated)',
    ],
)
def test_outside_grammar_is_refused(condition):
    with pytest.raises(ExpressionError):
        compile_condition(condition)
