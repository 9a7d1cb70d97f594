"""``:limits`` with Pilot against a real sandbox: list, edit through the diff preview, override
from a subscription's chain, the 412 path, read-only (issue #4 item 5).

The console talks to the sandbox through the real SDK over loopback, as it does in ``demo``.
"""

from __future__ import annotations

import pytest

from aiconsole.backends.connect import sandbox_connection
from aiconsole.domain.models import PolicyScope
from aiconsole.tui.app import AiConsoleApp
from aiconsole.tui.clock import FrozenClock
from aiconsole.tui.screens.limit_chain import EffectiveChainScreen
from aiconsole.tui.screens.limit_diff import ConflictScreen, DiffPreviewScreen
from aiconsole.tui.screens.limit_forms import LimitEditForm, OverrideForm
from aiconsole.tui.screens.limits import LimitsScreen
from tests.sandbox_fixture import start_sandbox
from tests.tui.helpers import SIZES, has_rows, showing, wait_until

pytestmark = pytest.mark.anyio



@pytest.fixture(scope="module")
def sandbox():
    info, stop = start_sandbox(subscriptions=30, seed=3, traffic=False)
    yield info
    stop()


@pytest.fixture(scope="module")
def pristine():
    """A sandbox nothing writes to, so snapshots do not depend on test order."""
    info, stop = start_sandbox(subscriptions=30, seed=3, traffic=False)
    yield info
    stop()


def make_app(sandbox, **flags) -> AiConsoleApp:
    conn = sandbox_connection(sandbox["management_url"], **flags)
    conn.label = f"sandbox / {conn.service_name}"  # no port number: snapshots stay stable
    return AiConsoleApp(connection=conn, clock=FrozenClock(), cursor_blink=False, start_command="limits")


def policy_text(sandbox, scope: str) -> str:
    return sandbox_connection(sandbox["management_url"]).backend().get_policy(PolicyScope.parse(scope)).xml


async def loaded(pilot) -> LimitsScreen:
    app = pilot.app
    await wait_until(pilot, lambda: has_rows(app.screen, LimitsScreen),
                     timeout=20, what="limits to load")
    return app.screen


async def select(pilot, screen: LimitsScreen, scope: str) -> None:
    key = next(r.key for r in screen.table.model.rows() if r.cells[0] == scope)
    assert screen.table.move_cursor_to_key(key)
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
async def test_limits_table_lists_every_scope(sandbox, size):
    app = make_app(sandbox)
    async with app.run_test(size=size) as pilot:
        screen = await loaded(pilot)
        scopes = {r.cells[0] for r in screen.table.model.rows()}
        assert {"product:starter", "product:premium", "api:llm"} <= scopes
        await pilot.press("slash", *"premium", "enter")
        assert screen.table.model.visible_count == 1


async def test_edit_goes_through_the_diff_preview_and_writes(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await loaded(pilot)
        await select(pilot, screen, "product:premium")
        await pilot.press("e")
        await wait_until(pilot, lambda: showing(app, LimitEditForm), what="edit form")
        form = app.screen
        tpm = form.query_one("#tpm")
        tpm.value = "-5"
        await pilot.pause()
        assert "positive whole number" in str(form.query_one("#tpm-problem").render())
        assert form.query_one("#form-ok").disabled
        tpm.value = "123456"
        await pilot.pause()
        await pilot.press("enter")
        await wait_until(pilot, lambda: showing(app, DiffPreviewScreen), what="diff preview")
        assert 'tokens-per-minute="123456"' in str(app.screen.query_one("#diff-text").render())
        await pilot.press("y")
        await wait_until(pilot, lambda: 'tokens-per-minute="123456"' in policy_text(sandbox, "product:premium"),
                         what="the write")
        await wait_until(pilot, lambda: any(r.cells[0] == "product:premium" and r.cells[3] == "123,456"
                                            for r in screen.table.model.rows()), what="the table to refresh")


async def test_override_from_the_chain_of_a_subscription(sandbox):
    sid = sandbox["noisy_subscription"]
    app = make_app(sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        app.run_command(f"limits {sid}")
        await wait_until(pilot, lambda: has_rows(app.screen, EffectiveChainScreen), timeout=20, what="the chain")
        chain = app.screen
        binding = next(r for r in chain.table.model.rows() if r.cells[0] == "◀")
        await pilot.press("o")
        await wait_until(pilot, lambda: showing(app, OverrideForm), what="override form")
        form = app.screen
        assert form.value("subject") == sid
        form.query_one("#tpm").value = "50000"
        form.query_one("#reason").value = "INC-7 pilot"
        await pilot.pause()
        await pilot.press("enter")
        await wait_until(pilot, lambda: showing(app, DiffPreviewScreen), what="diff preview")
        assert "aiconsole-override" in str(app.screen.query_one("#diff-text").render())
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, EffectiveChainScreen)
                         and any("▲" in r.cells[6] for r in app.screen.table.model.rows()), what="override shown")
        assert "aiconsole-override" in policy_text(sandbox, binding.cells[1])
        assert any(r.cells[3] == "50,000" for r in chain.table.model.rows())


async def test_a_concurrent_change_opens_the_conflict_screen_and_reapply_keeps_both(sandbox):
    app = make_app(sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await loaded(pilot)
        await select(pilot, screen, "product:trial")
        await pilot.press("e")
        await wait_until(pilot, lambda: showing(app, LimitEditForm), what="edit form")
        app.screen.query_one("#tpm").value = "7777"
        await pilot.pause()
        await pilot.press("enter")
        await wait_until(pilot, lambda: showing(app, DiffPreviewScreen), what="diff preview")

        other = sandbox_connection(sandbox["management_url"]).backend()
        doc = other.get_policy(PolicyScope.parse("product:trial"))
        other.put_policy(doc.scope, doc.xml.replace("<inbound>", "<inbound>\n        <!-- someone else -->", 1),
                         etag=doc.etag)

        await pilot.press("y")
        await wait_until(pilot, lambda: showing(app, ConflictScreen), what="the 412 screen")
        assert "someone else" in str(app.screen.query_one("#conflict-server").render())
        await pilot.press("r")
        await wait_until(pilot, lambda: showing(app, DiffPreviewScreen), what="a fresh preview")
        await pilot.press("y")
        await wait_until(pilot, lambda: 'tokens-per-minute="7777"' in policy_text(sandbox, "product:trial"),
                         what="the re-applied write")
        assert "someone else" in policy_text(sandbox, "product:trial")


async def test_read_only_profile_hides_the_write_keys(sandbox):
    app = make_app(sandbox, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await loaded(pilot)
        for action in ("edit", "override", "undo", "remove_override"):
            assert screen.check_action(action, ()) is False
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, LimitsScreen)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_limits(pristine, size, snap_compare):
    async def run_before(pilot):
        await loaded(pilot)
        await pilot.pause()

    assert snap_compare(make_app(pristine), terminal_size=size, run_before=run_before)


def test_snapshot_chain(pristine, snap_compare):
    async def run_before(pilot):
        await loaded(pilot)
        pilot.app.run_command(f"limits {pristine['noisy_subscription']}")
        await wait_until(pilot, lambda: has_rows(pilot.app.screen, EffectiveChainScreen), timeout=20, what="the chain")
        await pilot.pause()

    assert snap_compare(make_app(pristine), terminal_size=(80, 24), run_before=run_before)
