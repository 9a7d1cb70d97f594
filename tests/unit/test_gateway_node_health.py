"""Node probes and metric rates without any network: httpx's MockTransport answers."""

from __future__ import annotations

import httpx

from aiconsole.telemetry.node_health import (
    STATUS_PATH,
    MetricsSample,
    RateTracker,
    parse_metrics,
    probe_node,
    probe_nodes,
)


def _client(handler) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def test_healthy_degraded_and_unreachable():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.host == "127.0.0.2":
            return httpx.Response(503, json={"status": "degraded", "reason": "token expired"})
        if request.url.host == "127.0.0.3":
            raise httpx.ConnectError("refused")
        return httpx.Response(200)

    with _client(handler) as client:
        ok = probe_node("http://127.0.0.1:9/", client=client)
        bad = probe_node("http://127.0.0.2:9", client=client)
        dead = probe_node("http://127.0.0.3:9", client=client)
    assert seen[0] == STATUS_PATH
    assert ok.healthy and ok.status == "healthy" and ok.latency_ms is not None and ok.url == "http://127.0.0.1:9"
    assert not bad.healthy and bad.status == "degraded" and bad.detail == "token expired"
    assert ok.token_slot is None
    assert not dead.healthy and dead.status == "unreachable" and dead.latency_ms is None
    assert {"url", "healthy", "status", "latency_ms"} <= set(ok.as_json())


def test_a_node_that_reports_its_token_slot():
    body = {"status": "healthy", "tokenKeyType": "Secondary", "tokenExpires": "2026-02-01T00:00Z"}
    with _client(lambda r: httpx.Response(200, json=body)) as client:
        node = probe_node("http://127.0.0.1:9", client=client)
    assert node.healthy and node.token_slot == "secondary" and node.token_expires == "2026-02-01T00:00Z"


def test_a_200_that_says_degraded_is_not_healthy():
    with _client(lambda r: httpx.Response(200, json={"status": "Degraded"})) as client:
        assert probe_node("http://127.0.0.1:9", client=client).status == "degraded"


def test_plain_http_off_loopback_is_refused_without_a_request():
    result = probe_node("http://gateway.example.com")
    assert result.status == "invalid" and "loopback" in result.detail


def test_nothing_listening_is_unreachable_fast():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    [result] = probe_nodes([f"http://127.0.0.1:{port}"], timeout=1.0)
    assert result.status == "unreachable"


METRICS = """# HELP apim_requests_total Requests served by the gateway.
# TYPE apim_requests_total counter
apim_requests_total{gateway="gw-a",status="200"} 90
apim_requests_total{gateway="gw-a",status="503"} 10
apim_requests_total{gateway="gw-b",status="200"} 1000
# TYPE apim_tokens_total counter
apim_tokens_total{gateway="gw-a"} 12345
# TYPE apim_throttled_requests_total counter
apim_throttled_requests_total{gateway="gw-a"} 7
"""
SANDBOX = """# TYPE azure_apim_requests_total counter
azure_apim_requests_total{api_id="llm",gateway_response_code="200"} 40.0
azure_apim_requests_total{api_id="llm",gateway_response_code="500"} 2.0
azure_apim_requests_total_created{api_id="llm",gateway_response_code="200"} 1.7e9
# TYPE aiconsole_sandbox_key_slot_requests_total counter
aiconsole_sandbox_key_slot_requests_total{slot="primary"} 42.0
"""


def test_metrics_are_summed_per_gateway_and_rated():
    assert parse_metrics(METRICS, "gw-a") == (100.0, 10.0)
    assert parse_metrics(METRICS) == (1100.0, 10.0)  # one family only: no double counting
    assert parse_metrics(SANDBOX) == (42.0, 2.0)
    tracker = RateTracker()
    first = tracker.update("gw-a", MetricsSample(at=0.0, requests=100, errors=10))
    assert first.requests_per_min is None
    second = tracker.update("gw-a", MetricsSample(at=30.0, requests=160, errors=16))
    assert second.requests_per_min == 120.0 and second.error_rate == 0.1
