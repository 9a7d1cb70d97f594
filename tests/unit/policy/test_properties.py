"""Property tests on generated documents (both forms, LF and CRLF, any attribute layout).

Example counts are kept small enough for the whole policy suite to run in a few seconds;
each target says its own count in its ``settings``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiconsole.policy import (
    PolicySyntaxError,
    add_limit,
    add_override,
    cleanup_expired,
    find_limits,
    list_overrides,
    parse,
    remove_limit,
    remove_override,
    set_attribute,
    validate_document,
)
from aiconsole.policy.xmltext import unescape
from tests.unit.policy.strategies import GARBAGE, policy_documents

# Generating documents is the slow part (not the code under test), hence the modest counts.
# No per-example deadline for generated documents (a loaded CI machine would make it flaky);
# the malformed-input targets keep one, generous, so a hang still fails instead of stalling.
COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
MALFORMED = dict(COMMON, deadline=5000)
UNTIL = datetime(2026, 11, 24, 14, 0, tzinfo=timezone.utc)


@settings(max_examples=100, **COMMON)
@given(policy_documents())
def test_generated_documents_round_trip_and_limits_are_found(gen):
    doc = parse(gen.text)
    assert doc.reassemble() == gen.text
    if gen.well_formed:
        # the tolerant scanner reads a well-formed document exactly as a strict parser does
        root = ET.fromstring(gen.text.encode("utf-8"))
        strict = [(el.tag, list(el.attrib.items())) for el in root.iter()]
        ours = [(el.name, [(a.name, unescape(a.raw)) for a in el.start.attributes]) for el in doc.iter()]
        assert ours == strict
    limits = find_limits(doc, form=gen.form)
    assert [lim.policy for lim in limits] == [g.policy for g in gen.limits]
    for lim, expected in zip(limits, gen.limits):
        assert lim.text.startswith("<" + lim.policy)
        assert lim.span.of(gen.text) == lim.text
        assert [(a.name, a.value) for a in lim.attributes] == expected.attributes
        assert lim.section == "inbound"


@settings(max_examples=60, **COMMON)
@given(policy_documents(ensure_token_limit=True), st.data())
def test_setting_an_attribute_changes_only_its_value(gen, data):
    limits = find_limits(gen.text, form=gen.form)
    assert limits
    lim = data.draw(st.sampled_from(limits))
    attr = data.draw(st.sampled_from(lim.attributes))
    value = data.draw(st.sampled_from(["42", "@(context.Product.Id)", 'a "quoted" <v> & more', "Daily"]))
    new = set_attribute(gen.text, lim.index, attr.name, value, form=gen.form, validate=False)
    start, end = attr.value_span.start, attr.value_span.end
    tail = len(gen.text) - end
    assert new[:start] == gen.text[:start]
    assert new[len(new) - tail :] == gen.text[end:]
    assert find_limits(new, form=gen.form)[lim.index].get(attr.name) == value
    written = new[start : len(new) - tail]
    if gen.form == "xml" or not value.startswith("@"):
        assert unescape(written) == value and attr.quote not in written
    if gen.well_formed:
        ET.fromstring(new.encode("utf-8"))


@settings(max_examples=60, **COMMON)
@given(policy_documents(ensure_token_limit=True), st.data())
def test_override_add_remove_is_exact_and_keeps_line_endings(gen, data):
    limits = [lim for lim in find_limits(gen.text, form=gen.form) if lim.is_token_limit]
    assert limits
    lim = data.draw(st.sampled_from(limits))
    subject = data.draw(st.sampled_from(["sub-1", "a.b_c~d", "0123456789abcdef"]))
    kind = data.draw(st.sampled_from(["subscription", "product"]))
    one = add_override(gen.text, lim.index, until=UNTIL, tokens_per_minute=999, form=gen.form, **{kind: subject})
    two = add_override(one.text, lim.index, until=UNTIL, product="p2", tokens_per_minute=5, form=gen.form)
    for out in (one.text, two.text):
        if gen.newline == "\r\n":
            assert out.count("\n") == out.count("\r\n")
        else:
            assert "\r" not in out
        parse(out)
        if gen.well_formed:
            ET.fromstring(out.encode("utf-8"))
    found = list_overrides(two.text, form=gen.form)
    assert [(o.id, o.kind, o.subject) for o in found] == [(one.id, kind, subject), (two.id, "product", "p2")]
    assert remove_override(one.text, one.id) == gen.text
    assert remove_override(remove_override(two.text, two.id), one.id) == gen.text
    assert remove_override(remove_override(two.text, one.id), two.id) == gen.text
    # the same number of limits is visible before and after (the copies are hidden)
    assert len(find_limits(two.text, form=gen.form)) == len(find_limits(gen.text, form=gen.form))
    for ov in found:
        assert ov.expires == UNTIL and ov.tokens_per_minute.value in (999, 5)
    assert cleanup_expired(two.text, UNTIL)[0] == gen.text
    # editing the wrapped limit edits its base: after the overrides go, it is as if the
    # edit had been made to the original document
    edited = set_attribute(two.text, lim.index, "estimate-prompt-tokens", "true", form=gen.form, validate=False)
    restored = remove_override(remove_override(edited, one.id), two.id)
    assert restored == set_attribute(gen.text, lim.index, "estimate-prompt-tokens", "true", form=gen.form, validate=False)


@settings(max_examples=40, **COMMON)
@given(policy_documents())
def test_add_then_remove_limit_is_exact(gen):
    attrs = {"counter-key": "@(context.Subscription.Id)", "tokens-per-minute": "10", "estimate-prompt-tokens": "false"}
    new = add_limit(gen.text, "llm-token-limit", attrs, form=gen.form)
    added = [lim for lim in find_limits(new, form=gen.form) if lim.get("tokens-per-minute") == "10" and lim.role == "plain"]
    first = min(added, key=lambda lim: lim.span.start)
    assert first.section == "inbound"
    assert remove_limit(new, first.index, form=gen.form) == gen.text
    if gen.newline == "\r\n":
        assert new.count("\n") == new.count("\r\n")
    assert not [p for p in validate_document(new, form=gen.form) if p.limit_index == first.index and p.severity == "error"]


def _check_error(text: str) -> None:
    try:
        doc = parse(text)
    except PolicySyntaxError as err:
        assert err.line >= 1 and err.column >= 1
        assert err.message.startswith(f"Line {err.line}, column {err.column}:")
        return
    assert doc.reassemble() == text
    find_limits(doc)
    validate_document(doc)


@settings(max_examples=80, **MALFORMED)
@given(policy_documents(), st.data())
def test_truncated_documents_fail_cleanly(gen, data):
    cut = data.draw(st.integers(0, max(0, len(gen.text) - 1)))
    _check_error(gen.text[:cut])


@settings(max_examples=300, **MALFORMED)
@given(GARBAGE)
def test_garbage_never_crashes_or_hangs(text):
    _check_error(text)


@settings(max_examples=60, **MALFORMED)
@given(policy_documents(), st.data())
def test_spliced_garbage_fails_cleanly(gen, data):
    at = data.draw(st.integers(0, len(gen.text)))
    junk = data.draw(GARBAGE)
    _check_error(gen.text[:at] + junk + gen.text[at:])
