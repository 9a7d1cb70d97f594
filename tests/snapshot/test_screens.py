"""SVG snapshots of every screen of the console (baselines in ``snapshots/test_screens/``).

Stable by construction: seeded fake data (tests/tui/fakes.py), a frozen clock (data age stays
"updated 0s ago"), no cursor blink, animations off (tests/conftest.py). Keys are only ever
masked here: no snapshot may contain key material (checked below).

Update baselines with ``pytest tests/snapshot --snapshot-update`` and look at the diff report.
"""

from __future__ import annotations

import pytest

from aiconsole.tui.screens.confirm import ConfirmScreen
from aiconsole.tui.screens.help import HelpScreen
from aiconsole.tui.screens.subscription_detail import SubscriptionDetailScreen
from aiconsole.tui.screens.subscriptions import SubscriptionsScreen
from tests.tui.fakes import FakePort
from tests.tui.helpers import make_app, wait_until


async def _list_loaded(pilot) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: isinstance(app.screen, SubscriptionsScreen), what="list")
    screen = app.screen
    await wait_until(pilot, lambda: screen.loading_pages is None and len(screen.table.model) > 0, what="rows")
    app.clear_notifications()
    await pilot.pause()


async def _detail_loaded(pilot) -> None:
    await _list_loaded(pilot)
    await pilot.press("enter")
    app = pilot.app
    await wait_until(pilot, lambda: isinstance(app.screen, SubscriptionDetailScreen), what="detail")
    detail = app.screen
    await wait_until(pilot, lambda: detail.keys is not None and bool(detail.detail), what="keys")
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_subscriptions(snap_compare, size):
    assert snap_compare(make_app(FakePort(60)), terminal_size=size, run_before=_list_loaded)


def test_subscriptions_filtered_and_sorted(snap_compare):
    async def run_before(pilot):
        await _list_loaded(pilot)
        await pilot.press("slash", *"omega")
        await pilot.press("enter", "s", "s", "S", "space")

    assert snap_compare(make_app(FakePort(60)), terminal_size=(80, 24), run_before=run_before)


def test_subscriptions_filter_bar_open(snap_compare):
    async def run_before(pilot):
        await _list_loaded(pilot)
        await pilot.press("slash", *"alpha")

    assert snap_compare(make_app(FakePort(60)), terminal_size=(80, 24), run_before=run_before)


def test_command_bar(snap_compare):
    async def run_before(pilot):
        await _list_loaded(pilot)
        await pilot.press("colon", *"the")

    assert snap_compare(make_app(FakePort(60)), terminal_size=(80, 24), run_before=run_before)


def test_read_only_production_header(snap_compare):
    assert snap_compare(make_app(FakePort(60), read_only=True, production=True), terminal_size=(80, 24),
                        run_before=_list_loaded)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_subscription_detail_masked(snap_compare, size):
    assert snap_compare(make_app(FakePort(60)), terminal_size=size, run_before=_detail_loaded)


def test_rotate_confirmation(snap_compare):
    async def run_before(pilot):
        await _detail_loaded(pilot)
        await pilot.press("R")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
        await pilot.pause()

    assert snap_compare(make_app(FakePort(60)), terminal_size=(80, 24), run_before=run_before)


def test_rotate_confirmation_production(snap_compare):
    async def run_before(pilot):
        await _detail_loaded(pilot)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
        await pilot.press(*"apim")
        await pilot.pause()

    assert snap_compare(make_app(FakePort(60), production=True), terminal_size=(80, 24), run_before=run_before)


def test_help(snap_compare):
    async def run_before(pilot):
        await _list_loaded(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
        await pilot.pause()

    assert snap_compare(make_app(FakePort(60)), terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("theme", ["light", "high-contrast", "colorblind-safe", "ansi-dark"])
def test_themes(snap_compare, theme):
    assert snap_compare(make_app(FakePort(60), theme_name=theme), terminal_size=(80, 24), run_before=_list_loaded)


def test_no_snapshot_contains_key_material():
    """Every key the fake can produce is absent from every baseline (masks only)."""
    from tests.conftest import SNAPSHOTS

    port = FakePort(60)
    keys = [k for pair in port._keys.values() for k in pair]
    folder = SNAPSHOTS / "test_screens"
    if not folder.is_dir():
        pytest.skip("no baselines yet: run with --snapshot-update")
    svgs = sorted(folder.glob("*.svg"))
    assert svgs, f"no SVG baselines in {folder}"
    assert len(keys) == 120  # 60 subscriptions, two keys each
    for svg in svgs:
        text = svg.read_text(encoding="utf-8")
        for key in keys:
            assert key not in text, svg.name
