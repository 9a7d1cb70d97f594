"""Azure Monitor batch-metrics semantics over the metric store: parsing, splitting, bucketing.

Pure functions, no HTTP, so the tricky parts (the ``filter`` grammar, ``top``/``orderby``,
interval alignment) are testable alone. The grammar is Azure's: ``Dim eq 'v'`` clauses joined
by ``and``/``or``; ``or`` only between values of one dimension; ``'*'`` means "split by this
dimension"; every dimension named in the filter is a split dimension of the answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiconsole.sandbox.clock import parse_instant, parse_iso_duration

AGGREGATIONS = ("total", "count", "average", "minimum", "maximum")
_CLAUSE = re.compile(r"^\s*(?P<name>.+?)\s+eq\s+'(?P<value>(?:[^']|'')*)'\s*$", re.IGNORECASE)


class QueryError(ValueError):
    """The query is invalid; answered 400 with Azure Monitor's error shape."""

    def __init__(self, message: str, code: str = "BadRequest") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Query:
    start: datetime
    end: datetime
    interval_seconds: int | None  # None: FULL
    interval_text: str
    aggregations: tuple[str, ...]
    filters: dict[str, set[str] | None]  # dimension (as written) -> allowed values, None for '*'
    top: int
    order_by: tuple[str, bool]  # aggregation, descending


def parse_interval(text: str | None) -> tuple[int | None, str]:
    """Seconds of an ISO 8601 duration (whole minutes, at least PT1M) or None for FULL."""
    if not text:
        return 60, "PT1M"
    if text.upper() == "FULL":
        return None, "FULL"
    span = parse_iso_duration(text)
    if span is None:
        raise QueryError(f"Invalid interval {text!r}: use an ISO 8601 duration such as PT1M, PT5M, PT1H or P1D.")
    seconds = span.total_seconds()
    if seconds < 60 or seconds % 60:
        raise QueryError(f"Invalid interval {text!r}: the finest grain is PT1M, in whole minutes.")
    return int(seconds), text.upper()


def parse_filter(text: str | None) -> dict[str, set[str] | None]:
    if not text or not text.strip():
        return {}
    parts = re.split(r"\s+(and|or)\s+", text.strip(), flags=re.IGNORECASE)
    clauses = parts[0::2]
    joins = [j.lower() for j in parts[1::2]]
    filters: dict[str, set[str] | None] = {}
    previous: str | None = None
    for i, clause in enumerate(clauses):
        m = _CLAUSE.match(clause.replace("%2528", "(").replace("%2529", ")"))
        if not m:
            raise QueryError(f"Invalid filter clause {clause.strip()!r}: expected Name eq 'value'.")
        name, value = m["name"].strip(), m["value"].replace("''", "'")
        if i > 0 and joins[i - 1] == "or" and (previous or "").lower() != name.lower():
            raise QueryError("The 'or' operator cannot separate two different metadata names.")
        key = next((k for k in filters if k.lower() == name.lower()), name)
        if value == "*":
            filters[key] = None
        elif filters.get(key, set()) is not None:
            filters.setdefault(key, set()).add(value)  # type: ignore[union-attr]
        previous = name
    return filters


def parse_query(params: dict[str, str], now: datetime) -> Query:
    try:
        end = parse_instant(params["endtime"]) if params.get("endtime") else now
        start = parse_instant(params["starttime"]) if params.get("starttime") else end - timedelta(hours=1)
    except ValueError as exc:
        raise QueryError(f"Invalid starttime or endtime: {exc}.") from None
    if start >= end:
        raise QueryError("starttime must be before endtime.")
    if end - start > timedelta(days=30):
        raise QueryError("The time span may be at most 30 days.")
    seconds, interval_text = parse_interval(params.get("interval"))
    aggs = tuple(a.strip().lower() for a in (params.get("aggregation") or "total").split(",") if a.strip())
    aggs = tuple("total" if a == "sum" else a for a in aggs)
    bad = [a for a in aggs if a not in AGGREGATIONS]
    if bad:
        raise QueryError(f"Invalid aggregation {bad[0]!r}: use {', '.join(AGGREGATIONS)}.")
    try:
        top = int(params.get("top") or 10)
    except ValueError:
        raise QueryError("top must be an integer.") from None
    if top < 1:
        raise QueryError("top must be at least 1.")
    order = (params.get("orderby") or "").strip().lower().split()
    order_agg = {"sum": "total"}.get(order[0], order[0]) if order else aggs[0]
    if order_agg not in AGGREGATIONS:
        raise QueryError(f"Invalid orderby {params.get('orderby')!r}.")
    descending = not (len(order) > 1 and order[1] == "asc")
    return Query(start, end, seconds, interval_text, aggs, parse_filter(params.get("filter")), top, (order_agg, descending))


