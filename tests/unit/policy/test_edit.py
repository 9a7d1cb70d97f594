"""Byte-preserving edits on hand-written documents (layout, quotes, styles, refusals)."""

from __future__ import annotations

import pytest

from aiconsole.policy import (
    LimitNotFoundError,
    LimitValidationError,
    StaleLimitError,
    add_limit,
    find_limits,
    remove_attribute,
    remove_limit,
    set_attribute,
    set_attributes,
)

DOC = (
    "<policies>\n"
    "\t<inbound>\n"
    "\t\t<base />\n"
    "\t\t<!-- keep me -->\n"
    "\t\t<llm-token-limit counter-key='@(context.Subscription.Id)'\n"
    "\t\t\ttokens-per-minute='{tpm}'\n"
    "\t\t\testimate-prompt-tokens='false' />\n"
    '\t\t<azure-openai-token-limit counter-key="@(context.Request.Headers.GetValueOrDefault("k", ""))" tokens-per-minute="100" estimate-prompt-tokens="true"/>\n'
    "\t</inbound>\n"
    "</policies>"
)


def test_placeholder_is_reported_and_other_attributes_still_edit():
    first = find_limits(DOC)[0]
    assert first.tokens_per_minute.kind == "placeholder"
    new = set_attribute(DOC, 0, "estimate-prompt-tokens", "true")
    assert new == DOC.replace("estimate-prompt-tokens='false'", "estimate-prompt-tokens='true'")


def test_new_attribute_copies_the_layout_of_the_last_one():
    new = set_attributes(DOC, 0, {"token-quota": "1000", "token-quota-period": "Daily"})
    assert "\t\t\testimate-prompt-tokens='false'\n\t\t\ttoken-quota='1000'\n\t\t\ttoken-quota-period='Daily' />" in new
    new = set_attribute(DOC, 1, "remaining-tokens-header-name", "x-left")
    assert 'estimate-prompt-tokens="true" remaining-tokens-header-name="x-left"/>' in new


def test_raw_form_expression_value_is_written_raw_and_plain_values_escaped():
    new = set_attribute(DOC, 1, "counter-key", '@(context.Request.Headers.GetValueOrDefault("team", "none"))')
    assert 'counter-key="@(context.Request.Headers.GetValueOrDefault("team", "none"))"' in new
    new = set_attribute(DOC, 1, "counter-key", 'a "b" <c>')
    assert 'counter-key="a &quot;b&quot; &lt;c&gt;"' in new
    assert find_limits(new)[1].counter_key == 'a "b" <c>'


def test_xml_form_expression_is_escaped():
    doc = '<policies><inbound><llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="5" estimate-prompt-tokens="false" /></inbound></policies>'
    new = set_attribute(doc, 0, "counter-key", '@(context.Request.Headers.GetValueOrDefault("team", "x"))', form="xml")
    assert 'counter-key="@(context.Request.Headers.GetValueOrDefault(&quot;team&quot;, &quot;x&quot;))"' in new


def test_refusals():
    with pytest.raises(LimitValidationError, match="positive whole number, got '-5'"):
        set_attribute(DOC, 1, "tokens-per-minute", "-5")
    with pytest.raises(LimitValidationError, match="needs a counter-key"):
        remove_attribute(DOC, 1, "counter-key")
    with pytest.raises(LimitNotFoundError, match="no attribute token-quota"):
        remove_attribute(DOC, 1, "token-quota")
    with pytest.raises(LimitNotFoundError, match="no limit #5: this policy has 2"):
        set_attribute(DOC, 5, "tokens-per-minute", "5")
    with pytest.raises(LimitValidationError, match="not an attribute name"):
        set_attribute(DOC, 1, "bad name", "5")
    first, second = find_limits(DOC)
    newer = set_attribute(DOC, 1, "tokens-per-minute", "200")
    assert set_attribute(newer, first, "estimate-prompt-tokens", "true")  # untouched span: still fine
    with pytest.raises(StaleLimitError, match="not in this version"):
        set_attribute(newer, second, "tokens-per-minute", "7")  # its text changed


def test_remove_attribute_takes_its_whitespace():
    new = remove_attribute(DOC, 0, "tokens-per-minute", validate=False)
    assert "counter-key='@(context.Subscription.Id)'\n\t\t\testimate-prompt-tokens='false' />" in new


def test_add_limit_after_base_with_document_style():
    new = add_limit(DOC, "llm-token-limit", {"counter-key": "@(context.Product.Id)", "token-quota": "10", "token-quota-period": "Monthly", "estimate-prompt-tokens": "false"})
    assert new == DOC.replace(
        "\t\t<base />\n",
        "\t\t<base />\n\t\t<llm-token-limit counter-key='@(context.Product.Id)' token-quota='10' token-quota-period='Monthly' estimate-prompt-tokens='false' />\n",
    )
    assert remove_limit(new, 0) == DOC


def test_add_limit_without_base_and_refusals():
    doc = "<policies>\r\n  <inbound>\r\n    <set-header name=\"a\" exists-action=\"delete\"/>\r\n  </inbound>\r\n</policies>\r\n"
    new = add_limit(doc, "azure-openai-token-limit", {"counter-key": "k", "tokens-per-minute": "9", "estimate-prompt-tokens": "true"})
    assert new == doc.replace("<inbound>\r\n", '<inbound>\r\n    <azure-openai-token-limit counter-key="k" tokens-per-minute="9" estimate-prompt-tokens="true"/>\r\n')
    with pytest.raises(LimitValidationError, match="needs estimate-prompt-tokens"):
        add_limit(doc, "llm-token-limit", {"counter-key": "k", "tokens-per-minute": "9"})
    with pytest.raises(LimitValidationError, match="not a limit policy"):
        add_limit(doc, "set-header", {})
    with pytest.raises(LimitNotFoundError, match="no inbound section"):
        add_limit("<policies><outbound/></policies>", "llm-token-limit", {"counter-key": "k"})


def test_remove_limit_inline_and_last_line():
    doc = '<policies><inbound><base /><rate-limit calls="5" renewal-period="60" /></inbound></policies>'
    assert remove_limit(doc, 0) == "<policies><inbound><base /></inbound></policies>"
    doc = '<policies>\n<inbound>\n<quota calls="5" renewal-period="60" />'
    with pytest.raises(Exception):
        remove_limit(doc, 0)  # not balanced: refused with a syntax error before any edit
