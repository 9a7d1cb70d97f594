"""Time-boxed overrides: shape, grammar, listing, removal, cleanup and base edits."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from aiconsole.policy import (
    LimitNotFoundError,
    LimitValidationError,
    OverrideCondition,
    add_override,
    build_condition,
    cleanup_expired,
    find_limits,
    list_overrides,
    parse_condition,
    remove_limit,
    remove_override,
    set_attribute,
)
from aiconsole.policy.blocks import format_marker, parse_marker, sanitize_reason

DOC = (
    "<policies>\n"
    "    <inbound>\n"
    "        <base />\n"
    '        <llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="5000" estimate-prompt-tokens="false" />\n'
    "    </inbound>\n"
    "</policies>\n"
)
T = datetime(2026, 11, 24, 14, 0, tzinfo=timezone.utc)
GRAMMAR = re.compile(
    r'@\(context\.(Subscription|Product)\.Id == "[^"]+" && DateTime\.UtcNow < new DateTime\(\d{4}, \d+, \d+, \d+, \d+, \d+, DateTimeKind\.Utc\)\)'
)


def test_first_override_wraps_the_limit_exactly_as_designed():
    out = add_override(DOC, 0, until=T, subscription="sub1", tokens_per_minute=20000, author="alice", reason="INC-1", override_id="ov-1", form="xml")
    expected = DOC.replace(
        '        <llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="5000" estimate-prompt-tokens="false" />\n',
        "        <choose>\n"
        '            <when condition="@(context.Subscription.Id == &quot;sub1&quot; &amp;&amp; DateTime.UtcNow &lt; new DateTime(2026, 11, 24, 14, 0, 0, DateTimeKind.Utc))">\n'
        "                <!-- aiconsole-override id=ov-1 expires=2026-11-24T14:00:00Z author=alice reason=INC-1 -->\n"
        '                <llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="20000" estimate-prompt-tokens="false" />\n'
        "            </when>\n"
        "            <otherwise>\n"
        '                <llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="5000" estimate-prompt-tokens="false" />\n'
        "            </otherwise>\n"
        "        </choose>\n",
    )
    assert out == (expected, "ov-1")


def test_condition_grammar_round_trips():
    cond = build_condition("product", "gold-tier", T + timedelta(seconds=7, microseconds=5))
    assert GRAMMAR.fullmatch(cond)
    parsed = parse_condition(cond)
    assert parsed == OverrideCondition("product", "gold-tier", T + timedelta(seconds=7))
    assert parsed.matches(subscription_id="x", product_id="gold-tier", now=T)
    assert not parsed.matches(subscription_id="x", product_id="gold-tier", now=T + timedelta(seconds=7))
    assert parse_condition(cond.replace('"', "&quot;").replace("&&", "&amp;&amp;").replace("<", "&lt;")) == parsed
    assert parse_condition('@(context.Subscription.Id == "a" || true)') is None
    with pytest.raises(ValueError):
        build_condition("subscription", "a", datetime(2026, 1, 1))


@pytest.mark.parametrize("bad", ['a"b', "a b", "a\\b", "", "a<b", "x\n"])
def test_subject_ids_that_could_escape_are_refused(bad):
    with pytest.raises(LimitValidationError):
        add_override(DOC, 0, until=T, subscription=bad, tokens_per_minute=5)


def test_marker_sanitises_reason_and_author():
    marker = format_marker("ov-1", T, "Alice Smith", "spike -- from\nteam\x1b[31m red -->")
    assert marker.count("--") == 2 and "\n" not in marker and "\x1b" not in marker
    fields = parse_marker(marker[4:-3])
    assert fields["author"] == "Alice_Smith"
    assert fields["reason"] == "spike - from team [31m red ->"
    assert sanitize_reason("-" * 10) == ""


def test_listing_and_active_at():
    one = add_override(DOC, 0, until=T, subscription="s1", tokens_per_minute=9000, author="a", reason="r")
    two = add_override(one.text, 0, until=T + timedelta(hours=2), product="p1", token_quota=100, token_quota_period="Daily")
    ovs = list_overrides(two.text)
    assert [(o.id, o.kind, o.subject) for o in ovs] == [(one.id, "subscription", "s1"), (two.id, "product", "p1")]
    assert ovs[0].tokens_per_minute.value == 9000 and ovs[0].token_quota is None
    assert ovs[1].tokens_per_minute.value == 5000 and ovs[1].token_quota.value == 100
    now = T + timedelta(minutes=1)
    assert [o.active_at(now) for o in ovs] == [False, True]
    d = ovs[0].to_dict(now)
    assert d["subscription"] == "s1" and d["expires"] == "2026-11-24T14:00:00Z" and d["active"] is False
    (base,) = find_limits(two.text)
    assert base.role == "base" and base.override_ids == (one.id, two.id)
    assert len(find_limits(two.text, include_override_copies=True)) == 3


def test_refusals():
    with pytest.raises(LimitValidationError, match="exactly one"):
        add_override(DOC, 0, until=T, tokens_per_minute=5)
    with pytest.raises(LimitValidationError, match="needs a raised"):
        add_override(DOC, 0, until=T, subscription="s")
    with pytest.raises(LimitValidationError, match="positive whole number"):
        add_override(DOC, 0, until=T, subscription="s", tokens_per_minute=0)
    with pytest.raises(LimitValidationError, match="needs token-quota-period"):
        add_override(DOC, 0, until=T, subscription="s", token_quota=5)
    with pytest.raises(LimitValidationError, match="not in the future"):
        add_override(DOC, 0, until=T, subscription="s", tokens_per_minute=5, now=T)
    with pytest.raises(LimitValidationError, match="time zone"):
        add_override(DOC, 0, until=datetime(2026, 1, 1), subscription="s", tokens_per_minute=5)
    rl = DOC.replace(
        '<llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="5000" estimate-prompt-tokens="false" />',
        '<rate-limit calls="5" renewal-period="60" />',
    )
    with pytest.raises(LimitValidationError, match="Overrides raise token limits"):
        add_override(rl, 0, until=T, subscription="s", tokens_per_minute=5)
    one = add_override(DOC, 0, until=T, subscription="s", tokens_per_minute=6)
    with pytest.raises(LimitValidationError, match="already has override"):
        add_override(one.text, 0, until=T + timedelta(hours=1), subscription="s", tokens_per_minute=7)
    # once expired, a new one for the same subscription is fine
    later = add_override(one.text, 0, until=T + timedelta(hours=1), subscription="s", tokens_per_minute=7, now=T)
    assert len(list_overrides(later.text)) == 2
    with pytest.raises(LimitNotFoundError):
        remove_override(one.text, "ov-nope")


def test_editing_a_wrapped_limit_edits_the_base_and_shared_values():
    one = add_override(DOC, 0, until=T, subscription="s", tokens_per_minute=9000)
    edited = set_attribute(one.text, 0, "tokens-per-minute", "6000")
    copy, base = find_limits(edited, include_override_copies=True)
    assert (copy.role, copy.tokens_per_minute.value) == ("override", 9000)
    assert (base.role, base.tokens_per_minute.value) == ("base", 6000)
    edited = set_attribute(edited, 0, "estimate-prompt-tokens", "true")
    assert [lim.estimate_prompt_tokens for lim in find_limits(edited, include_override_copies=True)] == [True, True]
    # removing the last override leaves the edited base, in the original place and layout
    assert remove_override(edited, one.id) == DOC.replace('"5000" estimate-prompt-tokens="false"', '"6000" estimate-prompt-tokens="true"')


def test_remove_limit_with_overrides_removes_the_block():
    one = add_override(DOC, 0, until=T, subscription="s", tokens_per_minute=9000)
    assert remove_limit(one.text, 0) == remove_limit(DOC, 0)


def test_cleanup_removes_only_expired():
    one = add_override(DOC, 0, until=T, subscription="s", tokens_per_minute=9000)
    two = add_override(one.text, 0, until=T + timedelta(hours=1), subscription="t", tokens_per_minute=9000)
    text, gone = cleanup_expired(two.text, T - timedelta(seconds=1))
    assert text == two.text and gone == []
    text, gone = cleanup_expired(two.text, T)
    assert [o.id for o in gone] == [one.id] and [o.id for o in list_overrides(text)] == [two.id]
    text, gone = cleanup_expired(text, T + timedelta(hours=1))
    assert text == DOC


def test_a_hand_edited_block_is_not_ours():
    one = add_override(DOC, 0, until=T, subscription="s", tokens_per_minute=9000)
    tampered = one.text.replace("aiconsole-override", "someone-else")
    assert list_overrides(tampered) == []
    assert [lim.role for lim in find_limits(tampered)] == ["plain", "plain"]


def test_the_sandbox_gateway_evaluates_the_conditions_we_write():
    conditions = pytest.importorskip("aiconsole.sandbox.gateway.conditions")
    cond = build_condition("subscription", "sub-1", T)
    predicate = conditions.compile_condition(cond)
    ctx = conditions.ConditionContext
    assert predicate(ctx(subscription_id="sub-1", product_id=None, now=T - timedelta(seconds=1)))
    assert not predicate(ctx(subscription_id="sub-1", product_id=None, now=T))
    assert not predicate(ctx(subscription_id="sub-2", product_id=None, now=T - timedelta(hours=1)))
    by_product = conditions.compile_condition(build_condition("product", "gold", T))
    assert by_product(ctx(subscription_id="x", product_id="gold", now=T - timedelta(minutes=5)))


def test_naive_times_are_refused_not_guessed():
    one = add_override(DOC, 0, until=T, subscription="s", tokens_per_minute=9000)
    (ov,) = list_overrides(one.text)
    with pytest.raises(ValueError):
        ov.active_at(datetime(2026, 11, 24, 13, 0))
    with pytest.raises(ValueError):
        cleanup_expired(one.text, datetime(2026, 11, 24, 13, 0))


def test_hand_written_marker_text_is_cleaned_when_read():
    one = add_override(DOC, 0, until=T, subscription="s", tokens_per_minute=9000, reason="ok")
    tampered = one.text.replace("reason=ok", "reason=ok\x1b]52;c;evil\x07 now")
    (ov,) = list_overrides(tampered)
    assert "\x1b" not in ov.reason and "\x07" not in ov.reason
