"""The subscriptions journey on a real sandbox: the real SDK adapter, built in a worker.

Same steps as test_subscriptions_screen.py, but every call crosses a loopback socket to
``aiconsole sandbox`` through azure-mgmt-apimanagement, as a user's console does.
"""

from __future__ import annotations

import threading

import pytest

from aiconsole.backends.connect import sandbox_connection
from aiconsole.tui.app import AiConsoleApp
from aiconsole.tui.clock import FrozenClock
from aiconsole.tui.screens.confirm import ConfirmScreen
from aiconsole.tui.screens.subscription_detail import REVEAL_SECONDS, SubscriptionDetailScreen
from aiconsole.tui.screens.subscriptions import SubscriptionsScreen
from tests.tui.helpers import SIZES, notifications, wait_until

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("size", SIZES)
async def test_subscriptions_journey_against_the_sandbox(sandbox, size):
    connection = sandbox_connection(sandbox["management_url"])
    app = AiConsoleApp(connection=connection, clock=FrozenClock(), cursor_blink=False)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, SubscriptionsScreen))
        screen = app.screen
        table = screen.table
        await wait_until(pilot, lambda: table.model.visible_count > 0, timeout=30, what="first rows")
        await wait_until(pilot, lambda: screen.loading_pages is None, timeout=30, what="all pages")
        assert not screen._failed, notifications(app)
        total = len(table.model)
        assert total == 200  # the fixture's sandbox: 200 subscriptions, more than one page

        # filter narrows, locally
        first = table.model.row_at(0).cells[1]
        word = first.split()[0].lower()
        await pilot.press("slash", *word, "enter")
        assert 0 < table.model.visible_count <= total
        assert all(any(word in c.lower() for c in table.model.get(k).cells) for k in table.model.view)
        await pilot.press("escape")
        assert table.model.visible_count == total

        # sort by name
        await pilot.press("s")
        names = [table.model.get(k).cells[0].lower() for k in table.model.view]
        assert names == sorted(names)

        # drill in: masked keys
        await pilot.press("home", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, SubscriptionDetailScreen))
        detail = app.screen
        await wait_until(pilot, lambda: detail.keys is not None, timeout=30, what="keys")
        primary = detail.keys.primary_key.get_secret_value()
        text = str(detail.query_one("#detail-keys").content)
        assert f"••••••••{primary[-4:]}" in text and primary not in text

        # reveal, then the clock runs out
        await pilot.press("v")
        assert primary in str(detail.query_one("#detail-keys").content)
        app.clock.advance(REVEAL_SECONDS)
        detail.tick()
        assert primary not in str(detail.query_one("#detail-keys").content)

        # copy
        await pilot.press("c")
        assert app.clipboard == primary
        assert not any(primary in t for t in notifications(app))

        # rotate the primary slot after confirming
        before = detail.keys.fingerprints()
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_until(pilot, lambda: detail.rotating is None and detail.keys is not None
                         and detail.keys.fingerprints()["primary"] != before["primary"], timeout=30,
                         what="rotation")
        assert detail.keys.fingerprints()["secondary"] == before["secondary"]
        assert not any("Traceback" in t for t in notifications(app))


async def test_backend_is_built_off_the_ui_thread_after_the_first_screen():
    """The Azure SDK is imported when the backend is built: that must happen in a worker."""
    from tests.tui.fakes import FakePort
    from tests.tui.helpers import fake_connection

    seen: dict[str, object] = {}

    class RecordingConnection(type(fake_connection())):
        def backend(self):
            seen["thread"] = threading.current_thread() is threading.main_thread()
            seen["screen_ready"] = isinstance(app.screen, SubscriptionsScreen)
            return FakePort(5)

    base = fake_connection()
    connection = RecordingConnection(**{f: getattr(base, f) for f in base.__dataclass_fields__})
    app = AiConsoleApp(connection=connection, clock=FrozenClock(), cursor_blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: "thread" in seen)
        await wait_until(pilot, lambda: isinstance(app.screen, SubscriptionsScreen)
                         and app.screen.table.model.visible_count == 5)
    assert seen["thread"] is False
    assert seen["screen_ready"] is True


async def test_a_sandbox_that_goes_away_is_one_sentence_and_f5_retries():
    from tests.sandbox_fixture import start_sandbox

    info, stop = start_sandbox(seed=2, subscriptions=20)
    try:
        connection = sandbox_connection(info["management_url"])
        app = AiConsoleApp(connection=connection, clock=FrozenClock(), cursor_blink=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: isinstance(app.screen, SubscriptionsScreen))
            screen = app.screen
            await wait_until(pilot, lambda: screen.loading_pages is None and len(screen.table.model) == 20,
                             timeout=30, what="rows")
            stop()
            await pilot.press("f5")
            await wait_until(pilot, lambda: screen._failed, timeout=60, what="the failure")

            def errors():
                return [n for n in app._notifications if n.severity == "error"]

            await wait_until(pilot, lambda: bool(errors()), what="the error notification")
            # every worker has finished (nothing left that could report a second error), and the
            # messages they posted have been handled
            await wait_until(pilot, lambda: all(w.is_finished for w in app.workers), timeout=30,
                             what="the workers to finish")
            await pilot.pause()
            errors = errors()
            assert len(errors) == 1
            assert "Traceback" not in errors[0].message
            assert len(screen.table.model) == 20, "rows already shown stay on screen"
            assert "load failed" in str(screen.query_one("#status").content)
    finally:
        stop()
