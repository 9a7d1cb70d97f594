"""Triage over plain data: rows per subscription/product/API, causes named from the binding limit
when the source cannot say, the headline, sorting, caches, and the glyphs the views draw."""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from aiconsole.domain.errors import UsageError
from aiconsole.services.triage import (
    LimitCache,
    LimitInfo,
    SubscriptionDirectory,
    aggregate,
    attach,
    format_rate,
    headline,
    parse_window,
    sort_rows,
    throttle_events,
    window_label,
)
from aiconsole.telemetry.glyphs import bar, sparkline
from aiconsole.telemetry.port import SeriesKey, TOKEN_RATE, UNCLASSIFIED_429, TrafficSnapshot, Usage

AT = datetime(2026, 1, 15, 9, 30, tzinfo=timezone.utc)


def snap(*usages: Usage, per_sub: bool = True) -> TrafficSnapshot:
    return TrafficSnapshot("prometheus", 60, AT, 2, "live", list(usages), per_subscription_status=per_sub)


def u(sid, product, api, tokens, ok=0.0, t429=0.0, t403=0.0):
    statuses = {s: v for s, v in ((200, ok), (429, t429), (403, t403)) if v}
    return Usage(SeriesKey(sid, product, api), tokens=tokens, requests=sum(statuses.values()), statuses=statuses)


def test_rows_fold_apis_and_products():
    s = snap(u("a", "p1", "llm", 100, ok=1), u("a", "p1", "aoai", 50, ok=1), u("b", "p1", "llm", 10, ok=1, t429=5))
    by_sub = {r.key: r for r in aggregate(s)}
    assert by_sub["a"].tokens_per_minute == 150 and by_sub["a"].product == "p1"
    by_product = {r.key: r for r in aggregate(s, "product")}
    assert by_product["p1"].tokens_per_minute == 160 and by_product["p1"].throttled_per_minute == 5
    by_api = {r.key: r for r in aggregate(s, "api")}
    assert set(by_api) == {"llm", "aoai"}
    with pytest.raises(ValueError):
        aggregate(s, "owner")


def test_unattributed_429s_are_named_from_the_binding_limit():
    rows = aggregate(snap(u("b", "starter", "llm", 10, ok=1, t429=6)))
    [row] = rows
    assert [c.reason for c in row.causes] == [UNCLASSIFIED_429]
    limits = LimitCache(lambda kind, name: LimitInfo(1000, None, None, "product:starter", "llm-token-limit"))
    limits.refresh([("subscription", "b")])
    attach(rows, limits, None)
    [cause] = row.causes
    assert (cause.reason, cause.scope, cause.inferred) == (TOKEN_RATE, "product:starter", True)
    [event] = throttle_events(rows)
    assert event.label == "token rate (429)" and event.limit_tokens_per_minute == 1000


def test_headline_counts_throttled_subscriptions_and_estimates_refused_tokens():
    rows = aggregate(snap(u("a", "p", "llm", 1000, ok=10, t429=5), u("b", "p", "llm", 0, t403=2),
                          u("c", "p", "llm", 500, ok=5)))
    h = headline(rows, 60)
    assert h.throttled_subscriptions == 2
    # a: 5 refused × 100 tokens per accepted request; b: 2 × the snapshot's average (1500/15)
    assert h.tokens_refused_per_minute == pytest.approx(5 * 100 + 2 * 100)
    assert h.text.startswith("2 subscriptions throttled, ≈700 tokens/min refused")


def test_sorts():
    rows = aggregate(snap(u("a", "p", "llm", 10, ok=1), u("b", "p", "llm", 5, ok=1, t429=3), u("c", "p", "llm", 90, ok=3)))
    assert [r.key for r in sort_rows(rows)] == ["b", "c", "a"]
    assert [r.key for r in sort_rows(rows, "tokens")] == ["c", "a", "b"]
    assert [r.key for r in sort_rows(rows, "name")] == ["a", "b", "c"]


def test_monitor_snapshots_do_not_pretend_zero_refusals():
    [row] = aggregate(snap(u("a", "p", "llm", 10, ok=1), per_sub=False))
    assert row.throttled_per_minute is None and format_rate(row.throttled_per_minute) == "–"


def test_limit_cache_reads_a_few_at_a_time_in_order_and_keeps_them():
    calls = []
    clock = [0.0]
    cache = LimitCache(lambda kind, name: calls.append(name) or LimitInfo(1), ttl=10, monotonic=lambda: clock[0])
    assert cache.refresh([("subscription", n) for n in "abcde"], limit=2) == 2
    assert calls == ["a", "b"]
    assert cache.refresh([("subscription", n) for n in "abcde"], limit=2) == 2
    assert calls == ["a", "b", "c", "d"]
    clock[0] = 11
    cache.refresh([("subscription", "a")], limit=5)
    assert calls[-1] == "a"


def test_vanished_subscription_is_marked_gone():
    sub = SimpleNamespace(name="a", owner="o", display_name="", state=SimpleNamespace(value="active"),
                          scope=SimpleNamespace(kind=SimpleNamespace(value="product"), id="p"))
    directory = SubscriptionDirectory(lambda: [sub])
    directory.refresh_if_due()
    rows = aggregate(snap(u("a", "p", "llm", 1, ok=1), u("ghost", "p", "llm", 1, ok=1)))
    attach(rows, None, directory)
    by = {r.key: r for r in rows}
    assert not by["a"].gone and by["a"].owner == "o"
    assert by["ghost"].gone


@pytest.mark.parametrize("text, seconds, label", [("30s", 30, "30s"), ("5m", 300, "5m"), ("1h", 3600, "60m"),
                                                  ("90", 90, "1m30s")])
def test_windows(text, seconds, label):
    assert parse_window(text) == seconds
    assert window_label(seconds) == label


@pytest.mark.parametrize("text", ["forever", "1s", "2h"])
def test_bad_windows(text):
    with pytest.raises(UsageError):
        parse_window(text)


def test_glyphs():
    assert sparkline([0, 1, 2, 4]) == " ▂▄█"
    assert sparkline([0, 0]) == "  "
    assert bar(0.55, 10) == "█████▌    "
    assert bar(1.2, 10) == "█████████!"
    assert bar(None, 4) == "    "
    assert format_rate(12345) == "12k" and format_rate(1234) == "1.2k" and format_rate(0.25) == "0.2"
