"""Every reference policy (../shared/reference/policies): scan, find limits, edit byte-exactly."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timezone

import pytest

from aiconsole.policy import (
    OverrideCondition,
    add_limit,
    add_override,
    cleanup_expired,
    list_overrides,
    parse_condition,
    remove_attribute,
    remove_limit,
    remove_override,
    set_attribute,
)
from aiconsole.policy.limits import find_limits
from aiconsole.policy.tree import parse
from aiconsole.policy.xmltext import unescape
from tests.conftest import reference_dir
from tests.unit.policy._reference import POLICY_NAMES, WELL_FORMED_NAMES, read_policy

pytestmark = pytest.mark.reference


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_scan_reassembles_byte_identically(name):
    text = read_policy(name)
    doc = parse(text)
    assert doc.reassemble() == text
    assert doc.reassemble().encode("utf-8") == text.encode("utf-8")
    # tokens are contiguous: no gap, no overlap
    pos = 0
    for tok in doc.tokens:
        assert tok.span.start == pos
        pos = tok.span.end
    assert pos == len(text)
    assert doc.root is not None and doc.root.name == "policies"


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_every_limit_span_starts_with_its_tag(name):
    text = read_policy(name)
    for limit in find_limits(text, include_override_copies=True):
        body = limit.span.of(text)
        assert body == limit.text
        assert body.startswith("<" + limit.policy)
        assert body.endswith(">")
        assert limit.start_tag_span.start == limit.span.start
        for attr in limit.attributes:
            assert attr.span.of(text).startswith(attr.name)
            assert attr.value_span.of(text) == attr.raw


def test_which_reference_files_are_well_formed_xml():
    # shared/reference/README.md: 13 of the 39 files are well-formed XML, 26 are not
    reference_dir()
    assert len(POLICY_NAMES) == 39 and len(WELL_FORMED_NAMES) == 13


def test_known_limits_in_reference_files():
    found = {name: find_limits(read_policy(name)) for name in POLICY_NAMES}
    with_token_limits = sorted(n for n, ls in found.items() if any(lim.is_token_limit for lim in ls))
    assert with_token_limits == [
        "ai-foundry-deepseek__policy.xml",
        "aws-bedrock__policy.xml",
        "finops-framework__products-policy.xml",
        "openai-agents__inference-policy.xml",
        "progressive-policies-1__policy-3.xml",
        "token-rate-limiting__policy.xml",
        "zero-to-production__policy-3.xml",
        "zero-to-production__policy-4.xml",
    ]
    (tpm,) = found["progressive-policies-1__policy-3.xml"]
    assert tpm.tokens_per_minute.kind == "placeholder" and tpm.tokens_per_minute.value is None
    assert tpm.section == "inbound" and tpm.counter_key == "@(context.Subscription.Id)"
    (trl,) = found["token-rate-limiting__policy.xml"]
    assert trl.tokens_per_minute.value == 500 and trl.estimate_prompt_tokens is False
    assert trl.names == {"remaining-tokens-variable-name": "remainingTokens"}
    rl = found["Rate-limit-by-TPM.xml"]
    assert [lim.policy for lim in rl].count("rate-limit-by-key") == 5
    assert rl[0].path == ("policies", "inbound", "choose", "when[1]", "rate-limit-by-key[1]")
    assert rl[0].calls.value == 500 and rl[0].renewal_period.value == 60
    assert rl[0].counter_key == '@(String.Concat(context.Subscription.Id,"TPM"))'
    assert found["apim-purview-dlp__foundry-hrpolicy.policy.xml"][0].policy == "rate-limit-by-key"


# --- minimal edits on every limit of every file ------------------------------------------------

_NEW_VALUES = {
    "tokens-per-minute": "12345",
    "token-quota": "99999",
    "token-quota-period": "Weekly",
    "estimate-prompt-tokens": "true",
    "calls": "77",
    "renewal-period": "30",
    "counter-key": "@(context.Product.Id)",
}


def _new_value(name: str) -> str:
    return _NEW_VALUES.get(name, "@(true)" if name.startswith("increment") else "edited-name")


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_set_attribute_changes_only_that_value(name):
    text = read_policy(name)
    for limit in find_limits(text):
        for attr in limit.attributes:
            value = _new_value(attr.name)
            new = set_attribute(text, limit.index, attr.name, value, validate=False)
            start, end = attr.value_span.start, attr.value_span.end
            written = new[start : len(new) - (len(text) - end)]
            assert new[:start] == text[:start]
            assert new[len(new) - (len(text) - end) :] == text[end:]
            assert unescape(written) == value
            assert find_limits(new)[limit.index].get(attr.name) == value


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_new_attribute_is_only_inserted_after_the_last_one(name):
    text = read_policy(name)
    for limit in find_limits(text):
        last = limit.attributes[-1]
        new = set_attribute(text, limit.index, "retry-after-header-name", "x-retry", validate=False)
        at = last.span.end
        inserted = new[at : at + len(new) - len(text)]
        assert new == text[:at] + inserted + text[at:]
        assert inserted.lstrip(" \t\r\n") == f"retry-after-header-name={last.quote}x-retry{last.quote}"
        # removing it again gives back the original bytes
        assert remove_attribute(new, limit.index, "retry-after-header-name", validate=False) == text


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_remove_attribute_removes_only_it(name):
    text = read_policy(name)
    for limit in find_limits(text):
        attr = limit.attributes[-1]
        new = remove_attribute(text, limit.index, attr.name, validate=False)
        leading = next(a for a in parse(text).iter() if a.span == limit.span).attribute(attr.name).leading
        assert new == text[: leading.start] + text[attr.span.end :]


def _token_limits(text: str):
    return [lim for lim in find_limits(text) if lim.is_token_limit]


UNTIL = datetime(2026, 11, 24, 14, 0, tzinfo=timezone.utc)
LATER = datetime(2026, 11, 24, 18, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_override_then_remove_restores_exact_bytes(name):
    text = read_policy(name)
    for limit in _token_limits(text):
        one = add_override(text, limit.index, until=UNTIL, subscription="sub-1", tokens_per_minute=50000, author="ops", reason="incident 7")
        (ov,) = list_overrides(one.text)
        assert (ov.id, ov.kind, ov.subject, ov.expires) == (one.id, "subscription", "sub-1", UNTIL)
        assert ov.tokens_per_minute.value == 50000
        # the base limit is unchanged and is what find_limits reports at the same index
        base = find_limits(one.text)[limit.index]
        assert base.role == "base" and base.get("tokens-per-minute") == limit.get("tokens-per-minute")
        assert remove_override(one.text, one.id) == text
        two = add_override(one.text, limit.index, until=LATER, product="starter", tokens_per_minute=70000, author="ops")
        assert [o.id for o in list_overrides(two.text)] == [one.id, two.id]
        for first, second in ((one.id, two.id), (two.id, one.id)):
            assert remove_override(remove_override(two.text, first), second) == text
        cleaned, gone = cleanup_expired(two.text, LATER)
        assert cleaned == text and {o.id for o in gone} == {one.id, two.id}
        half, gone = cleanup_expired(two.text, UNTIL)
        assert [o.id for o in gone] == [one.id] and [o.id for o in list_overrides(half)] == [two.id]


@pytest.mark.parametrize("name", ["Rate-limit-by-TPM.xml", "circuitbreaker.xml"])
def test_crlf_files_keep_crlf_through_add_override_remove(name):
    text = read_policy(name)
    assert "\r\n" in text

    def lone_lf(s: str) -> int:
        return s.count("\n") - s.count("\r\n")

    added = add_limit(
        text,
        "llm-token-limit",
        {"counter-key": "@(context.Subscription.Id)", "tokens-per-minute": "1000", "estimate-prompt-tokens": "false"},
    )
    assert lone_lf(added) == lone_lf(text)
    (limit,) = _token_limits(added)
    base_line = next(ln for ln in added.split("\r\n") if "<base />" in ln)
    new_line = next(ln for ln in added.split("\r\n") if "<llm-token-limit" in ln)
    assert new_line[: len(new_line) - len(new_line.lstrip())] == base_line[: len(base_line) - len(base_line.lstrip())]
    over = add_override(added, limit.index, until=UNTIL, subscription="s1", tokens_per_minute=5000, author="a")
    assert lone_lf(over.text) == lone_lf(text)
    over2 = add_override(over.text, limit.index, until=LATER, subscription="s2", token_quota=10, token_quota_period="Daily")
    assert lone_lf(over2.text) == lone_lf(text)
    assert remove_override(remove_override(over2.text, over.id), over2.id) == added
    assert remove_limit(added, limit.index) == text


@pytest.mark.parametrize("name", WELL_FORMED_NAMES)
def test_xml_form_override_is_well_formed_and_in_grammar(name):
    text = read_policy(name)
    ET.fromstring(text.encode("utf-8"))
    for limit in _token_limits(text):
        out = add_override(text, limit.index, until=UNTIL, subscription="sub-1", tokens_per_minute=9, form="xml")
        root = ET.fromstring(out.text.encode("utf-8"))
        conds = [w.get("condition") for w in root.iter("when") if "DateTimeKind" in (w.get("condition") or "")]
        assert conds == [
            '@(context.Subscription.Id == "sub-1" && DateTime.UtcNow < new DateTime(2026, 11, 24, 14, 0, 0, DateTimeKind.Utc))'
        ]
        assert parse_condition(conds[0]) == OverrideCondition("subscription", "sub-1", UNTIL)
        assert "&quot;sub-1&quot; &amp;&amp; DateTime.UtcNow &lt; new" in out.text


def test_raw_form_override_is_written_raw():
    text = read_policy("progressive-policies-1__policy-3.xml")
    out = add_override(text, 0, until=UNTIL, product="gold", tokens_per_minute=100)
    assert '<when condition="@(context.Product.Id == "gold" && DateTime.UtcNow < new DateTime(2026, 11, 24, 14, 0, 0, DateTimeKind.Utc))">' in out.text
    # the {tpm} placeholder stays in the base and is replaced in the copy
    assert [lim.tokens_per_minute.text for lim in find_limits(out.text, include_override_copies=True)] == ["100", "{tpm}"]


def test_raw_reference_files_are_detected_as_raw():
    from aiconsole.policy import detect_form

    raw = [n for n in POLICY_NAMES if n not in WELL_FORMED_NAMES]
    assert len(raw) == 26
    assert all(detect_form(parse(read_policy(n))) == "rawxml" for n in raw)
    assert all(detect_form(parse(read_policy(n))) != "rawxml" for n in WELL_FORMED_NAMES)
