"""The $filter subset: parsing, operators, functions, id candidates and errors."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from aiconsole.sandbox.odata import EQ_ONLY, Field, FilterError, compile_filter


@dataclass
class Row:
    name: str
    display: str | None
    state: str
    when: float
    owner: str | None


ROWS = [
    Row("a1", "Search prod 1", "active", 100.0, "alice"),
    Row("b2", "Search dev 2", "suspended", 200.0, "bob"),
    Row("c3", "Fraud PROD 3", "active", 300.0, None),
    Row("d4", None, "cancelled", 400.0, "alice"),
    Row("e5", "O'Brien's bot", "active", 500.0, "eve"),
]
FIELDS = {
    "name": Field(lambda r: r.name),
    "displayName": Field(lambda r: r.display),
    "state": Field(lambda r: r.state, EQ_ONLY),
    "created": Field(lambda r: r.when, ("ge", "le", "gt", "lt", "eq", "ne"), kind="date"),
    "ownerId": Field(lambda r: [r.owner, f"/users/{r.owner}"] if r.owner else [None]),
}


def names(expr: str) -> list[str]:
    keep = compile_filter(expr, FIELDS)
    return [r.name for r in ROWS if keep(r)]


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("contains(displayName,'prod')", ["a1", "c3"]),
        ("startswith(displayName, 'search')", ["a1", "b2"]),
        ("endswith(displayName,'3')", ["c3"]),
        ("substringof('dev', displayName)", ["b2"]),
        ("displayName eq 'search PROD 1'", ["a1"]),
        ("state eq 'active' and contains(displayName,'prod')", ["a1", "c3"]),
        ("state eq 'suspended' or state eq 'cancelled'", ["b2", "d4"]),
        ("not (state eq 'active')", ["b2", "d4"]),
        ("ownerId eq '/users/alice'", ["a1", "d4"]),
        ("ownerId eq 'alice'", ["a1", "d4"]),
        ("ownerId ne 'alice'", ["b2", "c3", "e5"]),
        ("displayName eq null", ["d4"]),
        ("name gt 'c3'", ["d4", "e5"]),
        ("contains(displayName,'O''Brien')", ["e5"]),
        ("", ["a1", "b2", "c3", "d4", "e5"]),
    ],
)
def test_filters_select_what_they_say(expr, expected):
    assert names(expr) == expected


def test_dates_compare_as_instants():
    fields = {"when": Field(lambda r: r, ("ge", "lt"), kind="date")}
    keep = compile_filter("when ge 2020-01-02T00:00:00Z and when lt 2020-01-03", fields)
    assert keep(1577923200.0) and not keep(1577923199.0) and not keep(1578009600.0)


@pytest.mark.parametrize(
    "expr",
    [
        "bogus eq 'x'",
        "state ne 'active'",  # state allows eq only, as documented
        "contains(state,'act')",
        "displayName eq",
        "displayName eq 'x' and",
        "(displayName eq 'x'",
        "displayName ~ 'x'",
        "displayName eq 'unterminated",
        "contains(displayName, 3)",
    ],
)
def test_invalid_filters_raise_a_plain_error(expr):
    with pytest.raises(FilterError) as err:
        compile_filter(expr, FIELDS)
    assert str(err.value).startswith("Invalid filter")
