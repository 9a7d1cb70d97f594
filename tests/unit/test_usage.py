"""Usage grouping, prices and CSV over a fake window reader and directory (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aiconsole.domain.errors import NotFoundError, UsageError
from aiconsole.domain.models import Scope, Subscription, SubscriptionState
from aiconsole.services.usage import Price, UsageService, parse_price, parse_when
from aiconsole.telemetry.port import SeriesKey
from aiconsole.telemetry.usage_window import UsageRecord, UsageWindow

START, END = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)


class Reader:
    def __init__(self, records, known=False):
        self.records, self.known = records, known

    def read(self, start, end):
        return UsageWindow(start, end, self.records, self.known, [])


class Backend:
    SUBS = {
        "a": ("product", "gold", "alice"), "b": ("product", "gold", "bob"), "c": ("api", "llm", "alice"),
    }

    def get_subscription(self, sid):
        if sid not in self.SUBS:
            raise NotFoundError("gone")
        kind, scope_id, owner = self.SUBS[sid]
        return Subscription(name=sid, state=SubscriptionState.active,
                            scope=Scope.parse(f"/{'products' if kind == 'product' else 'apis'}/{scope_id}"),
                            owner_id=f"/users/{owner}")


def rec(sid, product, prompt, completion, requests, refused=None):
    return UsageRecord(SeriesKey(sid, product, "api"), prompt, completion, prompt + completion, requests, refused)


RECORDS = [rec("a", "gold", 1000, 3000, 10), rec("b", "", 2000, 2000, 5), rec("c", "", 500, 500, 2), rec("gone", "", 10, 0, 1)]


def test_by_subscription_product_and_owner_with_prices():
    svc = UsageService(Backend(), Reader(RECORDS), {"gold": Price(1.0, 2.0)})
    by_sub = {r.key: r.to_json() for r in svc.report(START, END, "subscription").rows}
    assert by_sub["a"]["cost"] == pytest.approx(1.0 + 6.0) and by_sub["a"]["owner"] == "alice"
    assert by_sub["b"]["product"] == "gold"  # from the subscription's scope when the metric lacks it
    assert by_sub["c"]["cost"] is None and by_sub["gone"]["owner"] == ""
    by_product = svc.report(START, END, "product")
    gold = next(r for r in by_product.rows if r.key == "gold")
    assert gold.total_tokens == 8000 and gold.requests == 15 and gold.subscriptions == {"a", "b"}
    assert by_product.totals["total_tokens"] == 9010 and by_product.totals["refused"] is None
    owners = {r.key: r.total_tokens for r in svc.report(START, END, "owner").rows}
    assert owners == {"alice": 5000, "bob": 4000, "(no owner)": 10}


def test_refusals_and_csv():
    records = [rec("a", "gold", 10, 10, 4, refused=2), rec("=cmd", "gold", 1, 1, 1, refused=0)]
    report = UsageService(Backend(), Reader(records, known=True)).report(START, END, "subscription")
    assert report.totals["refused"] == 2
    text = report.to_csv().splitlines()
    assert text[0].startswith("key,display_name,subscriptions,product,owner,prompt_tokens")
    assert any(line.startswith("'=cmd") for line in text)  # no spreadsheet formula from a server string


def test_parsing_prices_and_dates():
    assert parse_price("gold=0.5") == ("gold", Price(0.5, 0.5))
    assert parse_price("gold=0.25/1") == ("gold", Price(0.25, 1.0))
    for bad in ("gold", "=1", "gold=x", "gold=-1"):
        with pytest.raises(UsageError):
            parse_price(bad)
    assert parse_when("2026-11-30", end_of_day=True) == datetime(2026, 12, 1, tzinfo=UTC)
    assert parse_when("2026-11-30T08:00:00Z") == datetime(2026, 11, 30, 8, tzinfo=UTC)
    assert parse_when("2026-11-30T09:00+01:00") == datetime(2026, 11, 30, 8, tzinfo=UTC)
    for bad in ("2026-11-30T08:00:00", "30/11/2026"):
        with pytest.raises(UsageError):
            parse_when(bad)
    with pytest.raises(UsageError, match="too far"):  # not an OverflowError reported as a bug
        parse_when("9999-12-31", end_of_day=True)
    with pytest.raises(UsageError):
        UsageService(Backend(), Reader([])).report(START, END, "team")
