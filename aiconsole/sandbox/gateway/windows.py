"""Fixed UTC windows for quotas: where the current period started and when it ends.

``token-quota-period`` windows are the UTC time truncated to the unit (hour, day, ISO week
starting Monday, month, year); ``quota-by-key`` windows are ``renewal-period`` seconds long,
counted from ``first-period-start``. Both are pure functions of the instant so the injectable
clock moves them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def token_quota_window(period: str, now: datetime) -> tuple[datetime, datetime]:
    """``(start, end)`` of the fixed window of ``period`` that contains ``now`` (UTC)."""
    now = now.astimezone(UTC)
    if period == "Hourly":
        start = now.replace(minute=0, second=0, microsecond=0)
        return start, start + timedelta(hours=1)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "Daily":
        return day, day + timedelta(days=1)
    if period == "Weekly":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    if period == "Monthly":
        start = day.replace(day=1)
        end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
        return start, end
    if period == "Yearly":
        start = day.replace(month=1, day=1)
        return start, start.replace(year=start.year + 1)
    raise ValueError(f"unknown quota period {period!r}")


def renewal_window(first_start: datetime, period_seconds: int, now: datetime) -> tuple[datetime, datetime]:
    """``(start, end)`` of the ``period_seconds`` window, counted from ``first_start``, holding ``now``."""
    elapsed = (now - first_start).total_seconds()
    index = int(elapsed // period_seconds)
    start = first_start + timedelta(seconds=index * period_seconds)
    return start, start + timedelta(seconds=period_seconds)
