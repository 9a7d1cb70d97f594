"""Pilot tests of the subscriptions screen and its detail, at 80x24 and 120x40.

These run against the in-memory ``FakePort`` (tests/tui/fakes.py) so that they are fast and
need no clock tricks; ``test_subscriptions_sandbox.py`` repeats the journey on a real sandbox.
"""

from __future__ import annotations

import threading

import pytest

from aiconsole.domain.errors import AuthError
from aiconsole.domain.secrets import fingerprint
from aiconsole.tui.screens.confirm import ConfirmScreen
from aiconsole.tui.screens.subscription_detail import REVEAL_SECONDS, SubscriptionDetailScreen
from aiconsole.tui.screens.subscriptions import SubscriptionsScreen
from tests.tui.fakes import FakePort
from tests.tui.helpers import SIZES, make_app, notifications, wait_until

pytestmark = pytest.mark.anyio


def _text(screen, selector: str) -> str:
    return str(screen.query_one(selector).content)


async def _loaded(pilot, count: int) -> SubscriptionsScreen:
    app = pilot.app
    await wait_until(pilot, lambda: isinstance(app.screen, SubscriptionsScreen), what="subscriptions screen")
    screen = app.screen
    await wait_until(pilot, lambda: screen.table.model.visible_count == count and screen.loading_pages is None,
                     what=f"{count} rows")
    return screen


async def _open_detail(pilot) -> SubscriptionDetailScreen:
    await pilot.press("enter")
    app = pilot.app
    await wait_until(pilot, lambda: isinstance(app.screen, SubscriptionDetailScreen), what="detail")
    detail = app.screen
    await wait_until(pilot, lambda: detail.keys is not None, what="keys")
    await pilot.pause()
    return detail


@pytest.mark.parametrize("size", SIZES)
async def test_first_page_shows_before_the_rest(size):
    port = FakePort(30, page_size=10)
    port.hold_after_first_page = threading.Event()
    app = make_app(port)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, SubscriptionsScreen))
        screen = app.screen
        await wait_until(pilot, lambda: screen.table.model.visible_count == 10, what="first page")
        assert screen.loading_pages == 1
        assert "10 of 10 subscriptions" in _text(screen, "#status")
        assert "loading" in _text(screen, "#status")
        assert screen.table.cursor_key == "sub-0000"
        port.hold_after_first_page.set()
        await _loaded(pilot, 30)
        assert "30 of 30 subscriptions" in _text(screen, "#status")


@pytest.mark.parametrize("size", SIZES)
async def test_filter_narrows_as_you_type_and_esc_clears(size):
    app = make_app(FakePort(30))
    async with app.run_test(size=size) as pilot:
        screen = await _loaded(pilot, 30)
        await pilot.press("slash", *"omega")
        await pilot.pause()
        view = [screen.table.model.get(k) for k in screen.table.model.view]
        assert 0 < len(view) < 30
        assert all(any("omega" in c.lower() for c in row.cells) for row in view)
        assert "filter 'omega'" in _text(screen, "#status")
        # enter keeps the filter and gives the keyboard back to the table
        await pilot.press("enter")
        assert screen.table.has_focus
        assert screen.table.model.visible_count == len(view)
        # esc on the screen clears the filter before it would go back
        await pilot.press("escape")
        await pilot.pause()
        assert screen.table.model.visible_count == 30
        assert app.screen is screen


@pytest.mark.parametrize("size", SIZES)
async def test_sort_changes_order(size):
    app = make_app(FakePort(30))
    async with app.run_test(size=size) as pilot:
        screen = await _loaded(pilot, 30)
        model = screen.table.model
        await pilot.press("s", "s")  # name, then display name
        names = [model.get(k).cells[1].lower() for k in model.view]
        assert names == sorted(names)
        await pilot.press("S")
        names = [model.get(k).cells[1].lower() for k in model.view]
        assert names == sorted(names, reverse=True)
        assert "sort display name ▼" in _text(screen, "#status")


@pytest.mark.parametrize("size", SIZES)
async def test_detail_shows_masked_keys_and_reveal_remasks_on_the_clock(size):
    port = FakePort(30)
    app = make_app(port)
    async with app.run_test(size=size) as pilot:
        await _loaded(pilot, 30)
        assert port.list_secrets_calls == 0, "keys are fetched only when the detail opens"
        detail = await _open_detail(pilot)
        assert port.list_secrets_calls == 1
        primary = detail.keys.primary_key.get_secret_value()
        secondary = detail.keys.secondary_key.get_secret_value()
        keys_text = _text(detail, "#detail-keys")
        assert f"••••••••{primary[-4:]}" in keys_text and f"••••••••{secondary[-4:]}" in keys_text
        assert primary not in keys_text and secondary not in keys_text

        await pilot.press("v")
        keys_text = _text(detail, "#detail-keys")
        assert primary in keys_text and secondary in keys_text
        assert f"masked again in {REVEAL_SECONDS}s" in keys_text

        app.clock.advance(REVEAL_SECONDS - 5)
        detail.tick()
        assert "masked again in 5s" in _text(detail, "#detail-keys")
        app.clock.advance(5)
        detail.tick()
        keys_text = _text(detail, "#detail-keys")
        assert primary not in keys_text and secondary not in keys_text
        assert f"••••••••{primary[-4:]}" in keys_text

        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, SubscriptionsScreen), what="back to the list")


