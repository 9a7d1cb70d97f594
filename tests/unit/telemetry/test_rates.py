"""Counters into rates: windows, restarts (never a negative rate), series born late, history."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiconsole.telemetry.rates import CounterTracker


def test_rate_over_the_window_is_per_minute():
    t = CounterTracker(spacing=1)
    t.observe(0, {"a": 100})
    t.observe(30, {"a": 130})
    rates, covered = t.rates(60)
    assert covered == 30
    assert rates == {"a": pytest.approx(60.0)}


def test_one_reading_gives_no_rate():
    t = CounterTracker()
    t.observe(0, {"a": 5})
    assert t.rates(60) == ({}, 0.0)


def test_a_reset_is_a_restart_not_a_negative_rate():
    t = CounterTracker(spacing=1)
    t.observe(0, {"a": 10})
    t.observe(30, {"a": 40})
    resets = t.observe(60, {"a": 5})  # the process restarted and counted 5 since
    assert resets == 1
    rates, covered = t.rates(60)
    assert covered == 60
    assert rates["a"] == pytest.approx(35.0)  # 30 before the restart + 5 after


def test_a_series_born_after_the_first_reading_counts_from_zero():
    t = CounterTracker(spacing=1)
    t.observe(0, {"a": 1})
    t.observe(60, {"a": 1, "b": 7})
    assert t.rates(60)[0] == {"b": pytest.approx(7.0)}


def test_series_at_the_first_reading_are_the_baseline():
    t = CounterTracker(spacing=1)
    t.observe(0, {"a": 1000})
    t.observe(60, {"a": 1000})
    assert t.rates(60)[0] == {}


def test_window_starts_at_the_newest_reading_before_it():
    t = CounterTracker(spacing=1)
    for i in range(0, 181, 10):
        t.observe(i, {"a": i * 2})  # 120 per minute
    rates, covered = t.rates(60)
    assert covered == 60
    assert rates["a"] == pytest.approx(120.0)


def test_garbage_values_are_ignored():
    t = CounterTracker(spacing=1)
    t.observe(0, {"a": 1})
    t.observe(60, {"a": float("nan"), "b": -3})
    assert t.rates(60)[0] == {}


def test_history_is_per_minute_and_oldest_first():
    t = CounterTracker(spacing=1)
    for i in range(0, 241, 5):
        t.observe(i, {"a": (i // 60) * 100 + (i % 60)})
    h = t.history(["a"], 3)["a"]
    assert len(h) == 3
    assert all(v >= 0 for v in h)
    assert sum(h) == pytest.approx(t.increases(180)["a"])


def test_checkpoints_are_pruned_beyond_what_is_kept():
    t = CounterTracker(keep_seconds=120, spacing=5)
    for i in range(0, 1000):
        t.observe(i, {"a": i})
    assert t.readings <= 120 / 5 + 3


@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=2, max_size=40))
def test_rates_are_never_negative_whatever_the_counter_does(values):
    t = CounterTracker(spacing=1)
    for i, v in enumerate(values):
        t.observe(i * 10, {"a": v})
    rates, _ = t.rates(10_000)
    assert all(r >= 0 for r in rates.values())
    for h in t.history(["a"], 15).values():
        assert all(v >= 0 for v in h)
