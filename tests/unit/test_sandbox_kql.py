"""The sandbox's KQL interpreter: weighted rows answer like the raw log, and what it cannot
answer is refused with Log Analytics' error kinds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiconsole.sandbox.logs.kql import KqlError, run

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
COLUMNS = {"TimeGenerated": "datetime", "Sub": "string", "Code": "int", "Backend": "int", "Source": "string"}


def table(rows):
    return {"Logs": (COLUMNS, lambda: list(rows))}


def answer(query, rows, max_rows=10_000):
    return run(query, table(rows), NOW, max_rows=max_rows)


def row(sub="a", code=200, backend=200, source="", minutes_ago=0):
    return {"TimeGenerated": NOW - timedelta(minutes=minutes_ago), "Sub": sub, "Code": code, "Backend": backend,
            "Source": source}


rows_strategy = st.lists(
    st.tuples(st.builds(row, sub=st.sampled_from(["a", "b", "c"]), code=st.sampled_from([200, 401, 403, 429]),
                        backend=st.sampled_from([None, 200, 429]), source=st.sampled_from(["", "llm-token-limit"]),
                        minutes_ago=st.integers(0, 90)),
              st.integers(1, 5)),
    max_size=25)

QUERIES = [
    "Logs | where Code in (401, 403, 429) | summarize n = count() by Sub, Code | order by n desc, Sub asc, Code asc",
    "Logs | where Code == 429 and isempty(Source) | summarize count() by Sub | order by Sub asc",
    "Logs | where TimeGenerated > ago(30m) or Backend == 429 | count",
    "Logs | summarize n = count(), subs = dcount(Sub), worst = max(Code) by bin(TimeGenerated, 15m) "
    "| order by TimeGenerated asc",
    "Logs | where not(Code == 200) | order by Code desc | take 7 | project Code",
    "Logs | summarize refused = countif(Code != 200), codes = sum(Code) by Sub | top 2 by refused",
]


@settings(max_examples=60, deadline=None)
@given(rows_strategy, st.sampled_from(QUERIES))
def test_weighted_rows_answer_like_the_rows_they_stand_for(weighted, query):
    expanded = [(r, 1) for r, w in weighted for _ in range(w)]
    assert answer(query, weighted) == answer(query, expanded)


def test_refusals_summarised_per_subscription():
    rows = [(row("a", 429, None, "llm-token-limit"), 3), (row("a", 200), 10), (row("b", 401, None), 2),
            (row("b", 429, 429), 1)]
    columns, out, cut = answer("Logs | where Code in (401, 403, 429) | summarize Requests = count() by Sub, Code "
                               "| order by Requests desc", rows)
    assert columns == {"Sub": "string", "Code": "int", "Requests": "long"} and not cut
    assert out == [{"Sub": "a", "Code": 429, "Requests": 3}, {"Sub": "b", "Code": 401, "Requests": 2},
                   {"Sub": "b", "Code": 429, "Requests": 1}]


def test_comparisons_strings_and_time():
    rows = [(row("Alpha-1", 200, minutes_ago=5), 1), (row("beta", 429, minutes_ago=50), 1)]
    assert answer('Logs | where Sub =~ "ALPHA-1" | count', rows)[1] == [{"Count": 1}]
    assert answer("Logs | where Sub startswith 'al' | count", rows)[1] == [{"Count": 1}]
    assert answer("Logs | where Sub has 'alpha' | count", rows)[1] == [{"Count": 1}]
    assert answer("Logs | where Sub !in ('beta') and Code < 300 | count", rows)[1] == [{"Count": 1}]
    assert answer("Logs | where TimeGenerated >= ago(10m) | project Sub", rows)[1] == [{"Sub": "Alpha-1"}]
    assert answer("Logs | where TimeGenerated < datetime(2026-11-24T11:30:00Z) | project Sub", rows)[1] == [{"Sub": "beta"}]


def test_an_answer_past_the_row_limit_is_cut_and_says_so():
    _, out, cut = answer("Logs", [(row(), 50)], max_rows=20)
    assert len(out) == 20 and cut


def test_empty_summarize_without_keys_still_answers_one_row():
    assert answer("Logs | summarize n = count()", [])[1] == [{"n": 0}]


@pytest.mark.parametrize("query,kind,words", [
    ("Nope | count", "SemanticError", "Nope"),
    ("Logs | where Missing == 1", "SemanticError", "Missing"),
    ("Logs | extend x = 1", "SemanticError", "extend"),
    ("Logs | where Code ==", "SyntaxError", "literal"),
    ("Logs | take many", "SyntaxError", "whole number"),
    ("Logs | count extra", "SyntaxError", "extra"),
    ("Logs | where Code == 1 ^", "SyntaxError", "parsed"),
    ("Logs | summarize median(Code)", "SemanticError", "median"),
])
def test_what_it_cannot_answer_is_refused_in_words(query, kind, words):
    with pytest.raises(KqlError) as err:
        answer(query, [(row(), 1)])
    assert err.value.kind == kind and words in str(err.value)


PIECES = ["Logs", "|", "where", "summarize", "order", "sort", "by", "take", "top", "project", "count", "count()",
          "sum(", "min(", "dcount(", "countif(", "bin(", "isempty(", "not(", "(", ")", ",", "=", "==", "!=", ">",
          "<=", "=~", "in", "!in", "has", "and", "or", "asc", "desc", "Sub", "Code", "Backend", "TimeGenerated",
          "Source", "n", "'a'", '"x"', "5", "1.5", "5m", "ago(1h)", "datetime(2026-11-24T00:00:00Z)", "true", "^"]


COLS = ["Sub", "Code", "Backend", "TimeGenerated", "Source"]
LITERALS = ["'a'", "5", "1.5", "5m", "ago(1h)", "datetime(2026-11-24T00:00:00Z)", "true"]
clause = st.one_of(
    st.builds("| where {} {} {}".format, st.sampled_from(COLS),
              st.sampled_from(["==", "!=", ">", "<=", "=~", "has", "contains", "startswith"]), st.sampled_from(LITERALS)),
    st.builds("| where {} in ({}, {})".format, st.sampled_from(COLS), st.sampled_from(LITERALS), st.sampled_from(LITERALS)),
    st.builds("| summarize x = {}({}) by {}".format, st.sampled_from(["sum", "min", "max", "dcount"]),
              st.sampled_from(COLS), st.sampled_from(COLS)),
    st.builds("| order by {} {}".format, st.sampled_from(COLS + ["x"]), st.sampled_from(["asc", "desc", ""])),
    st.builds(" ".join, st.lists(st.sampled_from(PIECES), max_size=6)),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(clause, max_size=4))
def test_any_query_is_answered_or_refused_in_words(clauses):
    """Whatever is sent, the answer is rows or a KqlError (a 400), never a crash (a 500)."""
    try:
        answer(" ".join(["Logs", *clauses]), [(row("a", 429, None, "x"), 2), (row("b", 200), 1)])
    except KqlError as exc:
        assert str(exc)


@pytest.mark.parametrize("query", ["Logs | where Sub > 5", "Logs | where TimeGenerated > 5",
                                   "Logs | where Code > ago(1h)", "Logs | summarize sum(Sub)",
                                   "Logs | where Code has 'x'", "Logs | where Sub in (1, 2)"])
def test_mismatched_types_are_a_semantic_error(query):
    with pytest.raises(KqlError) as err:
        answer(query, [(row(), 1)])
    assert err.value.kind == "SemanticError"