@pytest.mark.parametrize("size", SIZES)
async def test_copy_puts_the_key_on_the_clipboard_but_never_in_a_notification(size):
    app = make_app(FakePort(30))
    async with app.run_test(size=size) as pilot:
        await _loaded(pilot, 30)
        detail = await _open_detail(pilot)
        primary = detail.keys.primary_key.get_secret_value()
        secondary = detail.keys.secondary_key.get_secret_value()
        await pilot.press("c")
        assert app.clipboard == primary
        await pilot.press("C")
        assert app.clipboard == secondary
        await wait_until(pilot, lambda: sum("Copied" in t for t in notifications(app)) == 2, what="notes")
        texts = notifications(app)
        assert any(fingerprint(primary) in t for t in texts)
        assert not any(primary in t or secondary in t for t in texts)


@pytest.mark.parametrize("size", SIZES)
async def test_rotate_after_confirmation_changes_the_fingerprint(size):
    port = FakePort(30)
    app = make_app(port)
    async with app.run_test(size=size) as pilot:
        await _loaded(pilot, 30)
        detail = await _open_detail(pilot)
        before = detail.keys.fingerprints()
        old_secondary = detail.keys.secondary_key.get_secret_value()

        await pilot.press("R")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirmation")
        modal = app.screen
        body = _text(modal, "#confirm-body")
        assert "secondary" in body and "sub-0000" in body and "Team" in body
        assert "stops working at once" in body
        await pilot.press("y")
        await wait_until(pilot, lambda: detail.rotating is None and detail.keys is not None
                         and detail.keys.fingerprints() != before, what="rotation")
        after = detail.keys.fingerprints()
        assert after["secondary"] != before["secondary"]
        assert after["primary"] == before["primary"]
        await wait_until(pilot, lambda: any("Key rotated" in t for t in notifications(app)), what="note")
        texts = notifications(app)
        assert any(f"{before['secondary']} → {after['secondary']}" in t for t in texts)
        assert not any(old_secondary in t for t in texts)


async def test_rotate_cancelled_changes_nothing():
    app = make_app(FakePort(30))
    async with app.run_test(size=(80, 24)) as pilot:
        await _loaded(pilot, 30)
        detail = await _open_detail(pilot)
        before = detail.keys.fingerprints()
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is detail)
        await pilot.pause(0.1)
        assert detail.keys.fingerprints() == before
        await wait_until(pilot, lambda: any("Nothing was changed" in t for t in notifications(app)), what="notification")


async def test_production_rotation_needs_the_service_name_typed():
    app = make_app(FakePort(30), production=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await _loaded(pilot, 30)
        detail = await _open_detail(pilot)
        before = detail.keys.fingerprints()
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press(*"wrong", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen), "a wrong name does not confirm"
        modal = app.screen
        modal.query_one("#confirm-typed").value = ""
        await pilot.press(*"apim-fake", "enter")
        await wait_until(pilot, lambda: detail.keys.fingerprints()["primary"] != before["primary"], what="rotation")


async def test_read_only_hides_rotation():
    app = make_app(FakePort(30), read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await _loaded(pilot, 30)
        detail = await _open_detail(pilot)
        before = detail.keys.fingerprints()
        await pilot.press("r")
        await pilot.pause(0.1)
        assert app.screen is detail
        assert detail.keys.fingerprints() == before
        assert "READ-ONLY" in str(app.screen.query_one("ConsoleHeader").render())


async def test_listing_error_is_one_sentence_without_traceback():
    port = FakePort(30)
    port.fail_listing = AuthError(
        "The principal may not list subscriptions.",
        "Grant Microsoft.ApiManagement/service/subscriptions/read on the service.",
    )
    app = make_app(port)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, SubscriptionsScreen))
        screen = app.screen
        await wait_until(pilot, lambda: screen.loading_pages is None and screen._failed, what="failure")
        await wait_until(pilot, lambda: bool(notifications(app)), what="the error note")
        texts = notifications(app)
        assert any("may not list subscriptions" in t and "subscriptions/read" in t for t in texts)
        assert not any("Traceback" in t for t in texts)
        assert "load failed" in _text(screen, "#status")


async def test_marks_and_cursor_keys():
    app = make_app(FakePort(30))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _loaded(pilot, 30)
        table = screen.table
        await pilot.press("space", "space")
        assert table.model.marks == ["sub-0000", "sub-0001"]
        assert "2 marked" in _text(screen, "#status")
        await pilot.press("end")
        assert table.cursor_key == "sub-0029"
        await pilot.press("home", "j", "j", "k")
        assert table.cursor_key == "sub-0001"
        await pilot.press("pagedown")
        assert table.cursor == 1 + table.body_height


async def test_limits_hook_opens_limits_for_the_row(monkeypatch):
    """``l`` runs ``:limits SID`` (issue #4) when that screen is registered, else says it is not."""
    from aiconsole.tui.screens import subscriptions as subs_module

    calls: list[str] = []
    app = make_app(FakePort(30))
    async with app.run_test(size=(80, 24)) as pilot:
        await _loaded(pilot, 30)
        monkeypatch.setattr(type(app), "run_command", lambda self, text: calls.append(text))
        await pilot.press("j", "l")
        await pilot.pause()
        from aiconsole.tui.screens import resolve

        if resolve("limits") is not None:
            assert calls == ["limits sub-0001"]
        else:
            await wait_until(pilot, lambda: any("limits" in t.lower() for t in notifications(app)), what="notification")
    assert subs_module.open_limits
