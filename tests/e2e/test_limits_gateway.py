"""Limits written by the console are what the sandbox gateway enforces (issue #4 with #3).

J1 in small: a throttled subscription, its limit raised for two (sandbox-clock) minutes, 429s
gone, then back once the instant passes — with no write after the override.
"""

from __future__ import annotations

import httpx
import pytest

from aiconsole.backends.connect import sandbox_connection
from aiconsole.services.context import ServiceContext
from aiconsole.services.limit_writes import LimitWriter, parse_until
from aiconsole.services.limits import LimitsService
from tests.sandbox_fixture import start_sandbox


@pytest.fixture(scope="module")
def sandbox():
    info, stop = start_sandbox(subscriptions=40, seed=5, traffic=False)
    yield info
    stop()


@pytest.fixture
def services(sandbox):
    conn = sandbox_connection(sandbox["management_url"])
    ctx = ServiceContext.from_connection(conn)
    limits = LimitsService(ctx)
    return limits, LimitWriter(limits)


def advance(sandbox, seconds):
    httpx.post(f"{sandbox['management_url']}/_sandbox/clock", json={"advance_seconds": seconds}).raise_for_status()


def call(sandbox, api: dict, key: str, max_tokens: int = 400) -> httpx.Response:
    body = {"messages": [{"role": "user", "content": "Summarise the incident log in one line."}],
            "max_tokens": max_tokens}
    base = sandbox["gateway_url"]
    if api["kind"] == "azure-openai":
        url = f"{base}/{api['path']}/openai/deployments/{api['deployments'][0]}/chat/completions"
        return httpx.post(url, params={"api-version": "2024-10-21"}, json=body, headers={"api-key": key})
    body["model"] = api["models"][0]
    return httpx.post(f"{base}/{api['path']}/chat/completions", json=body, headers={"api-key": key})


def accepted_tokens_until_429(sandbox, api, key, *, budget_calls=400) -> tuple[list[int], httpx.Response]:
    """Tokens of each accepted call, in order, and the first refused response."""
    used: list[int] = []
    for _ in range(budget_calls):
        r = call(sandbox, api, key)
        if r.status_code == 429:
            return used, r
        assert r.status_code == 200, r.text
        used.append(r.json()["usage"]["total_tokens"])
    raise AssertionError("the gateway never throttled")


def assert_enforced(used: list[int], limit: int) -> None:
    """As in APIM: calls are admitted while the minute's count is under the limit, so the last
    admitted call may carry the total past it, but no call is admitted once it is reached."""
    assert used, "throttled before any call"
    assert sum(used[:-1]) < limit <= sum(used) + max(used)


def test_set_then_override_then_expiry_are_enforced_by_the_gateway(sandbox, services):
    limits, writer = services
    backend = limits.backend
    sid = sandbox["noisy_subscription"]
    chain = limits.effective(subscription=sid)
    api = next(a for a in sandbox["apis"] if a["id"] == chain.apis[0])
    key = backend.list_secrets(sid).primary_key.get_secret_value()
    scope = chain.binding.scope
    assert scope.kind == "product"

    # 1. a new product TPM is what the gateway enforces
    writer.apply(writer.plan_set(scope, tpm=600))
    used, refused = accepted_tokens_until_429(sandbox, api, key)
    assert_enforced(used, 600)
    assert int(refused.headers["Retry-After"]) >= 1

    # 2. an override for two sandbox minutes lifts it for this subscription only
    advance(sandbox, 61)  # a fresh minute window
    until = parse_until("2m", limits.now())
    plan = writer.plan_override(subscription=sid, tpm=3000, until=until, reason="J1 test")
    written = writer.apply(plan)
    used_raised, _ = accepted_tokens_until_429(sandbox, api, key)
    assert_enforced(used_raised, 3000)

    # 3. past the instant the gateway reverts by itself: nothing else is written
    advance(sandbox, 181)
    used_after, _ = accepted_tokens_until_429(sandbox, api, key)
    assert_enforced(used_after, 600)
    assert backend.get_policy(scope).etag == written.etag
    assert limits.effective(subscription=sid).binding.effective_tpm == 600
