"""Pilot tests are coroutines: run them on asyncio through anyio's pytest plugin (anyio comes
with httpx, so no extra test dependency is needed). TUI modules that drive a real sandbox get the
default one as the ``sandbox`` fixture."""

import pytest

from tests import sandbox_fixture

#: the default sandbox (seed 1, 200 subscriptions, module scope) for a TUI module that does not
#: start its own; a module's own ``sandbox`` fixture takes precedence
sandbox = sandbox_fixture.sandbox


@pytest.fixture
def anyio_backend():
    return "asyncio"
