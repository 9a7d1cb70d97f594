"""Console behaviour fixed after review: what a user sees after ``:ctx``, on reloads, while
typing in pickers, and when screens go away. Each test drives the app with Pilot and waits on
conditions, never on fixed sleeps."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

import aiconsole.tui.screens.top as top_module
from aiconsole.telemetry.port import SeriesKey, TrafficSnapshot, Usage
from aiconsole.tui.screens.top import TopScreen
from tests.tui.fakes import FakePort
from tests.tui.helpers import fake_connection, make_app, showing, wait_until

pytestmark = pytest.mark.anyio

AT = datetime(2026, 1, 15, 9, 30, tzinfo=timezone.utc)


# --------------------------------------------------------------------------- :ctx and the live feed


class ConnectionSource:
    """A metrics source that reports one busy subscription named after its connection."""

    name = "prometheus"

    def __init__(self, subscription: str) -> None:
        self.subscription = subscription
        self.closed = False

    def sample(self, window_seconds: float) -> TrafficSnapshot:
        usage = Usage(SeriesKey(self.subscription, "starter", "llm"), tokens=500.0, requests=5.0,
                      statuses={200: 5.0}, history=[500.0] * 15, refused_history=[0.0] * 15)
        return TrafficSnapshot(source="prometheus", window_seconds=window_seconds, observed_at=AT,
                               data_age_seconds=3, delay_note="live scrape", usages=[usage])

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def per_connection_sources(monkeypatch):
    """``build_triage`` reads the app's connection at the time the feed is built (as the real one
    does): each connection gets its own source, whose subscription is named after the service."""
    from aiconsole.services.triage import TriageService

    built: list[ConnectionSource] = []

    def build(app, source_name):
        source = ConnectionSource(f"sub-of-{app.connection.service_name}")
        built.append(source)
        return TriageService(source)

    monkeypatch.setattr(top_module, "build_triage", build)
    return built


def top_keys(app) -> set[str]:
    screen = app.screen
    if not isinstance(screen, TopScreen) or not screen.is_mounted:
        return set()
    return {str(row.key) for row in screen.table.model.rows()}


async def test_ctx_switch_gives_top_the_new_connections_traffic_and_closes_the_old_source(per_connection_sources):
    app = make_app(start_command="top")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: top_keys(app) == {"sub-of-apim-fake"}, what="the first connection's traffic")
        other = fake_connection()
        other.service_name, other.label = "apim-two", "other / apim-two"
        app.switch_connection(other, backend=FakePort(5))
        await wait_until(pilot, lambda: top_keys(app) == {"sub-of-apim-two"}, what="the new connection's traffic")
        first = per_connection_sources[0]
        assert first.subscription == "sub-of-apim-fake" and first.closed, "the old connection's source stays open"
        assert not per_connection_sources[-1].closed
    assert per_connection_sources[-1].closed, "leaving the console leaves the metrics source open"


# --------------------------------------------------------------------------- sandbox-backed screens


@pytest.fixture(scope="module")
def sandbox():
    from tests.sandbox_fixture import start_sandbox

    info, stop = start_sandbox(subscriptions=12, seed=4, traffic=False)
    yield info
    stop()


def sandbox_app(sandbox, command: str):
    from aiconsole.backends.connect import sandbox_connection
    from aiconsole.tui.app import AiConsoleApp
    from aiconsole.tui.clock import FrozenClock

    return AiConsoleApp(connection=sandbox_connection(sandbox["management_url"]), clock=FrozenClock(),
                        cursor_blink=False, start_command=command)


def count_calls(monkeypatch, owner, name: str) -> list[int]:
    """Count calls of ``owner.name`` (a service method the screen's worker calls)."""
    calls = [0]
    original = getattr(owner, name)

    def counted(*args, **kwargs):
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


async def test_backends_stops_reading_while_covered_and_reads_again_on_return(sandbox, monkeypatch):
    from aiconsole.services.backends import BackendsService
    from aiconsole.tui.screens.auth import PostureScreen
    from aiconsole.tui.screens.backends import BackendsScreen
    from tests.tui.helpers import has_rows

    reads = count_calls(monkeypatch, BackendsService, "report")
    app = sandbox_app(sandbox, "ctx")
    async with app.run_test(size=(120, 40)) as pilot:
        backends = BackendsScreen(refresh_seconds=0.05)
        app.push_screen(backends)
        await wait_until(pilot, lambda: has_rows(app.screen, BackendsScreen) and reads[0] >= 3, timeout=20,
                         what="backends refreshing while shown")
        app.run_command("auth")
        await wait_until(pilot, lambda: has_rows(app.screen, PostureScreen), timeout=20, what=":auth over :backends")
        await wait_until(pilot, lambda: not any(w.group == "backends-load" and w.is_running for w in app.workers),
                         what="the last read to finish")
        covered = reads[0]
        # A witness ticking at the screen's refresh rate: twenty of its ticks would be twenty reads.
        ticks = [0]
        witness = app.set_interval(0.05, lambda: ticks.__setitem__(0, ticks[0] + 1))
        await wait_until(pilot, lambda: ticks[0] >= 20, what="twenty refresh periods")
        witness.stop()
        assert reads[0] == covered, f"{reads[0] - covered} reads of the backends while :auth covered them"
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is backends and reads[0] >= covered + 3, timeout=20,
                         what="reading again (and refreshing) once shown")


