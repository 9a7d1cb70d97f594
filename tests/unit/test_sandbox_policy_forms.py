"""Policy forms: xml <-> rawxml touches only expressions; validation says where and why."""

from __future__ import annotations

import xml.dom.minidom

import pytest

from aiconsole.sandbox.policy_forms import raw_to_xml, validate, xml_to_raw
from aiconsole.sandbox.seed import SEEDED_POLICIES
from tests.conftest import reference_dir

RAW = (
    '<policies>\r\n  <inbound>\r\n    <base />\r\n'
    '    <!-- keep "this" & that -->\r\n'
    '    <set-variable name=\'v\' value=\'@(context.Request.Headers.GetValueOrDefault("a","") == "b" && 1 < 2)\' />\r\n'
    '    <choose>\r\n      <when condition="@(context.Subscription.Id == "x" || (DateTime.UtcNow > new DateTime(2026, 1, 1)))">\r\n'
    '        <llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="10" estimate-prompt-tokens="true" />\r\n'
    '      </when>\r\n    </choose>\r\n'
    '    <set-body>@{ var s = "}"; return s.Length > 0 ? "<ok>" : "no"; }</set-body>\r\n'
    '  </inbound>\r\n  <backend><base /></backend>\r\n</policies>'
)


def test_raw_becomes_well_formed_and_comes_back_byte_for_byte():
    xml_form = raw_to_xml(RAW)
    xml.dom.minidom.parseString(xml_form)  # well-formed
    assert validate(xml_form) is None
    assert xml_to_raw(xml_form) == RAW
    assert "<!-- keep \"this\" & that -->" in xml_form  # comments untouched
    assert "value='@(context.Request.Headers.GetValueOrDefault(\"a\",\"\") == \"b\" &amp;&amp; 1 &lt; 2)'" in xml_form
    assert "&quot;x&quot; || (DateTime.UtcNow &gt; new" in xml_form
    assert '@{ var s = "}"; return s.Length &gt; 0 ? "&lt;ok&gt;" : "no"; }' in xml_form  # text keeps raw quotes


def test_seeded_policies_are_valid_and_stable_through_both_forms():
    for scope, text in SEEDED_POLICIES.items():
        assert validate(text) is None, scope
        assert raw_to_xml(xml_to_raw(text)) == text, scope
    assert any("&quot;" in t and "&amp;&amp;" in t for t in SEEDED_POLICIES.values())


def test_reference_policies_convert_and_round_trip():
    folder = reference_dir() / "policies"
    files = sorted(folder.glob("*.xml"))
    assert len(files) == 39
    well_formed_after = 0
    for path in files:
        raw = path.read_bytes().decode("utf-8")
        converted = raw_to_xml(raw)
        assert xml_to_raw(converted) == raw or "&lt;" in raw, path.name  # already-escaped input unescapes
        try:
            xml.dom.minidom.parseString(converted)
            well_formed_after += 1
        except Exception:  # noqa: BLE001 - the damaged sources stay broken
            pass
    assert well_formed_after >= 36


@pytest.mark.parametrize(
    ("doc", "line", "column", "fragment"),
    [
        ("<policies>\n  <inbound>\n</policies>", 3, 3, "not well-formed"),
        ("<policies>\n  <inbound />\n  <middle />\n</policies>", 3, 3, "not a policy section"),
        ("<policies>\n  <inbound />\n  <inbound />\n</policies>", 3, 3, "more than once"),
        ("<rules />", 1, 1, "root element"),
        ('<policies>\n <outbound>\n  <azure-openai-token-limit counter-key="k" tokens-per-minute="1" '
         'estimate-prompt-tokens="true" />\n </outbound>\n</policies>', 3, 3, "only in the inbound"),
        ('<policies><inbound>\n<llm-token-limit counter-key="k" tokens-per-minute="{tpm}" '
         'estimate-prompt-tokens="true" /></inbound></policies>', 2, 1, "positive whole number"),
        ('<policies><inbound>\n<llm-token-limit counter-key="k" tokens-per-minute="5" /></inbound></policies>',
         2, 1, "estimate-prompt-tokens"),
        ('<policies><inbound>\n<llm-token-limit counter-key="k" token-quota="5" estimate-prompt-tokens="false" />'
         '</inbound></policies>', 2, 1, "token-quota-period"),
        ('<policies><inbound>\n<llm-token-limit counter-key="k" token-quota="5" token-quota-period="Fortnightly" '
         'estimate-prompt-tokens="false" /></inbound></policies>', 2, 1, "Hourly"),
    ],
)
def test_problems_name_line_column_and_reason(doc, line, column, fragment):
    problem = validate(doc)
    assert problem is not None
    assert (problem.line, problem.column) == (line, column)
    assert fragment in problem.sentence()
    assert f"line {line}, column {column}" in problem.sentence()


def test_dynamic_values_are_not_checked():
    doc = ('<policies><inbound><llm-token-limit counter-key="@(context.Subscription.Id)" '
           'tokens-per-minute="{{tpm-default}}" estimate-prompt-tokens="@(true)" /></inbound></policies>')
    assert validate(doc) is None
