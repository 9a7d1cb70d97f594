"""Durations (--wait-idle, --within) and dates (--expires) as people type them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from aiconsole.domain.errors import UsageError
from aiconsole.services.durations import format_duration, parse_date, parse_duration


@pytest.mark.parametrize("text, seconds", [
    ("90", 90), ("90s", 90), ("10m", 600), ("1h30m", 5400), ("7d", 604800), ("2w", 1209600), ("0.5s", 0.5),
    (" 10M ", 600),
])
def test_durations(text, seconds):
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "ten minutes", "10x", "m10", "1h 30m", "-5m"])
def test_bad_durations(text):
    with pytest.raises(UsageError, match="not a duration"):
        parse_duration(text)


def test_format_duration_round_trips():
    assert format_duration(timedelta(seconds=5400)) == "1h30m"
    assert format_duration(timedelta(0)) == "0s"
    assert parse_duration(format_duration(timedelta(days=1, seconds=61))) == timedelta(days=1, seconds=61)


def test_dates_are_utc():
    assert parse_date("2026-12-31") == datetime(2026, 12, 31, tzinfo=timezone.utc)
    assert parse_date("2026-12-31T18:00Z") == datetime(2026, 12, 31, 18, tzinfo=timezone.utc)
    assert parse_date("2026-12-31T18:00+02:00") == datetime(2026, 12, 31, 16, tzinfo=timezone.utc)
    assert parse_date("2026-12-31T18:00") == datetime(2026, 12, 31, 18, tzinfo=timezone.utc)
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert parse_date("+30d", now=now) == datetime(2026, 1, 31, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["tomorrow", "31/12/2026", "2026-13-01", "+soon"])
def test_bad_dates(text):
    with pytest.raises(UsageError):
        parse_date(text)
