"""The sandbox's backend pool (capacity, priority, weight, breakers) and the per-backend series it
exports, read back by ``telemetry.usage_backends`` — on a frozen sandbox clock, no sleeping."""

from __future__ import annotations

from datetime import UTC, datetime

from aiconsole.sandbox.clock import Clock
from aiconsole.sandbox.gateway.backends_pool import BackendPools, duration_seconds
from aiconsole.sandbox.seed import build_state
from aiconsole.sandbox.seed_backends import BackendEntity, breaker_rule
from aiconsole.telemetry.usage_backends import parse_backend_health

T0 = datetime(2026, 11, 24, 10, 0, 1, tzinfo=UTC)


def world():
    state = build_state(seed=2, subscriptions=0, clock=Clock(frozen_at=T0))
    v = state.next_version
    for bid in ("a", "b", "c"):
        state.backends[bid] = BackendEntity(bid=bid, url=f"https://{bid}.example", protocol="http", description="",
                                            version=v(), breaker_rules=[breaker_rule(count=2, trip="PT10S",
                                                                                     accept_retry_after=False)])
    state.backends["p"] = BackendEntity(bid="p", url="", protocol="http", description="", version=v(), kind="Pool",
                                        pool=[{"id": "a", "priority": 1, "weight": 3}, {"id": "b", "priority": 1, "weight": 1},
                                              {"id": "c", "priority": 2, "weight": 1}])
    return state, BackendPools(state)


POOL = ['<policies><inbound><set-backend-service backend-id="other" /></inbound></policies>',
        '<policies><inbound><set-backend-service backend-id="p" /></inbound></policies>']


def test_the_most_specific_backend_wins_and_weights_share_a_priority():
    state, pools = world()
    assert pools.backend_id(POOL) == "p" and pools.backend_id(["<policies />"]) is None
    picks = [pools.acquire(POOL, 10).backend_id for _ in range(40)]
    assert picks.count("a") == 30 and picks.count("b") == 10  # priority 2 untouched while 1 is healthy


def test_breaker_trips_on_5xx_fails_over_closes_after_trip_duration_and_503_when_all_open():
    state, pools = world()
    for bid in ("a", "b"):
        for _ in range(2):
            lease = pools.acquire([f'<set-backend-service backend-id="{bid}" />'], 1)
            pools.finish(lease, 500)
    assert {pools.acquire(POOL, 1).backend_id for _ in range(5)} == {"c"}
    for _ in range(2):
        pools.finish(pools.acquire(POOL, 1), 503)
    lease = pools.acquire(POOL, 1)
    assert lease.refusal is not None and lease.refusal[0] == 503 and lease.refusal[2]["Retry-After"]
    state.clock.advance(11)
    assert pools.acquire(POOL, 1).refusal is None


def test_capacity_429_with_retry_after_and_the_exported_series():
    state, pools = world()
    state.backends["a"].capacity_tpm = 100
    state.backends["a"].breaker_rules = [breaker_rule(count=1)]  # accept Retry-After
    single = ['<set-backend-service backend-id="a" />']
    assert pools.acquire(single, 80).refusal is None
    lease = pools.acquire(single, 80)
    assert lease.refusal[0] == 429 and lease.refusal[2]["Retry-After"] == "59"
    assert pools.acquire(single, 1).refusal[0] == 503  # tripped for the deployment's Retry-After
    text = "\n".join(f'{n}{{{",".join(f"{k}={chr(34)}{v}{chr(34)}" for k, v in labels.items())}}} {value}'
                     for n, _doc, labels, value in pools.gauges()) + "\n"
    health = parse_backend_health(text)["a"]
    assert health.throttled == 1 and health.tripped and 58 <= health.seconds_left <= 59 and health.trips == 1
    assert health.responses.get(503) == 1
    assert duration_seconds("PT1M30S") == 90 and duration_seconds("P1D") == 86400 and duration_seconds("x", 5) == 5
