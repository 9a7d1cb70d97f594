"""Pilot tests are coroutines: run them on asyncio through anyio's pytest plugin (anyio comes
with httpx, so no extra test dependency is needed)."""

import pytest


@pytest.fixture
def anyio_backend():
    return "asyncio"
