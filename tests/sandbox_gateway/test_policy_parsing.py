"""Safe parsing of stored policies, windows, and the engine's tolerance of what it cannot run."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aiconsole.sandbox.gateway.chain import BrokenPolicy, ChainCache, PolicyDoc
from aiconsole.sandbox.gateway.policy_model import EmitTokenMetric, TokenLimit
from aiconsole.sandbox.gateway.windows import renewal_window, token_quota_window
from aiconsole.sandbox.gateway.xmlsafe import PolicyXmlError, parse_policy, raw_to_xml

BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<policies><inbound>&lol2;</inbound></policies>"""
EXTERNAL = """<!DOCTYPE policies [<!ENTITY x SYSTEM "file:///etc/passwd">]><policies><inbound>&x;</inbound></policies>"""


@pytest.mark.parametrize("text", [BOMB, EXTERNAL, "<!doctype policies><policies/>"])
def test_doctype_and_entities_are_refused(text):
    with pytest.raises(PolicyXmlError, match="DOCTYPE"):
        parse_policy(text)


def test_raw_form_is_escaped_inside_expressions_only():
    raw = '<policies><inbound><set-variable name="a" value="@(context.Request.Headers.GetValueOrDefault("x","") == "y" && 1 < 2)" /></inbound></policies>'
    root = parse_policy(raw)
    assert root.find("inbound/set-variable").get("value") == '@(context.Request.Headers.GetValueOrDefault("x","") == "y" && 1 < 2)'
    assert raw_to_xml("<a>@{ return \"}\"; }</a>") == "<a>@{ return &quot;}&quot;; }</a>"


@pytest.mark.parametrize("text", ["not xml", "<policies><inbound></policies>", "<other/>", ""])
def test_unusable_documents_raise(text):
    with pytest.raises(PolicyXmlError):
        parse_policy(text)


def test_broken_document_raises_broken_policy_once_logged():
    cache = ChainCache()
    doc = PolicyDoc("api:x", "<policies><inbound>", '"1"')
    for _ in range(3):
        with pytest.raises(BrokenPolicy):
            cache.steps_for([doc])
    assert cache.compilations == 1
    assert len([m for m in cache.reporter.messages if "cannot be parsed" in m]) == 1


def test_every_reference_policy_compiles_or_is_reported(reference):
    """Microsoft's sample policies: nothing crashes; token limits with real numbers compile."""
    cache = ChainCache()
    found_limits = 0
    for path in sorted((reference / "policies").glob("*.xml")):
        doc = PolicyDoc("api:ref", path.read_text(encoding="utf-8"), path.name)
        try:
            steps = cache.steps_for([doc])
        except BrokenPolicy:
            continue
        found_limits += sum(isinstance(s, TokenLimit) for s in steps)
    assert found_limits >= 3
    assert any("is not a number" in m for m in cache.reporter.messages)  # {tpm} placeholders


def test_seeded_global_policy_emits_default_dimensions():
    from aiconsole.sandbox.seed import SEEDED_POLICIES

    steps = ChainCache().steps_for([PolicyDoc("global", SEEDED_POLICIES["global"], '"g"')])
    emit = [s for s in steps if isinstance(s, EmitTokenMetric)]
    assert [name for name, _ in emit[0].dimensions][:3] == ["Subscription ID", "API ID", "Product ID"]


def test_invalid_attributes_skip_the_element_with_a_note():
    cache = ChainCache()
    text = ('<policies><inbound><llm-token-limit counter-key="k" tokens-per-minute="{tpm}" estimate-prompt-tokens="false" />'
            '<llm-token-limit counter-key="k" token-quota="5" token-quota-period="Fortnightly" estimate-prompt-tokens="false" />'
            '<llm-token-limit counter-key="k" tokens-per-minute="5" />'
            '<frobnicate /></inbound></policies>')
    assert cache.steps_for([PolicyDoc("api:x", text, '"1"')]) == ()
    joined = " | ".join(cache.reporter.messages)
    assert "is not a number" in joined and "Fortnightly" in joined and "needs estimate-prompt-tokens" in joined
    assert "<frobnicate> is not simulated" in joined


@pytest.mark.parametrize(
    ("period", "now", "start", "end"),
    [
        ("Hourly", datetime(2026, 3, 10, 14, 59, 59, tzinfo=UTC), datetime(2026, 3, 10, 14, tzinfo=UTC), datetime(2026, 3, 10, 15, tzinfo=UTC)),
        ("Daily", datetime(2026, 3, 10, 23, 0, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC), datetime(2026, 3, 11, tzinfo=UTC)),
        ("Weekly", datetime(2026, 3, 15, 23, 0, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC), datetime(2026, 3, 16, tzinfo=UTC)),
        ("Monthly", datetime(2026, 12, 31, 23, 0, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        ("Yearly", datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
    ],
)
def test_token_quota_windows_are_fixed_utc(period, now, start, end):
    assert token_quota_window(period, now) == (start, end)


def test_renewal_windows_count_from_first_period_start():
    first = datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)
    start, end = renewal_window(first, 3600, datetime(2026, 1, 1, 2, 0, 0, tzinfo=UTC))
    assert (start, end) == (datetime(2026, 1, 1, 1, 0, 30, tzinfo=UTC), datetime(2026, 1, 1, 2, 0, 30, tzinfo=UTC))


def test_metric_store_keeps_a_bounded_number_of_minutes_even_after_clock_jumps():
    from aiconsole.sandbox.metrics.store import MetricStore, ServedRequest

    store = MetricStore(retention_minutes=30)
    base = 1_800_000_000.0
    for i in range(100):
        store.record_request(ServedRequest(ts=base + 60 * i, status=200, api_id="a"))
    for i in range(100):  # the clock jumped back a day
        store.record_request(ServedRequest(ts=base - 86400 + 60 * i, status=200, api_id="a"))
    assert len(store._request_minutes) <= 30
    assert sum(store.requests.values()) == 200  # counters since start are never dropped
