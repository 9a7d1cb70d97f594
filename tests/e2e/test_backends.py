"""Backends end to end: ARM backend operations with the real SDK, and a breaker that trips and recovers.

Traffic is driven by explicit requests; time moves only through ``POST /_sandbox/clock``.
"""

from __future__ import annotations

import contextlib
import io
import json
from datetime import timedelta

import httpx
import pytest
from azure.mgmt.apimanagement import models as m

from aiconsole.backends.connect import sandbox_connection
from aiconsole.cli.main import main
from tests.sandbox_fixture import sandbox_clock, sdk_client, start_sandbox, wait_for

BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * 400}], "max_tokens": 200}  # ~309 tokens


@pytest.fixture(scope="module")
def sandbox():
    info, stop = start_sandbox(subscriptions=12, seed=7, traffic=False)
    yield info
    stop()


def backends(sandbox) -> dict[str, dict]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--sandbox", sandbox["management_url"], "-o", "json", "backends", "list"]) == 0
    return {row["name"]: row for row in json.loads(out.getvalue())}


def test_list_shows_pools_members_and_breaker_rules(sandbox):
    rows = backends(sandbox)
    pool = rows["aoai-pool"]
    assert pool["type"] == "Pool"
    assert [(x["backend"], x["priority"], x["weight"]) for x in pool["members"]] == [
        ("aoai-westeurope-ptu", 1, 1), ("aoai-swedencentral-paygo", 2, 1)]
    rule = rows["aoai-westeurope-ptu"]["circuit_breaker"][0]
    assert rule["failure_condition"] == "1 × 429, 500-599 in PT1M"
    assert rule["trip_duration"] == "PT1M" and rule["accept_retry_after"] is True
    assert rows["aoai-westeurope-ptu"]["pools"] == ["aoai-pool"]
    assert rows["aoai-westeurope-ptu"]["apis"] == ["chat-pool"] and rows["aoai-pool"]["apis"] == ["chat-pool"]
    assert rows["openai-backend"]["apis"] == ["azure-openai"]
    assert rows["aoai-swedencentral-paygo"]["credentials"]["headers"] == {"api-key": "{{aoai-paygo-key}}"}


def test_breaker_trips_fails_over_and_recovers(sandbox):
    key = sandbox_connection(sandbox["management_url"]).backend().list_secrets("platform-all-apis").primary_key
    now = sandbox_clock(sandbox)
    sandbox_clock(sandbox, set=(now.replace(second=0, microsecond=0) + timedelta(minutes=1, seconds=1)).isoformat())
    url = f"{sandbox['gateway_url']}/chat/chat/completions"

    def call() -> int:
        return httpx.post(url, json=BODY, headers={"api-key": key.get_secret_value()}).status_code

    statuses = [call() for _ in range(6)]
    # PTU capacity (400 tokens/min) serves one, answers the next with 429 and Retry-After; the breaker
    # (1 × 429 in PT1M, honouring Retry-After) trips and the pool fails over to priority 2.
    assert statuses == [200, 429, 200, 200, 200, 200]
    rows = backends(sandbox)
    ptu, paygo = rows["aoai-westeurope-ptu"], rows["aoai-swedencentral-paygo"]
    assert ptu["state"] == "tripped" and ptu["health"]["tripped"] and ptu["health"]["429"] == 1
    assert ptu["health"]["trips"] == 1 and 0 < ptu["health"]["trip_seconds_left"] <= 60
    assert paygo["health"]["responses"] == {"200": 4} and paygo["state"] == "ok"
    from aiconsole.services.backends import BackendsService, health_reader_for
    from aiconsole.services.context import ServiceContext

    conn = sandbox_connection(sandbox["management_url"])
    report = BackendsService(ServiceContext.from_connection(conn, backend=conn.backend()), health_reader_for(conn)).report()
    assert [r.info.name for r in report.saturated("chat-pool")] == ["aoai-westeurope-ptu"]
    assert report.saturated("azure-openai") == []

    sandbox_clock(sandbox, advance_seconds=61)  # Retry-After honoured: the breaker closes, a new minute starts
    assert call() == 200
    rows = backends(sandbox)
    ptu = rows["aoai-westeurope-ptu"]
    assert not ptu["health"]["tripped"] and ptu["health"]["responses"]["200"] == 2
    assert ptu["state"] == "failing"  # recovered, its earlier 429s still counted


