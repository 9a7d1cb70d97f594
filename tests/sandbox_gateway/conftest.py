"""Fixtures for the gateway tests: a frozen sandbox clock and helpers to build policy docs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aiconsole.sandbox.clock import Clock
from aiconsole.sandbox.gateway.chain import PolicyDoc
from aiconsole.sandbox.gateway.context import RequestInfo
from aiconsole.sandbox.gateway.engine import PolicyEngine

START = datetime(2026, 3, 10, 14, 0, 0, tzinfo=UTC)  # a Tuesday, on the hour

EMPTY_SECTIONS = "<backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error>"


def make_policy(inbound: str, *, scope: str = "api:openai", etag: str | None = None, base: bool = True) -> PolicyDoc:
    """A ``format=xml`` document whose inbound section is ``inbound`` (after ``<base />``)."""
    text = f"<policies><inbound>{'<base />' if base else ''}{inbound}</inbound>{EMPTY_SECTIONS}</policies>"
    return PolicyDoc(scope=scope, text=text, etag=etag or str(hash(text)))


@pytest.fixture
def clock() -> Clock:
    return Clock(frozen_at=START)


@pytest.fixture
def engine(clock: Clock) -> PolicyEngine:
    return PolicyEngine(clock)


@pytest.fixture
def make_request(clock: Clock):
    def make(sid: str = "sub-a", product: str | None = "starter", api: str = "openai", ip: str = "10.0.0.1") -> RequestInfo:
        return RequestInfo(now=clock.now(), subscription_id=sid, product_id=product, api_id=api, ip=ip)

    return make


@pytest.fixture
def policy():
    """``policy(inbound, scope=..., etag=..., base=...)`` builds a PolicyDoc."""
    return make_policy
