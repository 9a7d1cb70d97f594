"""The console shell: the ``:`` command bar, ``?`` help, ``esc`` back, keymaps, themes, header."""

from __future__ import annotations

import pytest

from aiconsole.tui.keymap import apply_keymap, known_binding_ids, validate_keymap
from aiconsole.tui.screens import REGISTRY, register_screen, resolve
from aiconsole.tui.screens.help import HelpScreen
from aiconsole.tui.screens.subscriptions import SubscriptionsScreen
from tests.tui.helpers import make_app, notifications, wait_until

pytestmark = pytest.mark.anyio


async def _ready(pilot):
    app = pilot.app
    await wait_until(pilot, lambda: isinstance(app.screen, SubscriptionsScreen))
    await wait_until(pilot, lambda: app.screen.loading_pages is None, what="loaded")
    return app.screen


async def _command(pilot, text: str) -> None:
    await pilot.press("colon", *text, "enter")
    await pilot.pause()


async def test_unknown_and_planned_commands_get_a_message(monkeypatch):
    from aiconsole.tui import screens

    # Every planned word of this version has a screen by now: plant one that has none, so the
    # "planned" answer (not the "unknown" one) is what this checks.
    monkeypatch.setitem(screens.PLANNED, "later", "a view still to come")
    assert resolve("later") is None
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot)
        await _command(pilot, "nope")
        await wait_until(pilot, lambda: any("Unknown command ':nope'" in t for t in notifications(app)), what="notification")
        await _command(pilot, "later")
        await wait_until(pilot, lambda: any(":later (a view still to come) is not part of this version yet." in t
                                            for t in notifications(app)), what="planned notification")
        assert not any("Unknown command ':later'" in t for t in notifications(app))


async def test_theme_command_switches_and_lists():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot)
        assert app.theme == "dark"
        await _command(pilot, "theme light")
        assert app.theme == "light"
        await _command(pilot, "theme ansi-dark")
        assert app.theme == "ansi-dark"
        await _command(pilot, "theme")
        await wait_until(pilot, lambda: any(t.startswith("Theme Themes:") for t in notifications(app)))
        listing = next(t for t in notifications(app) if t.startswith("Theme Themes:"))
        for name in ("dark", "light", "high-contrast", "colorblind-safe", "ansi-light"):
            assert name in listing
        await _command(pilot, "theme nosuch")
        await wait_until(pilot, lambda: any("no theme 'nosuch'" in t for t in notifications(app)), what="notification")


async def test_q_command_and_key_quit():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot)
        await _command(pilot, "q")
    assert app.return_code == 0
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot)
        await pilot.press("q")
    assert app.return_code == 0


async def test_command_bar_escape_cancels_and_returns_focus():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _ready(pilot)
        await pilot.press("colon", "x")
        assert screen.prompt.is_open
        await pilot.press("escape")
        assert not screen.prompt.is_open
        assert screen.table.has_focus
        assert app.screen is screen


async def test_help_lists_every_binding_id_of_the_screen():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        rows = [app.screen.query_one("#help-table").model.get(k).cells for k in app.screen.query_one("#help-table").model.view]
        ids = {r[2] for r in rows}
        for ident in ("app.quit", "app.help", "app.command", "screen.filter", "screen.back", "table.sort",
                      "table.select", "table.mark", "subs.reload", "subs.limits"):
            assert ident in ids
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, SubscriptionsScreen))


async def test_esc_on_the_first_screen_does_not_leave_it():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _ready(pilot)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen


async def test_goto_returns_to_a_screen_already_in_the_stack():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _ready(pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is not screen)
        await _command(pilot, "subs")
        assert app.screen is screen


async def test_user_keymap_remaps_by_binding_id():
    app = make_app(keymap={"app.quit": "x", "table.sort": "o", "no.such.id": "z"})
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _ready(pilot)
        await wait_until(pilot, lambda: any("'no.such.id' is not a binding id" in t for t in notifications(app)), what="notification")
        await pilot.press("o")
        assert screen.table.model.sort_column == 0
        await pilot.press("q")  # no longer quits
        await pilot.pause()
        assert app.is_running
        await pilot.press("x")
    assert app.return_code == 0