class _Acc:
    __slots__ = ("count", "total", "minimum", "maximum")

    def __init__(self) -> None:
        self.count, self.total, self.minimum, self.maximum = 0, 0.0, float("inf"), float("-inf")

    def merge(self, count: int, total: float, minimum: float, maximum: float) -> None:
        self.count += count
        self.total += total
        self.minimum = min(self.minimum, minimum)
        self.maximum = max(self.maximum, maximum)


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_timeseries(
    query: Query,
    rows: Iterable[tuple[int, dict[str, str], tuple[int, float, float, float]]],
    dimension_names: Iterable[str],
) -> list[dict]:
    """Group ``(minute, dimensions, (count, total, min, max))`` rows into Azure's timeseries.

    ``dimension_names`` are the names this metric knows (matched case-insensitively); a filter on
    another name is an error, as in Azure.
    """
    known = {n.lower(): n for n in dimension_names}
    for name in query.filters:
        if name.lower() not in known:
            raise QueryError(f"Metric does not have dimension {name!r}.")
    split = [known[n.lower()] for n in query.filters]
    start_ts = int(query.start.timestamp() // 60 * 60)
    end_ts = query.end.timestamp()
    width = query.interval_seconds or max(60, int(end_ts - start_ts))
    series: dict[tuple[str, ...], dict[int, _Acc]] = {}
    for minute, dims, (count, total, minimum, maximum) in rows:
        if minute < start_ts or minute >= end_ts:
            continue
        lowered = {k.lower(): v for k, v in dims.items()}
        values = []
        for name, allowed in query.filters.items():
            value = lowered.get(name.lower(), "")
            if allowed is not None and value not in allowed:
                break
            values.append(value)
        else:
            slot = start_ts + ((minute - start_ts) // width) * width
            acc = series.setdefault(tuple(values), {}).setdefault(slot, _Acc())
            acc.merge(count, total, minimum, maximum)
    slots = list(range(start_ts, int(end_ts), width)) or [start_ts]

    def point(slot: int, acc: _Acc | None) -> dict:
        p: dict = {"timeStamp": _iso(datetime.fromtimestamp(slot, UTC))}
        for agg in query.aggregations:
            if agg == "total":
                p["total"] = acc.total if acc else 0.0
            elif agg == "count":
                p["count"] = float(acc.count) if acc else 0.0
            elif acc and acc.count:
                p[agg] = {"average": acc.total / acc.count, "minimum": acc.minimum, "maximum": acc.maximum}[agg]
        return p

    def rank(buckets: dict[int, _Acc]) -> float:
        agg = query.order_by[0]
        accs = list(buckets.values())
        if agg == "count":
            return sum(a.count for a in accs)
        if agg == "minimum":
            return min(a.minimum for a in accs)
        if agg == "maximum":
            return max(a.maximum for a in accs)
        if agg == "average":
            n = sum(a.count for a in accs)
            return sum(a.total for a in accs) / n if n else 0.0
        return sum(a.total for a in accs)

    ordered = sorted(series.items(), key=lambda kv: (rank(kv[1]), kv[0]), reverse=query.order_by[1])
    if split:
        ordered = ordered[: query.top]
    if not split and not ordered:
        ordered = [((), {})]
    out = []
    for values, buckets in ordered:
        out.append({
            "metadatavalues": [
                {"name": {"value": name.lower(), "localizedValue": name}, "value": value}
                for name, value in zip(split, values)
            ],
            "data": [point(slot, buckets.get(slot)) for slot in slots],
        })
    return out
