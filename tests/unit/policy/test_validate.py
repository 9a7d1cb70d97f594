"""Validation the way APIM does it, with messages a person understands."""

from __future__ import annotations

import pytest

from aiconsole.policy import LimitValidationError, check_value, find_limits, validate_document
from aiconsole.policy.validate import raise_for_errors


def _doc(limit: str, section: str = "inbound", extra: str = "") -> str:
    return f"<policies>\n  <{section}>\n    <base />\n    {limit}\n  </{section}>{extra}\n</policies>\n"


def _messages(text: str) -> list[str]:
    return [p.message for p in validate_document(text) if p.severity == "error"]


GOOD = '<llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="500" estimate-prompt-tokens="false" />'


def test_good_limit_has_no_problem():
    assert validate_document(_doc(GOOD)) == []


@pytest.mark.parametrize(
    "limit,message",
    [
        ('<llm-token-limit tokens-per-minute="5" estimate-prompt-tokens="false" />', "llm-token-limit needs a counter-key"),
        ('<llm-token-limit counter-key="k" tokens-per-minute="5" />', 'needs estimate-prompt-tokens="true" or "false"'),
        ('<llm-token-limit counter-key="k" estimate-prompt-tokens="false" />', "needs tokens-per-minute, or token-quota with token-quota-period, or both"),
        ('<llm-token-limit counter-key="k" tokens-per-minute="-5" estimate-prompt-tokens="false" />', "tokens-per-minute must be a positive whole number, got '-5'."),
        ('<llm-token-limit counter-key="k" tokens-per-minute="0" estimate-prompt-tokens="false" />', "got '0'"),
        ('<llm-token-limit counter-key="k" tokens-per-minute="1.5" estimate-prompt-tokens="false" />', "got '1.5'"),
        ('<llm-token-limit counter-key="k" tokens-per-minute="{tpm}" estimate-prompt-tokens="false" />', "template placeholder"),
        ('<llm-token-limit counter-key="k" tokens-per-minute="99999999999" estimate-prompt-tokens="false" />', "too large"),
        ('<llm-token-limit counter-key="k" token-quota="5" estimate-prompt-tokens="false" />', "token-quota needs token-quota-period"),
        ('<llm-token-limit counter-key="k" token-quota="5" token-quota-period="daily" estimate-prompt-tokens="false" />', "Did you mean 'Daily'?"),
        ('<llm-token-limit counter-key="k" token-quota="5" token-quota-period="Fortnightly" estimate-prompt-tokens="false" />', "must be one of Hourly, Daily, Weekly, Monthly, Yearly, got 'Fortnightly'"),
        ('<azure-openai-token-limit counter-key="k" tokens-per-minute="5" estimate-prompt-tokens="maybe" />', "estimate-prompt-tokens must be true or false, got 'maybe'"),
        ('<llm-token-limit counter-key="" tokens-per-minute="5" estimate-prompt-tokens="false" />', "counter-key must not be empty"),
        ('<rate-limit-by-key calls="5" counter-key="k" />', "rate-limit-by-key needs renewal-period"),
        ('<quota-by-key renewal-period="60" counter-key="k" />', "quota-by-key needs calls, bandwidth, or both"),
    ],
)
def test_errors_speak_to_people(limit, message):
    msgs = _messages(_doc(limit))
    assert any(message in m for m in msgs), msgs


def test_token_limit_only_in_inbound_and_unknown_sections():
    msgs = _messages(_doc(GOOD, section="outbound"))
    assert "llm-token-limit is only allowed in the inbound section, found in outbound." in msgs
    msgs = _messages(_doc(GOOD, extra="\n  <inbund>\n  </inbund>"))
    assert any("<inbund> is not a policy section" in m for m in msgs)


def test_problems_carry_line_numbers_and_warnings_do_not_block():
    text = _doc('<llm-token-limit counter-key="k" tokens-per-minute="@(5)" estimate-prompt-tokens="false" tokn-quota="1" />')
    problems = validate_document(text)
    assert {p.severity for p in problems} == {"warning"}
    assert all(p.line == 4 for p in problems)
    assert any("a typo" in p.message for p in problems)
    raise_for_errors(problems)  # warnings only: no exception


def test_raise_for_errors_lists_details():
    (limit,) = find_limits(_doc('<llm-token-limit tokens-per-minute="-1" />'))
    from aiconsole.policy import validate_limit

    with pytest.raises(LimitValidationError) as info:
        raise_for_errors(validate_limit(limit))
    assert len(info.value.details) == 3
    assert "more" in info.value.message


@pytest.mark.parametrize(
    "attribute,value,ok",
    [
        ("tokens-per-minute", "500", True),
        ("tokens-per-minute", "+5", False),
        ("tokens-per-minute", "5k", False),
        ("tokens-per-minute", "{{tpm-named-value}}", True),  # a warning, not an error
        ("token-quota-period", "Yearly", True),
        ("token-quota-period", "yearly", False),
        ("estimate-prompt-tokens", "true", True),
        ("remaining-tokens-header-name", "", False),
        ("something-else", "x", True),
    ],
)
def test_check_value_for_forms(attribute, value, ok):
    problem = check_value("llm-token-limit", attribute, value)
    assert (problem is None or problem.severity == "warning") is ok
