"""``:ctx`` switches the running console to another profile (against two real sandboxes)."""

from __future__ import annotations

import pytest

from aiconsole.config.profiles import add_profile, current_profile_name
from aiconsole.tui.screens.contexts import ContextsScreen
from aiconsole.tui.screens.subscriptions import SubscriptionsScreen
from tests.sandbox_fixture import start_sandbox
from tests.tui.helpers import has_rows, make_app, wait_until

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def other_sandbox():
    info, stop = start_sandbox(subscriptions=12, seed=9, traffic=False)
    yield info
    stop()


async def test_switching_profile_reconnects_and_u_remembers_it(other_sandbox):
    add_profile("lab", {"kind": "sandbox", "url": other_sandbox["management_url"]}, make_current=False)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.run_command("ctx")
        await wait_until(pilot, lambda: has_rows(app.screen, ContextsScreen), what="profiles")
        assert [r.cells[1] for r in app.screen.table.model.rows()] == ["lab"]
        await pilot.press("u")
        await wait_until(pilot, lambda: app.connection.label.endswith(other_sandbox["service_name"])
                         and has_rows(app.screen, SubscriptionsScreen), timeout=20, what="the switch")
        assert len(app.screen.table.model) == 12
        assert current_profile_name() == "lab"
