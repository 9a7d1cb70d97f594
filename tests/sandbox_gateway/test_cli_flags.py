"""``aiconsole sandbox`` as users run it: the flags of the gateway extension and its info keys."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx

from tests.sandbox_fixture import start_sandbox


def test_cli_flags_traffic_rps_and_node_mode():
    from aiconsole.sandbox.seed import build_state

    twin = build_state(2, 10)
    token = twin.generate_gateway_token("gw-seattle-edge", "secondary", twin.clock.now() + timedelta(days=1))
    info, stop = start_sandbox(seed=2, subscriptions=40, traffic=True, rps=8, node_of="gw-seattle-edge", node_token=token)
    try:
        for key in ("gateway_url", "metrics_url", "monitor_url", "resource_id", "app_insights_resource_id", "apis"):
            assert info[key], key
        assert info["traffic"] == {"enabled": True, "rps": 8.0} and info["node_of"] == "gw-seattle-edge"
        with httpx.Client(timeout=10) as http:
            assert http.get(info["management_url"] + "/_sandbox/info").json() == info
            r = http.get(info["gateway_url"] + "/status-0123456789abcdef")
            assert r.status_code == 200 and r.json()["tokenKeyType"] == "secondary"
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:  # traffic is flowing: requests show up in the metrics
                if "azure_apim_requests_total{" in http.get(info["metrics_url"]).text:
                    break
                time.sleep(0.1)
            else:
                raise AssertionError("no traffic reached the gateway")
            assert http.get(info["management_url"] + "/_sandbox/traffic").json()["enabled"] is True
    finally:
        assert stop() == 0
