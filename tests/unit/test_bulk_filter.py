"""The bulk filter expression: parsing, server-side $filter, client-side matching."""

from __future__ import annotations

import pytest

from aiconsole.domain.errors import UsageError
from aiconsole.domain.models import Scope, Subscription, SubscriptionState
from aiconsole.services.bulk import parse_filter


def sub(name="s1", display="Team Alpha", state="active", scope="/products/starter", owner="/users/alice"):
    return Subscription(name=name, display_name=display, state=SubscriptionState(state), scope=Scope.parse(scope),
                        owner_id=owner)


def test_terms_with_spaces_and_commas():
    expr = parse_filter("product:starter, owner:alice state:active,name~alpha")
    assert expr.clauses == {"product": ["starter"], "owner": ["alice"], "state": ["active"], "name": ["alpha"]}


def test_quoted_values_keep_spaces():
    expr = parse_filter('name~"team alpha" state:active')
    assert expr.clauses["name"] == ["team alpha"]
    assert expr.matches(sub())


def test_repeated_key_is_any_of_and_keys_are_all_of():
    expr = parse_filter("state:active state:suspended product:starter")
    assert expr.matches(sub(state="suspended"))
    assert not expr.matches(sub(state="cancelled"))
    assert not expr.matches(sub(scope="/products/premium"))


def test_odata_only_for_single_values():
    assert parse_filter("state:active product:starter").odata() == "state eq 'active' and productId eq 'starter'"
    assert parse_filter("state:active state:suspended").odata() is None
    assert parse_filter("owner:bob@example.com").odata() is None  # email: resolved to an id first
    assert parse_filter('owner:"o\'brien"').odata() == "userId eq 'o''brien'"


def test_matching_is_case_insensitive_and_name_matches_sid_too():
    assert parse_filter("product:STARTER owner:Alice").matches(sub())
    assert parse_filter("name~ALP").matches(sub())
    assert parse_filter("name~s1").matches(sub())
    assert not parse_filter("name~beta").matches(sub())


def test_api_scope_and_owner_by_email():
    s = sub(scope="/apis/openai", owner="/users/u42")
    assert parse_filter("api:openai").matches(s)
    assert not parse_filter("product:openai").matches(s)
    assert parse_filter("owner:a@x.io").matches(s, owner_ids={"a@x.io": "u42"})


@pytest.mark.parametrize("text, fragment", [
    ("", "empty"),
    ("starter", "not a filter term"),
    ("colour:red", "not a filter key"),
    ("name:alpha", "name~"),
    ("product~start", "exact match"),
    ("state:sleeping", "not a subscription state"),
    ("product:", "no value"),
    ('name~"open', "unclosed quote"),
])
def test_bad_expressions_say_what_is_wrong(text, fragment):
    with pytest.raises(UsageError) as err:
        parse_filter(text)
    assert fragment in str(err.value)
    assert err.value.exit_code == 2
