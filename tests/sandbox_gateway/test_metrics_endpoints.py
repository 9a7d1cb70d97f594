"""Metrics equal what was served: N known requests read back from /metrics and from getBatch,
including through the real ``azure.monitor.querymetrics.MetricsClient``."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from aiconsole.sandbox.server import build_sandbox

LLM = "/llm/chat/completions"
AOAI = "/openai/deployments/gpt-4o-mini/chat/completions"
N_OK, N_UNAUTH = 7, 3
HTTP = httpx.Client(timeout=10)  # one client: building an SSL context per call is slow


@pytest.fixture(scope="module")
def served():
    """A fresh sandbox with a frozen clock and a known set of requests served in one minute."""
    sandbox = build_sandbox(seed=3, subscriptions=30, options={"traffic": False, "model_latency_scale": 0})
    info = sandbox.start_in_thread()
    clock = sandbox.state.clock
    start = clock.now().replace(second=10, microsecond=0)
    clock.freeze(start)
    key = sandbox.state.get_subscription("support-bot-prod").primary_key
    usage = {"prompt": 0, "completion": 0}
    with httpx.Client(base_url=info["gateway_url"], timeout=10) as gw:
        for i in range(N_OK):
            body = {"model": "phi-4", "messages": [{"role": "user", "content": "q" * (40 * i)}], "max_tokens": 10 + i}
            r = gw.post(LLM, json=body, headers={"Ocp-Apim-Subscription-Key": key})
            assert r.status_code == 200
            usage["prompt"] += r.json()["usage"]["prompt_tokens"]
            usage["completion"] += r.json()["usage"]["completion_tokens"]
        for _ in range(N_UNAUTH):
            assert gw.post(AOAI, params={"api-version": "2024-10-21"}, json={}).status_code == 401
    yield sandbox, info, start, usage
    HTTP.close()
    sandbox.stop()


def _samples(info):
    text = HTTP.get(info["metrics_url"]).text
    out = []
    for family in text_string_to_metric_families(text):
        out.extend(family.samples)
    return out


def test_prometheus_counts_equal_what_was_served(served):
    _, info, _, usage = served
    samples = _samples(info)
    requests = [s for s in samples if s.name == "azure_apim_requests_total"]
    ok = sum(s.value for s in requests if s.labels["gateway_response_code"] == "200" and s.labels["subscription_id"] == "support-bot-prod")
    unauth = sum(s.value for s in requests if s.labels["gateway_response_code"] == "401")
    assert (ok, unauth) == (N_OK, N_UNAUTH)
    assert all(s.labels["product_id"] == "premium" for s in requests if s.labels["subscription_id"] == "support-bot-prod")

    def tokens(name):
        return sum(s.value for s in samples if s.name == name and s.labels.get("subscription_id") == "support-bot-prod")

    assert tokens("azure_apim_prompt_tokens_total") == usage["prompt"]
    assert tokens("azure_apim_completion_tokens_total") == usage["completion"]
    assert tokens("azure_apim_total_tokens_total") == usage["prompt"] + usage["completion"]
    slot = [s for s in samples if s.name == "aiconsole_sandbox_key_slot_requests_total" and s.labels["subscription_id"] == "support-bot-prod"]
    assert [(s.labels["slot"], s.value) for s in slot] == [("primary", N_OK)]
    remaining = {(s.labels["window"], s.labels["scope"]): s.value for s in samples
                 if s.name == "aiconsole_sandbox_remaining_tokens" and s.labels["counter_key"] == "support-bot-prod"}
    assert remaining[("tokens-per-minute", "product:premium")] == 100000 - usage["prompt"] - usage["completion"]
    assert remaining[("tokens-per-minute", "api:llm")] == 30000 - usage["prompt"] - usage["completion"]


def _batch(info, resource_id, namespace, names, start, filter_=None, interval="PT1M", aggregation="total"):
    params = {
        "api-version": "2024-02-01", "metricnamespace": namespace, "metricnames": names,
        "starttime": (start - timedelta(minutes=5)).isoformat(), "endtime": (start + timedelta(minutes=5)).isoformat(),
        "interval": interval, "aggregation": aggregation,
    }
    if filter_:
        params["filter"] = filter_
    return HTTP.post(f"{info['monitor_url']}/subscriptions/{info['subscription_id']}/metrics:getBatch",
                      params=params, json={"resourceids": [resource_id]}, headers={"Authorization": "Bearer t"})


def test_get_batch_requests_split_by_code_and_api(served):
    _, info, start, _ = served
    r = _batch(info, info["resource_id"], "Microsoft.ApiManagement/service", "Requests", start,
               "GatewayResponseCode eq '*' and ApiId eq '*'")
    assert r.status_code == 200, r.text
    value = r.json()["values"][0]
    assert value["resourceid"] == info["resource_id"] and value["interval"] == "PT1M"
    metric = value["value"][0]
    assert metric["name"]["value"] == "Requests" and metric["errorCode"] == "Success"
    totals = {}
    for series in metric["timeseries"]:
        dims = {m["name"]["value"]: m["value"] for m in series["metadatavalues"]}
        assert len(series["data"]) == 11  # one point per minute touched by the span (10:05:10 to 10:15:10)
        totals[(dims["gatewayresponsecode"], dims["apiid"])] = sum(p["total"] for p in series["data"])
    assert totals == {("200", "llm"): N_OK, ("401", "azure-openai"): N_UNAUTH}
    r = _batch(info, info["resource_id"], "Microsoft.ApiManagement/service", "Requests", start,
               "GatewayResponseCodeCategory eq '4xx'", interval="FULL")
    series = r.json()["values"][0]["value"][0]["timeseries"]
    assert [(s["metadatavalues"][0]["value"], s["data"][0]["total"]) for s in series] == [("4xx", N_UNAUTH)]


def test_get_batch_refuses_bad_queries_with_azure_error_shape(served):
    _, info, start, _ = served
    cases = [
        (dict(interval="PT30S"), "finest grain"),
        (dict(filter_="Nope eq '*'"), "does not have dimension"),
        (dict(filter_="ApiId eq 'a' or GatewayResponseCode eq '200'"), "cannot separate"),
        (dict(aggregation="median"), "Invalid aggregation"),
    ]
    for kwargs, fragment in cases:
        r = _batch(info, info["resource_id"], "Microsoft.ApiManagement/service", "Requests", start, **kwargs)
        assert r.status_code == 400 and fragment in r.json()["error"]["message"], r.text
    r = _batch(info, info["resource_id"], "Microsoft.ApiManagement/service", "Bogus", start)
    assert r.status_code == 400
    r = HTTP.post(f"{info['monitor_url']}/subscriptions/{info['subscription_id']}/metrics:getBatch",
                   params={"metricnamespace": "x", "metricnames": "y"}, json={"resourceids": ["a"]})
    assert r.status_code == 401


def _metrics_client(info):
    from azure.core.credentials import AccessToken
    from azure.core.pipeline.policies import SansIOHTTPPolicy
    from azure.monitor.querymetrics import MetricsClient

    from aiconsole.backends.urls import is_loopback_url

    class StaticToken:
        def get_token(self, *scopes, **kwargs):
            return AccessToken("sandbox-token", int(time.time()) + 3600)

    class LoopbackHttp(SansIOHTTPPolicy):
        """Plain HTTP with a bearer token is allowed for loopback URLs only."""

        def on_request(self, request):
            if is_loopback_url(request.http_request.url):
                request.context.options["enforce_https"] = False

    return MetricsClient(info["monitor_url"], StaticToken(), per_call_policies=[LoopbackHttp()], retry_total=0)


def test_metrics_client_reads_the_same_numbers(served):
    _, info, start, usage = served
    client = _metrics_client(info)
    span = (start - timedelta(minutes=5), start + timedelta(minutes=5))
    [apim] = client.query_resources(
        resource_ids=[info["resource_id"]], metric_namespace="Microsoft.ApiManagement/service",
        metric_names=["Requests"], timespan=span, granularity=timedelta(minutes=1), aggregations=["Total"],
        filter="GatewayResponseCode eq '*'", max_results=50,
    )
    requests = apim.metrics["Requests"]
    by_code = {ts.metadata_values["gatewayresponsecode"]: sum(p.total or 0 for p in ts.data) for ts in requests.timeseries}
    assert by_code == {"200": N_OK, "401": N_UNAUTH}
    assert apim.granularity == timedelta(minutes=1)
    [appi] = client.query_resources(
        resource_ids=[info["app_insights_resource_id"]], metric_namespace="API Management",
        metric_names=["Total Tokens", "Prompt Tokens", "Completion Tokens"], timespan=span,
        granularity=timedelta(minutes=1), aggregations=["Total", "Count"],
        filter="Subscription ID eq '*' and API ID eq '*' and Product ID eq '*'", max_results=100,
    )
    totals = {}
    for metric in appi.metrics:
        [series] = metric.timeseries
        assert series.metadata_values == {"subscription id": "support-bot-prod", "api id": "llm", "product id": "premium"}
        totals[metric.name] = sum(p.total or 0 for p in series.data)
        assert sum(p.count or 0 for p in series.data) == N_OK
    assert totals == {
        "Total Tokens": usage["prompt"] + usage["completion"],
        "Prompt Tokens": usage["prompt"],
        "Completion Tokens": usage["completion"],
    }
