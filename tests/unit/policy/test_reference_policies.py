"""Every reference policy (../shared/reference/policies): scan, find limits, edit byte-exactly."""

from __future__ import annotations

import pytest

from aiconsole.policy.limits import find_limits
from aiconsole.policy.tree import parse
from tests.unit.policy._reference import POLICY_NAMES, read_policy

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
