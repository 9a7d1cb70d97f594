"""Building the console for Pilot tests: a connection, a frozen clock, no cursor blink."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from textual.css.query import NoMatches

from aiconsole.backends.connect import Connection
from aiconsole.tui.app import AiConsoleApp
from aiconsole.tui.clock import FrozenClock
from tests.tui.fakes import FakePort

SIZES = [(80, 24), (120, 40)]


def fake_connection(*, read_only: bool = False, production: bool = False) -> Connection:
    return Connection(
        kind="sandbox",
        management_url="http://127.0.0.1:9",
        subscription_id="00000000-0000-0000-0000-000000000000",
        resource_group="rg-fake",
        service_name="apim-fake",
        label="fake 127.0.0.1:9 / apim-fake",
        read_only=read_only,
        production=production,
    )


def make_app(port: FakePort | None = None, *, read_only: bool = False, production: bool = False,
             clock: FrozenClock | None = None, **kw) -> AiConsoleApp:
    return AiConsoleApp(
        connection=fake_connection(read_only=read_only, production=production),
        backend=port if port is not None else FakePort(),
        clock=clock or FrozenClock(),
        cursor_blink=False,
        **kw,
    )


async def wait_until(pilot, predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Let the app run until ``predicate()`` holds (workers and timers need real turns)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


def notifications(app) -> list[str]:
    return [f"{n.title} {n.message}" for n in app._notifications]


def has_rows(screen, kind) -> bool:
    """The screen is ``kind``, composed, and its table has rows (False while it is still mounting)."""
    if not isinstance(screen, kind):
        return False
    try:
        return len(screen.table.model) > 0
    except NoMatches:
        return False


def showing(app, kind) -> bool:
    """``app.screen`` is a ``kind`` that has finished mounting (its widgets exist)."""
    return isinstance(app.screen, kind) and app.screen.is_mounted
