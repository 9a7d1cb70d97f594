"""``:auth``, ``:usage`` and ``:backends`` with Pilot against one sandbox (issue #11).

Traffic is explicit: a few chat requests for usage, then enough on the pooled API to trip the
PTU deployment's breaker; the sandbox clock is moved (never slept) to let it close again. The
tests run in file order: tripped first, recovered after, snapshots last.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from aiconsole.backends.connect import sandbox_connection
from aiconsole.tui.app import AiConsoleApp
from aiconsole.tui.clock import FrozenClock
from aiconsole.tui.screens.auth import PostureScreen
from aiconsole.tui.screens.backends import BackendsScreen
from aiconsole.tui.screens.usage import UsageScreen
from tests.sandbox_fixture import sandbox_clock, start_sandbox
from tests.tui.helpers import has_rows, wait_until

pytestmark = pytest.mark.anyio
POOL_BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * 400}], "max_tokens": 200}


@pytest.fixture(scope="module")
def sandbox():
    info, stop = start_sandbox(subscriptions=12, seed=4, traffic=False)
    backend = sandbox_connection(info["management_url"]).backend()
    keys = {sid: backend.list_secrets(sid).primary_key.get_secret_value()
            for sid in ("support-bot-prod", "platform-all-apis")}
    for i in range(3):
        r = httpx.post(f"{info['gateway_url']}/openai/deployments/gpt-4o/chat/completions",
                       params={"api-version": "2024-10-21"}, headers={"api-key": keys["support-bot-prod"]},
                       json={"messages": [{"role": "user", "content": "hello " * (i + 1)}], "max_tokens": 50})
        assert r.status_code == 200
    info["pool_key"] = keys["platform-all-apis"]
    # Saturate the PTU deployment within one sandbox minute: 1 served, 1 refused (429), tripped.
    now = sandbox_clock(info)
    sandbox_clock(info, set=(now.replace(second=0, microsecond=0) + timedelta(minutes=1, seconds=1)).isoformat())
    info["pool_statuses"] = [httpx.post(f"{info['gateway_url']}/chat/chat/completions", json=POOL_BODY,
                                        headers={"api-key": info["pool_key"]}).status_code for _ in range(8)]
    yield info
    stop()


def make_app(sandbox, command: str) -> AiConsoleApp:
    conn = sandbox_connection(sandbox["management_url"])
    conn.label = f"sandbox / {conn.service_name}"  # no port number in what is snapshotted
    return AiConsoleApp(connection=conn, clock=FrozenClock(), cursor_blink=False, start_command=command)


def share_bar(value: int, biggest: int, width: int = 12) -> str:
    """What the Share column should show: whole cells of the share, then one partial cell (picked
    from ``▏▎▍▌▋▊▉`` by the remainder in sevenths) when at least a seventh is left, then ``░``."""
    exact = width * value / biggest
    full = int(exact)
    rest = exact - full
    part = "▏▎▍▌▋▊▉"[int(rest * 7)] if full < width and rest >= 1 / 7 else ""
    return ("█" * full + part).ljust(width, "░")


def cells(screen, key) -> tuple[str, ...]:
    return next(r.cells for r in screen.table.model.rows() if r.key == key)


async def test_auth_view_shows_every_layer(sandbox):
    app = make_app(sandbox, "auth")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: has_rows(app.screen, PostureScreen), timeout=20, what="posture")
        screen = app.screen
        assert cells(screen, "chat-pool")[1:5] == ("✓ ok", "✓ ok", "✓ ok", "✓ ok")
        assert cells(screen, "legacy-completions")[1:5] == ("✗ fail", "! warn", "! warn", "✗ fail")
        assert "plain text" in cells(screen, "legacy-completions")[5]
        screen.table.move_cursor_to_key("hr-assistant")
        await pilot.pause()
        detail = str(screen.query_one("#posture-detail").render())
        assert "api://hr-assistant" in detail and "Managed identity" in detail


async def test_backends_view_shows_the_breaker_trip_then_recovery(sandbox):
    assert sandbox["pool_statuses"] == [200, 429, 200, 200, 200, 200, 200, 200]  # tripped, failed over
    app = make_app(sandbox, "backends")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: has_rows(app.screen, BackendsScreen), timeout=20, what="backends")
        screen = app.screen
        ptu = cells(screen, "aoai-westeurope-ptu")
        assert ptu[1] == "✗ tripped" and ptu[4] == "1" and ptu[6].endswith("s")
        assert cells(screen, "aoai-pool")[2] == "p1 aoai-westeurope-ptu, p2 aoai-swedencentral-paygo"
        assert "tripped" in str(screen.query_one("#status").render())
        sandbox_clock(sandbox, advance_seconds=120)
        await pilot.press("f5")
        await wait_until(pilot, lambda: cells(screen, "aoai-westeurope-ptu")[1] != "✗ tripped", timeout=10,
                         what="the breaker to close")
        assert cells(screen, "aoai-westeurope-ptu")[1] == "! failing" and cells(screen, "aoai-westeurope-ptu")[6] == ""


async def test_usage_view_groups_and_totals(sandbox):
    app = make_app(sandbox, "usage")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: has_rows(app.screen, UsageScreen), timeout=20, what="usage")
        screen = app.screen
        keys = {r.key for r in screen.table.model.rows()}
        assert {"support-bot-prod", "platform-all-apis"} <= keys
        # each bar is its row's share of the biggest total, read from the Tokens column
        tokens = {r.key: int(r.cells[2].replace(",", "")) for r in screen.table.model.rows()}
        biggest = max(tokens.values())
        assert tokens["platform-all-apis"] == biggest and tokens["support-bot-prod"] < biggest
        assert cells(screen, "platform-all-apis")[1] == "█" * 12
        assert cells(screen, "support-bot-prod")[1] == share_bar(tokens["support-bot-prod"], biggest)
        await pilot.press("b")
        await wait_until(pilot, lambda: any(r.key == "premium" for r in screen.table.model.rows()), timeout=20,
                         what="grouping by product")
        assert "by product" in str(screen.query_one("#status").render())


@pytest.mark.parametrize("command,size", [("auth", (80, 24)), ("usage", (80, 24)), ("backends", (80, 24)),
                                          ("backends", (120, 40))])
def test_snapshot(sandbox, command, size, snap_compare):
    kind = {"auth": PostureScreen, "usage": UsageScreen, "backends": BackendsScreen}[command]

    if command == "backends":
        sandbox_clock(sandbox, advance_seconds=120)  # the breaker has closed again whatever ran before

    async def run_before(pilot):
        await wait_until(pilot, lambda: has_rows(pilot.app.screen, kind), timeout=20, what=command)
        await pilot.pause()

    assert snap_compare(make_app(sandbox, command), terminal_size=size, run_before=run_before)
