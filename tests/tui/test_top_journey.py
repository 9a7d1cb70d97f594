"""Journey J1 on a real sandbox with simulated traffic: ``:top`` shows the noisy consumer first
with its binding limit; ``:429`` names the token-rate limit at its product; drilling in, ``o``
raises its limit until a time (diff → confirm → apply) and its 429s fall; moving the sandbox
clock past that time brings them back, with no write of ours. No sleeping for timing: every wait
polls a condition with a bound."""

from __future__ import annotations

import httpx
import pytest

from aiconsole.backends.connect import sandbox_connection
from aiconsole.tui.app import AiConsoleApp
from aiconsole.tui.screens.limit_diff import DiffPreviewScreen
from aiconsole.tui.screens.limit_forms import OverrideForm
from aiconsole.tui.screens.sub_live import SubscriptionLiveScreen
from aiconsole.tui.screens.throttling import ThrottlingScreen
from aiconsole.tui.screens.top import TopScreen
from tests.sandbox_fixture import start_sandbox
from tests.tui.helpers import wait_until

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def sandbox():
    info, stop = start_sandbox(subscriptions=40, seed=1, traffic=True, rps=12)
    yield info
    stop()


def make_live_app(info, start: str = "top") -> AiConsoleApp:
    app = AiConsoleApp(connection=sandbox_connection(info["management_url"]), cursor_blink=False,
                       start_command=start)
    return app


def first(screen):
    """The data of the first row in view (the cursor follows its row, not the top)."""
    from textual.css.query import NoMatches

    try:
        row = screen.table.model.row_at(0)
    except NoMatches:  # not composed yet
        return None
    return None if row is None else row.data


def fast(screen) -> None:
    screen.poll_interval = 0.3


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_noisy_consumer_is_first_in_top_and_429(sandbox, size):
    noisy = sandbox["noisy_subscription"]
    app = make_live_app(sandbox)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, TopScreen), what=":top")
        top = app.screen
        fast(top)
        await pilot.press("left_square_bracket", "left_square_bracket")  # 10 s window: reacts fast
        await wait_until(pilot, lambda: first(top) is not None and first(top).key == noisy
                         and first(top).limit is not None and first(top).throttled_per_minute > 0,
                         timeout=40, what="the noisy consumer first, throttled, with its limit")
        row = first(top)
        assert row.limit.tokens_per_minute == 1000 and row.limit.scope == "product:starter"
        assert row.throttled_per_minute > 0
        assert "throttled" in str(top.query_one("#top-headline").content)
        assert "data " in top.data_age_label() and "live" in top.data_age_label()
        app.run_command("429")
        await wait_until(pilot, lambda: isinstance(app.screen, ThrottlingScreen), what=":429")
        t429 = app.screen
        fast(t429)
        await wait_until(pilot, lambda: first(t429) is not None
                         and first(t429).subscription in sandbox["noisy_subscriptions"],
                         timeout=30, what="a noisy consumer first in :429")
        event = first(t429)
        assert (event.reason, event.policy, event.scope) == ("token-rate", "llm-token-limit", "product:starter")
        assert top._active is False  # hidden screens do not poll
        polls = top.polls
        await pilot.pause(0.5)
        assert top.polls == polls


async def test_j1_override_makes_429s_fall_and_the_gateway_reverts_it(sandbox):
    noisy = sandbox["noisy_subscription"]
    app = make_live_app(sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, TopScreen), what=":top")
        top = app.screen
        fast(top)
        await pilot.press("left_square_bracket", "left_square_bracket")
        await wait_until(pilot, lambda: first(top) is not None and first(top).key == noisy
                         and first(top).throttled_per_minute > 0, timeout=40, what="noisy first")
        await pilot.press("home", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, SubscriptionLiveScreen), what="drill-in")
        detail = app.screen
        fast(detail)
        await wait_until(pilot, lambda: detail.chain is not None and detail.row is not None, timeout=20,
                         what="chain and traffic")
        assert detail.chain.binding.effective_tpm == 1000
        assert detail.row.throttled_per_minute > 0
        await pilot.press("P")  # probe: one request with the key, its limit headers shown (never the key)
        await wait_until(pilot, lambda: detail.probe is not None or detail.probe_error is not None, timeout=20,
                         what="probe")
        assert detail.probe is not None and detail.probe.status in (200, 429)
        assert "retry-after" in detail.probe.headers or "x-ratelimit-remaining-tokens" in detail.probe.headers
        await pilot.press("o")
        await wait_until(pilot, lambda: isinstance(app.screen, OverrideForm) and bool(app.screen.query("#tpm")),
                         what="override form")
        form = app.screen
        form.query_one("#tpm").value = "500000"
        form.query_one("#until").value = "2h"
        form.query_one("#reason").value = "J1 test"
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DiffPreviewScreen) and bool(app.screen.query("#diff-text")),
                         timeout=20, what="diff preview")
        body = str(app.screen.query_one("#diff-text").content)
        assert "500000" in body and "+" in body  # the diff names the new limit
        await pilot.press("y")
        await wait_until(pilot, lambda: detail.last_override is not None, timeout=20, what="override applied")
        await wait_until(pilot, lambda: detail.chain is not None and any(link.override for link in detail.chain.links),
                         timeout=20, what="chain shows the override")
        # 429s fall: a reading over the 10 s window with no refusal
        await wait_until(pilot, lambda: detail.row is not None and detail.row.throttled_per_minute == 0
                         and detail.row.tokens_per_minute > 0, timeout=40, what="429s to fall")
        # the gateway reverts it by itself once the instant passes (sandbox clock), no write of ours
        httpx.post(f"{sandbox['management_url']}/_sandbox/clock", json={"advance_seconds": 2 * 3600 + 60}).raise_for_status()
        await wait_until(pilot, lambda: detail.row is not None and (detail.row.throttled_per_minute or 0) > 0,
                         timeout=40, what="429s to come back after expiry")


async def test_top_on_the_azure_monitor_source_says_it_is_a_minute_late(sandbox):
    """``:top monitor``: the cloud path (metrics:getBatch through the real MetricsClient)."""
    # per-minute data counts complete minutes only: move the sandbox clock past this one
    httpx.post(f"{sandbox['management_url']}/_sandbox/clock", json={"advance_seconds": 60}).raise_for_status()
    app = make_live_app(sandbox, start="top monitor")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, TopScreen), what=":top")
        top = app.screen
        fast(top)
        await wait_until(pilot, lambda: top.report is not None and len(top.table.model) > 0, timeout=40,
                         what="a reading from Azure Monitor")
        assert top.report.snapshot.source == "azure_monitor"
        assert "~1 min delay" in top.data_age_label()
        # refusals per subscription come from the sandbox's gateway log (Log Analytics), as with a workspace
        assert top.report.snapshot.per_subscription_status
        assert not any("subscription dimension" in w for w in top.report.snapshot.warnings)
