"""Terminal safety in the console (issue #10 item 4): Pilot at 80x24 against a hostile-names
sandbox through the real SDK. Every rendered segment of the subscriptions list, a hostile
subscription's detail, the limits and the gateways screens is read back: no escape, control or
bidi character, and no line wider than the terminal."""

from __future__ import annotations

import pytest
from rich.segment import Segment

from aiconsole.backends.connect import sandbox_connection
from aiconsole.tui.app import AiConsoleApp
from aiconsole.tui.clock import FrozenClock
from aiconsole.tui.screens.gateways import GatewaysScreen
from aiconsole.tui.screens.limits import LimitsScreen
from aiconsole.tui.screens.subscriptions import SubscriptionsScreen
from tests.hardening.conftest import UNSAFE, unsafe_chars
from tests.tui.helpers import has_rows, showing, wait_until

pytestmark = pytest.mark.anyio

WIDTH, HEIGHT = 80, 24


def rendered(app) -> list[str]:
    """The text of every line of the current frame, from the compositor's own segments."""
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens, simplify=True)
    lines = []
    for line in update.strips:
        segments = list(line) if not isinstance(line, Segment) else [line]
        text = "".join(seg.text for seg in Segment.filter_control(_flatten(segments)))
        lines.append(text)
    return lines


def _flatten(items):
    for item in items:
        if isinstance(item, Segment):
            yield item
        else:
            yield from _flatten(item)


def assert_clean(app, where: str) -> None:
    from rich.cells import cell_len

    lines = rendered(app)
    assert len(lines) <= HEIGHT, where
    text = "\n".join(lines)
    assert not UNSAFE.search(text), f"{where}: {unsafe_chars(text)}"
    wide = [cell_len(line) for line in lines if cell_len(line) > WIDTH]
    assert not wide, f"{where}: lines wider than {WIDTH}: {wide}"
    svg = app.export_screenshot()
    assert not UNSAFE.search(svg.replace("\n", "")), f"{where} (SVG): {unsafe_chars(svg)}"


async def test_screens_show_hostile_names_safely(hostile):
    app = AiConsoleApp(connection=sandbox_connection(hostile["management_url"]), clock=FrozenClock(),
                       cursor_blink=False)
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        await wait_until(pilot, lambda: has_rows(app.screen, SubscriptionsScreen), timeout=30, what="rows")
        screen = app.screen
        await wait_until(pilot, lambda: screen.loading_pages is None, timeout=30, what="all pages")
        assert any("h0" in line for line in rendered(app)), "a hostile row should be on the first screen"
        assert_clean(app, "subscriptions")

        for _ in range(30):  # move the cursor onto the row with the SGR/OSC name
            if any(line.startswith("▸") and "h0 " in line for line in rendered(app)):
                break
            await pilot.press("down")
        await pilot.press("enter")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "SubscriptionDetailScreen"
                         and app.screen.is_mounted, timeout=30, what="detail")
        await wait_until(pilot, lambda: any("h0 RED" in line for line in rendered(app)), timeout=30,
                         what="the hostile detail")
        await wait_until(pilot, lambda: any("••••" in line for line in rendered(app)), timeout=30, what="keys")
        assert_clean(app, "detail")

        # each screen once its load has finished: rows in the table, the loading placeholder gone
        for command, kind, loading_text in (("limits", LimitsScreen, "reading policies…"),
                                            ("gw", GatewaysScreen, "loading gateways…")):
            app.goto(command)
            await wait_until(pilot, lambda kind=kind: showing(app, kind), timeout=30, what=command)
            screen = app.screen
            await wait_until(pilot, lambda screen=screen, loading_text=loading_text:
                             len(screen.table.model) > 0 and screen.table.placeholder != loading_text
                             and not getattr(screen, "loading", False),
                             timeout=30, what=f"{command} rows loaded")
            assert_clean(app, command)
            assert showing(app, kind)
