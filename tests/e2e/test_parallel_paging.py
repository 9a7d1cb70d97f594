"""Parallel $skip paging returns every subscription exactly once, also under faults (issue #9).

The adapter fetches the first page, then up to 8 pages at once; ARM 429s (with Retry-After),
500s and latency are injected by the sandbox and absorbed by the SDK pipeline's retry policy.
"""

from __future__ import annotations

import pytest

from aiconsole.backends.connect import sandbox_connection
from tests.sandbox_fixture import set_faults, start_sandbox

N = 1234


@pytest.fixture(scope="module")
def sandbox():
    info, stop = start_sandbox(subscriptions=N, seed=4, traffic=False)
    yield info
    stop()


def names(backend, **kw) -> list[str]:
    return [s.name for page in backend.iter_subscription_pages(**kw) for s in page]


def test_parallel_and_sequential_walks_agree(sandbox):
    backend = sandbox_connection(sandbox["management_url"]).backend()
    sequential = names(backend, concurrency=1)
    parallel = names(backend, concurrency=8)
    assert len(sequential) == N == len(set(sequential))
    assert parallel == sequential  # same items, same order


def test_every_item_exactly_once_under_throttling_errors_and_latency(sandbox):
    backend = sandbox_connection(sandbox["management_url"]).backend()
    expected = set(names(backend, concurrency=1))
    set_faults(sandbox, arm_throttle_rate=0.2, retry_after_seconds=1, error_rate=0.05, latency_ms=10)
    try:
        got = names(backend, concurrency=8)
    finally:
        set_faults(sandbox)
    assert len(got) == len(set(got)) == N
    assert set(got) == expected


def test_a_filtered_walk_pages_in_parallel_too(sandbox):
    backend = sandbox_connection(sandbox["management_url"]).backend()
    got = names(backend, odata_filter="state eq 'active'", page_size=50)
    assert got and len(got) == len(set(got))
    everything = [s for page in backend.iter_subscription_pages(concurrency=1) for s in page]
    assert set(got) == {s.name for s in everything if s.state.value == "active"}
