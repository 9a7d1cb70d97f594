"""The sandbox server in-process: info, extension apps, faults, clock, routing and write rules."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from aiconsole.sandbox.seed import build_state
from aiconsole.sandbox.server import Sandbox, SandboxError

Q = {"api-version": "2024-05-01"}
AUTH = {"Authorization": "Bearer unit"}


def _echo_app(state):
    async def hello(request):
        return PlainTextResponse(state.service.name)

    return Starlette(routes=[Route("/", hello)])


@pytest.fixture(scope="module")
def running():
    state = build_state(5, 150)
    sandbox = Sandbox(state)
    sandbox.add_app("echo", _echo_app)
    sandbox.add_app("pair", _echo_app, info=lambda url: {"pair_url": url, "pair_alias_url": url + "/alias"})
    sandbox.add_info(lambda: {"extra_key": 42})
    info = sandbox.start_in_thread()
    with httpx.Client(base_url=info["management_url"], headers=AUTH, timeout=10) as client:
        yield sandbox, info, client
    sandbox.stop()
    assert sandbox.loop is not None and sandbox.loop.is_closed()


def test_info_lists_ids_urls_and_extension_keys(running):
    sandbox, info, client = running
    for key in ("management_url", "subscription_id", "resource_group", "service_name", "resource_id",
                "app_insights_resource_id", "echo_url", "pair_url", "pair_alias_url", "noisy_subscription"):
        assert info[key], key
    assert info["extra_key"] == 42
    assert client.get("/_sandbox/info", headers={"Authorization": ""}).json() == info
    assert httpx.get(info["echo_url"]).text == info["service_name"]
    assert info["resource_id"].endswith(f"/service/{info['service_name']}")
    assert info["noisy_subscription"] in sandbox.state.subscriptions


def test_non_loopback_hosts_are_refused():
    with pytest.raises(SandboxError):
        Sandbox(build_state(1, 1), host="0.0.0.0")
    out = subprocess.run([sys.executable, "-m", "aiconsole", "sandbox", "--host", "192.0.2.1"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "loopback" in out.stderr and out.stdout == ""


def test_faults_switch_on_and_off_at_run_time(running):
    _, info, client = running
    url = f"{info['resource_id']}/subscriptions/{info['noisy_subscription']}"
    assert client.get("/_sandbox/faults").json()["arm_throttle_rate"] == 0
    try:
        set_ = client.post("/_sandbox/faults", json={"arm_throttle_rate": 1, "retry_after_seconds": 7})
        assert set_.json()["arm_throttle_rate"] == 1
        throttled = client.get(url, params=Q)
        assert throttled.status_code == 429
        assert throttled.headers["Retry-After"] == "7"
        assert throttled.json()["error"]["code"] == "TooManyRequests"
        assert client.get("/_sandbox/info").status_code == 200  # the control surface is never faulted
        client.post("/_sandbox/faults", json={"arm_throttle_rate": 0, "error_rate": 1})
        failed = client.get(url, params=Q)
        assert failed.status_code == 500 and failed.json()["error"]["code"] == "InternalServerError"
    finally:
        client.post("/_sandbox/faults", json={"arm_throttle_rate": 0, "error_rate": 0})
    assert client.get(url, params=Q).status_code == 200
    bad = client.post("/_sandbox/faults", json={"error_rate": 3})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "ValidationError"
    assert client.post("/_sandbox/faults", content=b"nope").status_code == 400


def test_clock_moves_and_drives_gateway_token_expiry(running):
    sandbox, info, client = running
    before = datetime.fromisoformat(client.get("/_sandbox/clock").json()["now"].replace("Z", "+00:00"))
    moved = client.post("/_sandbox/clock", json={"advance_seconds": 7200}).json()
    after = datetime.fromisoformat(moved["now"].replace("Z", "+00:00"))
    assert (after - before).total_seconds() >= 7200
    target = datetime(2031, 5, 4, 3, 2, 1, tzinfo=UTC)
    set_ = client.post("/_sandbox/clock", json={"set": "2031-05-04T03:02:01Z"}).json()
    assert abs((datetime.fromisoformat(set_["now"].replace("Z", "+00:00")) - target).total_seconds()) < 5
    gw = next(iter(sandbox.state.gateways))
    token = client.post(f"{info['resource_id']}/gateways/{gw}/generateToken", params=Q,
                        json={"keyType": "primary", "expiry": "2031-05-04T05:00:00Z"}).json()["value"]
    assert sandbox.state.verify_gateway_token(token).ok
    client.post("/_sandbox/clock", json={"advance_seconds": 3 * 3600})
    assert sandbox.state.verify_gateway_token(token).reason == "expired"
    assert client.post("/_sandbox/clock", json={"set": "yesterday"}).status_code == 400
    client.post("/_sandbox/clock", json={"set": datetime.now(UTC).isoformat()})


def test_routing_is_case_insensitive_and_speaks_arm(running):
    _, info, client = running
    lowered = info["resource_id"].replace("resourceGroups", "resourcegroups").replace("Microsoft.ApiManagement",
                                                                                       "microsoft.apimanagement")
    assert client.get(f"{lowered}/products/STARTER", params=Q).json()["name"] == "starter"
    not_allowed = client.post(f"{info['resource_id']}/products/starter", params=Q)
    assert not_allowed.status_code == 405 and not_allowed.json()["error"]["code"] == "MethodNotAllowed"
    head = client.head(f"{info['resource_id']}/subscriptions/missing", params=Q)
    assert head.status_code == 404 and head.content == b""
    wrong = client.get(info["resource_id"].replace(info["service_name"], "other-apim") + "/products", params=Q)
    assert wrong.status_code == 404 and wrong.json()["error"]["code"] == "ResourceNotFound"


def test_next_link_is_absolute_and_keeps_the_query(running):
    _, info, client = running
    url = f"{info['resource_id']}/subscriptions"
    expected = [s["name"] for s in _all(client, url, {**Q, "$filter": "state eq 'active'"})]
    first = client.get(url, params={**Q, "$filter": "state eq 'active'", "$top": "20"}).json()
    link = urlsplit(first["nextLink"])
    assert f"{link.scheme}://{link.netloc}" == info["management_url"]
    query = parse_qs(link.query)
    assert query["api-version"] == ["2024-05-01"] and query["$filter"] == ["state eq 'active'"]
    assert query["$top"] == ["20"] and query["$skip"] == ["20"]
    names = [s["name"] for s in first["value"]]
    while "nextLink" in first:
        first = client.get(first["nextLink"]).json()
        names += [s["name"] for s in first["value"]]
    assert names == expected and len(names) == first["count"]
    assert client.get(url, params={**Q, "$top": "0"}).status_code == 400
    assert client.get(url, params={**Q, "$skip": "x"}).status_code == 400


def _all(client, url, params):
    body = client.get(url, params=params).json()
    items = list(body["value"])
    while body.get("nextLink"):
        body = client.get(body["nextLink"]).json()
        items += body["value"]
    return items


def test_subscription_write_rules(running):
    sandbox, info, client = running
    base = f"{info['resource_id']}/subscriptions"
    body = {"properties": {"scope": "/apis/llm", "displayName": "unit", "primaryKey": "p" * 40}}
    created = client.put(f"{base}/unit-sub", params=Q, json=body)
    assert created.status_code == 201 and created.json()["properties"]["state"] == "submitted"
    assert "primaryKey" not in created.json()["properties"]
    etag = created.headers["ETag"]
    secrets = client.post(f"{base}/unit-sub/listSecrets", params=Q)
    assert secrets.json()["primaryKey"] == "p" * 40 and secrets.headers["ETag"] == etag
    again = client.put(f"{base}/unit-sub", params=Q, headers={"If-Match": etag},
                       json={"properties": {"scope": "/apis", "displayName": "unit 2"}})
    assert again.status_code == 200 and again.headers["ETag"] != etag
    stale = client.put(f"{base}/unit-sub", params=Q, headers={"If-Match": etag},
                       json={"properties": {"scope": "/apis", "displayName": "unit 3"}})
    assert stale.status_code == 412
    dup = client.put(f"{base}/unit-dup", params=Q,
                     json={"properties": {"scope": "/apis", "displayName": "d", "secondaryKey": "p" * 40}})
    assert dup.status_code == 409
    assert client.patch(f"{base}/unit-sub", params=Q, json={"properties": {}}).status_code == 400
    assert client.delete(f"{base}/unit-sub", params=Q).status_code == 400
    assert client.delete(f"{base}/unit-sub", params=Q, headers={"If-Match": etag}).status_code == 412
    assert client.delete(f"{base}/unit-sub", params=Q, headers={"If-Match": "*"}).status_code == 200
    assert client.delete(f"{base}/unit-sub", params=Q, headers={"If-Match": "*"}).status_code == 204
    assert client.put(f"{base}/unit-x", params=Q, json={"properties": {"scope": "/products/none",
                                                                       "displayName": "x"}}).status_code == 404
    assert sandbox.state.find_subscription("unit-dup") is None