def test_arm_backend_operations_with_the_sdk(sandbox):
    client = sdk_client(sandbox)
    rg, svc = sandbox["resource_group"], sandbox["service_name"]
    prefix = f"/subscriptions/{sandbox['subscription_id']}/resourceGroups/{rg}/providers/Microsoft.ApiManagement/service/{svc}"
    rule = m.CircuitBreakerRule(
        name="r", failure_condition=m.CircuitBreakerFailureCondition(
            count=2, interval="PT30S", status_code_ranges=[m.FailureStatusCodeRange(min=500, max=599)]),
        trip_duration="PT10S", accept_retry_after=False)
    single = m.BackendContract(url="https://x.example/openai", protocol="http", title="x",
                               circuit_breaker=m.BackendCircuitBreaker(rules=[rule]))
    created = client.backend.create_or_update(rg, svc, "x-single", single)
    assert created.circuit_breaker.rules[0].failure_condition.count == 2
    pool = m.BackendContract(type_properties_type="Pool", pool=m.BackendBaseParametersPool(services=[
        m.BackendPoolItem(id=f"{prefix}/backends/x-single", priority=1, weight=3)]))
    got = client.backend.create_or_update(rg, svc, "x-pool", pool)
    assert got.type_properties_type == "Pool" and got.pool.services[0].weight == 3
    etag = client.backend.get_entity_tag(rg, svc, "x-pool")
    assert etag
    patched = client.backend.update(rg, svc, "x-single", if_match="*",
                                    parameters=m.BackendUpdateParameters(title="renamed"))
    assert patched.title == "renamed" and patched.circuit_breaker.rules[0].trip_duration.total_seconds() == 10
    from azure.core.exceptions import HttpResponseError

    with pytest.raises(HttpResponseError) as stale:  # a stale ETag is refused
        client.backend.update(rg, svc, "x-single", if_match='"AAAAAAAAAAE="',
                              parameters=m.BackendUpdateParameters(title="again"))
    assert stale.value.status_code == 412
    with pytest.raises(Exception):  # a member of a pool cannot be deleted
        client.backend.delete(rg, svc, "x-single", if_match="*")
    client.backend.delete(rg, svc, "x-pool", if_match="*")
    client.backend.delete(rg, svc, "x-single", if_match="*")
    names = {b.name for b in client.backend.list_by_service(rg, svc)}
    assert "x-pool" not in names and "aoai-pool" in names


def test_demo_traffic_trips_the_breaker_fails_over_and_it_recovers():
    """The simulated consumers alone (no request of ours) saturate the PTU deployment: its breaker
    trips and the pool fails over; when the sandbox clock passes the trip, it closes, serves again
    and trips again. ``backends list`` shows each step. Waits are bounded polls, not sleeps."""
    info, stop = start_sandbox(subscriptions=12, seed=7, traffic=True, rps=40)
    try:
        def ptu() -> dict:
            return backends(info)["aoai-westeurope-ptu"]

        def poll(predicate, what, timeout=30.0):
            def matching():
                row = ptu()
                return row if predicate(row) else None

            return wait_for(matching, what, timeout=timeout, interval=0.2, details=ptu)

        # Start a sandbox minute: the PTU's next 429 then trips it for the ~59 s left of that minute
        # (Retry-After), long enough to watch the failover whatever second the run started at.
        now = sandbox_clock(info)
        sandbox_clock(info, set=(now.replace(second=0, microsecond=0) + timedelta(minutes=1, seconds=1)).isoformat())
        tripped = poll(lambda r: r["state"] == "tripped" and r["health"]["trip_seconds_left"] > 30,
                       "the breaker to trip for the rest of the minute")
        assert tripped["health"]["429"] >= 1 and tripped["health"]["trips"] >= 1
        paygo_before = backends(info)["aoai-swedencentral-paygo"]["health"]["responses"].get("200", 0)
        poll(lambda r: r["state"] == "tripped" and backends(info)["aoai-swedencentral-paygo"]["health"]["responses"]
             .get("200", 0) > paygo_before, "the pool to fail over to pay-as-you-go")
        served = tripped["health"]["responses"].get("200", 0)
        trips = tripped["health"]["trips"]
        sandbox_clock(info, advance_seconds=61)  # past Retry-After: the breaker closes, a new capacity minute starts
        again = poll(lambda r: r["health"]["trips"] > trips and r["health"]["responses"].get("200", 0) > served,
                     "the breaker to close, serve and trip again")
        assert again["state"] == "tripped"
    finally:
        stop()