async def test_auth_reload_keeps_the_cursor_on_its_api(sandbox, monkeypatch):
    from aiconsole.tui.screens.auth import PostureScreen
    from tests.tui.helpers import has_rows

    loads = count_calls(monkeypatch, PostureScreen, "on_table_screen_loaded")
    app = sandbox_app(sandbox, "auth")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: has_rows(app.screen, PostureScreen), timeout=20, what=":auth")
        screen = app.screen
        table = screen.table
        assert len(table.model) > 3
        for _ in range(3):
            await pilot.press("down")
        chosen = table.cursor_key
        await wait_until(pilot, lambda: chosen in str(screen.query_one("#posture-detail").render()),
                         what="the chosen API's detail")
        before = loads[0]
        await pilot.press("f5")
        await wait_until(pilot, lambda: loads[0] > before, timeout=20, what="the reload")
        await pilot.pause()
        assert table.cursor_key == chosen and table.cursor == 3
        assert chosen in str(screen.query_one("#posture-detail").render())


# --------------------------------------------------------------------------- memory


async def test_leaving_subscriptions_gives_its_rows_back_to_the_collector():
    """The subscriptions screen moves loaded rows out of the collector's reach (``gc.freeze``) while
    it shows them; once it is gone they must be collectable again, or every visit leaks them."""
    import gc

    from aiconsole.tui.screens.contexts import ContextsScreen
    from aiconsole.tui.screens.subscriptions import SubscriptionsScreen
    from tests.tui.helpers import has_rows

    gc.unfreeze()
    app = make_app(FakePort(30), start_command="ctx")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ContextsScreen), what=":ctx")
        app.run_command("subs")
        await wait_until(pilot, lambda: has_rows(app.screen, SubscriptionsScreen)
                         and app.screen.loading_pages is None, what="subscriptions loaded")
        subs = app.screen
        assert len(subs.table.model) == 30
        assert gc.get_freeze_count() > 0  # the rows are held out of the collector's reach
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ContextsScreen) and not subs.is_attached,
                         what="back on :ctx")
        assert gc.get_freeze_count() == 0, "the closed screen's rows stay frozen"


# --------------------------------------------------------------------------- owner search


class DirectoryPort(FakePort):
    """A fake service with users, counting every user search that reaches it."""

    def __init__(self) -> None:
        super().__init__(5)
        self.user_searches: list[str | None] = []

    def list_users(self, *, odata_filter=None):
        from aiconsole.domain.models import User

        self.user_searches.append(odata_filter)
        return [User(name="alice", first_name="Alice", last_name="Ng", email="alice@contoso.com"),
                User(name="bob", first_name="Bob", last_name="Ruiz", email="bob@contoso.com")]

    def list_products(self):
        return []

    def list_apis(self):
        return []


async def test_typing_an_owner_name_searches_once(monkeypatch):
    from textual.widgets import Input, OptionList

    import aiconsole.tui.screens.issue as issue
    from aiconsole.tui.screens.issue import CreateSubscriptionScreen

    # A pause longer than a loaded test machine takes between two keys of one word.
    monkeypatch.setattr(issue, "OWNER_SEARCH_DELAY", 1.0)

    port = DirectoryPort()
    app = make_app(port, start_command="ctx")
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(CreateSubscriptionScreen())
        await wait_until(pilot, lambda: showing(app, CreateSubscriptionScreen)
                         and app.screen.query_one("#create-owner", OptionList).option_count == 2,
                         what="the owner list")
        assert port.user_searches == [None]  # everyone, on opening
        form = app.screen
        form.query_one("#create-owner-search", Input).focus()
        await pilot.press(*"alice")
        owners = form.query_one("#create-owner", OptionList)
        await wait_until(pilot, lambda: owners.option_count == 1, what="the search for alice")
        assert "alice@contoso.com" in str(owners.get_option_at_index(0).prompt)
        assert len(port.user_searches) == 2 and "'alice'" in port.user_searches[1], port.user_searches
