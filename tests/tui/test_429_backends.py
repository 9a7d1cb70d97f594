"""``:429`` under the demo traffic alone: the pool consumer saturates the PTU deployment, and the
row for that refusal is a backend 429 naming the deployment, beside the gateway's token-limit rows."""

from __future__ import annotations

import httpx
import pytest

from aiconsole.backends.connect import sandbox_connection
from aiconsole.telemetry.port import BACKEND_429, TOKEN_RATE
from aiconsole.tui.app import AiConsoleApp
from aiconsole.tui.screens.throttling import ThrottlingScreen
from tests.sandbox_fixture import start_sandbox
from tests.tui.helpers import wait_until

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def sandbox():
    info, stop = start_sandbox(subscriptions=12, seed=3, traffic=True, rps=40)
    yield info
    stop()


def events(screen) -> list:
    return [r.data for r in screen.table.model.rows()]


async def test_a_backend_429_row_names_the_saturated_deployment(sandbox):
    app = AiConsoleApp(connection=sandbox_connection(sandbox["management_url"]), cursor_blink=False,
                       start_command="429")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ThrottlingScreen), what=":429")
        screen = app.screen
        screen.poll_interval = 0.3
        await wait_until(pilot, lambda: screen.polls >= 1, timeout=20, what="the first reading")
        # The PTU refuses once a sandbox minute: start a new one now that the screen is reading.
        httpx.post(f"{sandbox['management_url']}/_sandbox/clock", json={"advance_seconds": 61}).raise_for_status()
        await wait_until(pilot, lambda: any(e.reason == BACKEND_429 and "aoai-westeurope-ptu" in e.policy
                                            for e in events(screen)), timeout=40,
                         what="a backend 429 naming the PTU deployment")
        backend = next(e for e in events(screen) if e.reason == BACKEND_429)
        assert backend.subscription == "platform-all-apis" and backend.scope == "api:chat-pool"
        await wait_until(pilot, lambda: any(e.reason == TOKEN_RATE for e in events(screen)), timeout=40,
                         what="the noisy consumers' token-limit rows")
        assert all("aoai" not in e.policy for e in events(screen) if e.reason == TOKEN_RATE)
        line = next(r.cells for r in screen.table.model.rows() if r.data is backend)
        assert any("aoai-westeurope-ptu" in c for c in line)  # what the user reads in the Policy column
