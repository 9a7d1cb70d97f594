"""The Prometheus adapter on canned expositions: parsing, throttle causes, resets, bad answers."""

from __future__ import annotations

import httpx
import pytest

from aiconsole.services.triage import aggregate, sort_rows
from aiconsole.telemetry.port import BACKEND_429, TOKEN_RATE, TelemetryError
from aiconsole.telemetry.prometheus import PrometheusSource, parse_exposition


def exposition(ok: int, throttled: int, tokens: float, backend_429: int = 0, sid: str = "noisy") -> str:
    return f"""# HELP azure_apim_requests_total Gateway requests
# TYPE azure_apim_requests_total counter
azure_apim_requests_total{{api_id="llm",gateway_response_code="200",product_id="starter",subscription_id="{sid}"}} {ok}
azure_apim_requests_total{{api_id="llm",gateway_response_code="429",product_id="starter",subscription_id="{sid}"}} {throttled + backend_429}
azure_apim_requests_total{{api_id="llm",gateway_response_code="200",product_id="premium",subscription_id="calm"}} {ok}
# HELP azure_apim_total_tokens_total Total Tokens
# TYPE azure_apim_total_tokens_total counter
azure_apim_total_tokens_total{{api_id="llm",client_ip="127.0.0.1",namespace="API Management",product_id="starter",subscription_id="{sid}"}} {tokens}
azure_apim_total_tokens_total{{api_id="llm",client_ip="10.0.0.1",namespace="API Management",product_id="starter",subscription_id="{sid}"}} {tokens}
azure_apim_total_tokens_total{{api_id="llm",client_ip="127.0.0.1",namespace="API Management",product_id="premium",subscription_id="calm"}} {tokens}
# HELP aiconsole_sandbox_throttled_requests_total Requests refused by a limit policy
# TYPE aiconsole_sandbox_throttled_requests_total counter
aiconsole_sandbox_throttled_requests_total{{api_id="llm",gateway_response_code="429",policy="llm-token-limit",reason="token-rate",scope="product:starter",subscription_id="{sid}"}} {throttled}
"""


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def source_for(texts: list[str | Exception], clock: Clock) -> PrometheusSource:
    answers = iter(texts)

    def handler(request: httpx.Request) -> httpx.Response:
        item = next(answers)
        if isinstance(item, Exception):
            raise item
        if isinstance(item, tuple):
            return httpx.Response(item[0], text=item[1], headers={"content-type": item[2]})
        return httpx.Response(200, text=item, headers={"content-type": "text/plain; version=0.0.4"})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    return PrometheusSource("http://127.0.0.1:9/metrics", client=client, monotonic=clock)


def test_parse_sums_extra_labels_into_one_series():
    values = parse_exposition(exposition(10, 5, 300.0))
    assert values[("tok", "noisy", "starter", "llm")] == 600.0
    assert values[("req", "noisy", "starter", "llm", 429)] == 5
    assert values[("thr", "noisy", "llm", "token-rate", "llm-token-limit", "product:starter", 429)] == 5


def test_rates_and_causes_from_two_scrapes():
    clock = Clock()
    src = source_for([exposition(10, 5, 100), exposition(20, 65, 400)], clock)
    src.observe()
    clock.t += 60
    snap = src.sample(60)
    rows = {r.key: r for r in aggregate(snap, "subscription")}
    noisy = rows["noisy"]
    assert noisy.throttled_per_minute == pytest.approx(60)
    assert noisy.tokens_per_minute == pytest.approx(600)
    assert noisy.requests_per_minute == pytest.approx(70)
    [cause] = noisy.causes
    assert (cause.reason, cause.policy, cause.scope) == (TOKEN_RATE, "llm-token-limit", "product:starter")
    assert sort_rows(list(rows.values()))[0].key == "noisy"


def test_429s_no_policy_claims_are_the_backends():
    clock = Clock()
    src = source_for([exposition(10, 5, 100), exposition(20, 5, 400, backend_429=12)], clock)
    src.observe()
    clock.t += 60
    [noisy] = [r for r in aggregate(src.sample(60)) if r.key == "noisy"]
    assert {c.reason: round(c.per_minute) for c in noisy.causes} == {BACKEND_429: 12}


def test_restart_between_scrapes_gives_no_negative_rate():
    clock = Clock()
    src = source_for([exposition(1000, 500, 90_000), exposition(3, 2, 120)], clock)
    src.observe()
    clock.t += 30
    snap = src.sample(60)
    assert snap.resets > 0
    assert any("restarted" in w for w in snap.warnings)
    for u in snap.usages:
        assert u.tokens >= 0 and u.requests >= 0
        assert all(v >= 0 for v in u.statuses.values())
        assert all(v >= 0 for v in u.throttles.values())
    noisy = [r for r in aggregate(snap) if r.key == "noisy"][0]
    assert noisy.tokens_per_minute == pytest.approx(480)  # 2 x 120 since the restart, over 30 s


@pytest.mark.parametrize("answer, words", [
    (httpx.ConnectError("refused"), "Cannot reach"),
    (httpx.ReadTimeout("slow"), "did not answer"),
    ((503, "busy", "text/plain"), "HTTP 503"),
    ((200, "<html><body>login</body></html>", "text/html"), "not Prometheus"),
    ((200, "this is { not prometheus", "text/plain"), "not Prometheus"),
])
def test_bad_endpoints_raise_one_sentence(answer, words):
    src = source_for([answer], Clock())
    with pytest.raises(TelemetryError) as info:
        src.sample(60)
    assert words in info.value.message
    assert "Traceback" not in info.value.message


def test_a_failed_scrape_keeps_the_earlier_readings():
    clock = Clock()
    src = source_for([exposition(10, 5, 100), httpx.ConnectError("down"), exposition(20, 65, 400)], clock)
    src.observe()
    clock.t += 30
    with pytest.raises(TelemetryError):
        src.sample(60)
    clock.t += 30
    snap = src.sample(60)
    noisy = [r for r in aggregate(snap) if r.key == "noisy"][0]
    assert noisy.throttled_per_minute == pytest.approx(60)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

label_values = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(label_values, label_values, st.integers(0, 10**9), st.sampled_from([200, 429, 403])),
                min_size=1, max_size=8))
def test_fast_path_agrees_with_prometheus_client(series):
    lines = ["# HELP azure_apim_requests_total Requests", "# TYPE azure_apim_requests_total counter"]
    for sid, api, value, status in series:
        lines.append(f'azure_apim_requests_total{{api_id="{_escape(api)}",gateway_response_code="{status}",'
                     f'product_id="p",subscription_id="{_escape(sid)}"}} {value}')
    lines.append("# TYPE other_metric gauge")
    lines.append("other_metric 3.5")
    text = "\n".join(lines) + "\n"
    assert parse_exposition(text) == parse_exposition(text, reference=True)


def test_fast_path_sends_odd_lines_to_the_reference_parser():
    good = exposition(1, 2, 3)
    with pytest.raises(ValueError):
        parse_exposition(good + "azure_apim_requests_total{broken 12\n")
    with pytest.raises(ValueError):
        parse_exposition(good + "azure_apim_requests_total 1_000\n")
    assert parse_exposition(good) == parse_exposition(good, reference=True)