def test_every_binding_has_an_id_and_no_action_is_ctrl_only():
    known = known_binding_ids()
    assert {"app.quit", "table.sort", "detail.reveal", "detail.rotate_primary", "confirm.yes",
            "help.close", "prompt.cancel"} <= set(known)
    from aiconsole.tui.keymap import console_classes

    for cls in console_classes():
        for klass in cls.__mro__:
            if not klass.__module__.startswith("aiconsole."):
                continue  # Textual's own bindings (ctrl+q, tab, ...) have our plain-key twins
            for binding in klass.__dict__.get("BINDINGS", ()):
                assert binding.id, f"{klass.__name__} binds {binding.key} without an id"
                keys = [k.strip() for k in binding.key.split(",")]
                # ctrl+t has the :theme command as its plain-key twin
                assert any(not k.startswith("ctrl+") for k in keys) or binding.id == "app.theme", binding.id


def test_validate_keymap_reports_bad_entries():
    clean, problems = validate_keymap({"app.quit": "Q", "app.help": "", "bogus": "b"})
    assert clean == {"app.quit": "Q"}
    assert len(problems) == 2


def test_registry_registration_is_one_line():
    register_screen("subs-test", "aiconsole.tui.screens.subscriptions:SubscriptionsScreen", "test", aliases=("st",))
    try:
        assert resolve("st").load() is SubscriptionsScreen
        assert resolve("SUBS-TEST").name == "subs-test"
    finally:
        REGISTRY.pop("subs-test")


async def test_apply_keymap_on_a_running_app():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _ready(pilot)
        assert apply_keymap(app, {"table.reverse_sort": "R"}) == []
        await pilot.press("R")
        assert screen.table.model.sort_reverse


async def test_header_shows_badges_and_data_age():
    app = make_app(read_only=True, production=True)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _ready(pilot)
        header = screen.query_one("ConsoleHeader")
        text = str(header.render())
        assert "READ-ONLY" in text and "PRODUCTION" in text and "updated 0s ago" in text
        app.clock.advance(42)
        assert "updated 42s ago" in str(header.render())
        assert len(str(header.render())) <= 80


async def test_bad_theme_name_falls_back_with_a_warning():
    app = make_app(theme_name="nope")
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot)
        assert app.theme == "dark"
        await wait_until(pilot, lambda: any("no theme 'nope'" in t for t in notifications(app)), what="notification")


@pytest.mark.parametrize("theme", ["light", "high-contrast", "colorblind-safe", "ansi-dark", "ansi-light", "nord"])
async def test_every_theme_paints(theme):
    app = make_app(theme_name=theme)
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot)
        assert app.theme == theme
        assert app.get_css_variables()["aic-throttled"]


async def test_no_color_is_honoured(monkeypatch):
    """NO_COLOR turns the console monochrome; states stay readable through their glyphs."""
    from textual.filter import Monochrome, NoColor

    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app()
    assert app.no_color
    assert any(isinstance(f, (Monochrome, NoColor)) for f in app._filters)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _ready(pilot)
        states = {screen.table.model.get(k).cells[2].split()[0] for k in screen.table.model.view}
        assert {"●", "‖", "…", "✗", "⌛"} <= states, states


async def test_switch_connection_rebuilds_the_screens():
    from tests.tui.fakes import FakePort
    from tests.tui.helpers import fake_connection

    app = make_app(FakePort(30))
    async with app.run_test(size=(80, 24)) as pilot:
        first = await _ready(pilot)
        await pilot.press("enter")
        other = fake_connection(read_only=True)
        other.label = "other / apim-two"
        app.switch_connection(other, backend=FakePort(5))
        await wait_until(pilot, lambda: isinstance(app.screen, SubscriptionsScreen) and app.screen is not first
                         and app.screen.is_mounted and bool(app.screen.query("#subs-table")))
        await wait_until(pilot, lambda: app.screen.loading_pages is None and len(app.screen.table.model) == 5)
        assert len(app.screen_stack) == 2
        assert "apim-two" in str(app.screen.query_one("ConsoleHeader").render())
