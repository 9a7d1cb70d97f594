"""``:top``, ``:429`` and the drill-in on scripted telemetry: layout at 80x24 and 120x40, keys,
in-place updates, stale markers and recovery, vanished subscriptions, and SVG snapshots.

The feed is a ``TriageService`` over a fake source (seeded snapshots, or errors on cue), a fake
limits lookup and a fake subscription list, so these tests need no sandbox and no real time;
``test_top_journey.py`` drives the same screens against a real sandbox.
"""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

import aiconsole.tui.screens.top as top_module
from aiconsole.services.triage import LimitCache, LimitInfo, SubscriptionDirectory, TriageService
from aiconsole.telemetry.port import (
    AUTH,
    TOKEN_QUOTA,
    TOKEN_RATE,
    SeriesKey,
    TelemetryError,
    ThrottleKey,
    TrafficSnapshot,
    Usage,
)
from aiconsole.tui.screens.sub_live import SubscriptionLiveScreen
from aiconsole.tui.screens.throttling import ThrottlingScreen
from aiconsole.tui.screens.top import TopScreen
from tests.tui.helpers import SIZES, make_app, notifications, wait_until

AT = datetime(2026, 1, 15, 9, 30, tzinfo=timezone.utc)


def usage(sid, product, api, tokens, *, ok=0.0, t429=0.0, t403=0.0, t401=0.0, throttles=None, hist=None, refused=None):
    statuses = {s: v for s, v in ((200, ok), (429, t429), (403, t403), (401, t401)) if v}
    return Usage(SeriesKey(sid, product, api), tokens=tokens, prompt_tokens=tokens * 0.8,
                 completion_tokens=tokens * 0.2, requests=sum(statuses.values()), statuses=statuses,
                 throttles=throttles or {}, history=hist or [tokens * (0.5 + (i % 5) / 10) for i in range(15)],
                 refused_history=refused or [t429 * (i % 3) for i in range(15)])


def seeded_snapshot(scale: float = 1.0) -> TrafficSnapshot:
    rate = ThrottleKey(TOKEN_RATE, 429, "llm-token-limit", "product:starter")
    quota = ThrottleKey(TOKEN_QUOTA, 403, "llm-token-limit", "product:trial")
    usages = [
        usage("batch-summarizer", "starter", "llm", 980 * scale, ok=3, t429=41 * scale, throttles={rate: 41 * scale}),
        usage("eval-harness", "starter", "llm", 640 * scale, ok=2, t429=12, throttles={rate: 12}),
        usage("hackathon-team-7", "trial", "azure-openai", 0, t403=9, throttles={quota: 9}),
        usage("support-bot-prod", "premium", "azure-openai", 42_000 * scale, ok=60),
        usage("support-bot-prod", "premium", "llm", 9_000, ok=20),
        usage("retired-sub", "standard", "llm", 1_200, ok=4, t401=0),
        usage("", "", "llm", 0, t401=5, throttles={ThrottleKey(AUTH, 401, "", ""): 5}),
    ]
    return TrafficSnapshot(source="prometheus", window_seconds=60, observed_at=AT, data_age_seconds=4,
                           delay_note="live scrape", usages=usages)


class FakeSource:
    name = "prometheus"

    def __init__(self, script=None):
        self.script = list(script or [seeded_snapshot()])
        self.calls = 0
        self.closed = False

    def sample(self, window_seconds: float) -> TrafficSnapshot:
        self.calls += 1
        item = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(item, Exception):
            raise item
        item.window_seconds = window_seconds
        return item

    def close(self) -> None:
        self.closed = True


LIMITS = {
    ("subscription", "batch-summarizer"): LimitInfo(1000, None, None, "product:starter", "llm-token-limit", "per subscription"),
    ("subscription", "eval-harness"): LimitInfo(1000, None, None, "product:starter", "llm-token-limit", "per subscription"),
    ("subscription", "hackathon-team-7"): LimitInfo(5000, 20000, "Hourly", "product:trial", "llm-token-limit", "per subscription"),
    ("subscription", "support-bot-prod"): LimitInfo(30000, None, None, "api:llm", "llm-token-limit", "per subscription"),
}


def directory() -> SubscriptionDirectory:
    def sub(name, owner, product):
        return SimpleNamespace(name=name, owner=owner, display_name=name, state=SimpleNamespace(value="active"),
                               scope=SimpleNamespace(kind=SimpleNamespace(value="product"), id=product))

    return SubscriptionDirectory(lambda: [sub("batch-summarizer", "dennis", "starter"),
                                          sub("eval-harness", "shafi", "starter"),
                                          sub("hackathon-team-7", "grace", "trial"),
                                          sub("support-bot-prod", "joan", "premium")])


@pytest.fixture
def feed(monkeypatch):
    """Install a fake feed; returns the fake source (tests may replace its script)."""
    source = FakeSource()

    def build(app, name):
        return TriageService(source, limits=LimitCache(lambda kind, n: LIMITS.get((kind, n), LimitInfo(error=f"{kind} not found"))),
                             directory=directory())

    monkeypatch.setattr(top_module, "build_triage", build)
    monkeypatch.setattr(top_module, "POLL_INTERVAL", 0.05)
    monkeypatch.setattr(top_module.LiveScreen, "poll_interval", 0.05)
    yield source


def first(screen):
    row = screen.table.model.row_at(0)
    return None if row is None else row.data


async def top_loaded(pilot) -> TopScreen:
    app = pilot.app
    await wait_until(pilot, lambda: isinstance(app.screen, TopScreen) and app.screen.report is not None, what=":top")
    screen = app.screen
    await wait_until(pilot, lambda: len(screen.table.model) > 0 and first(screen).limit is not None, what="rows")
    return screen


pytestmark_anyio = pytest.mark.anyio


@pytest.mark.anyio
@pytest.mark.parametrize("size", SIZES)
async def test_top_sorts_throttled_first_with_limit_and_cause(feed, size):
    app = make_app(start_command="top")
    async with app.run_test(size=size) as pilot:
        screen = await top_loaded(pilot)
        row = first(screen)
        assert row.key == "batch-summarizer"
        assert row.limit.tokens_per_minute == 1000 and row.throttled_per_minute == 41
        cells = screen.table.model.row_at(0).cells
        assert cells[3] == "1.0k" and cells[5] == "41"
        assert screen.table.model.row_at(0).style == "throttled"
        assert "3 subscriptions throttled" in str(screen.query_one("#top-headline").content)
        assert screen.data_age_label() == "data 4s old (live)"
        gone = screen.table.model.get("retired-sub").data
        assert gone.gone and screen.table.model.get("retired-sub").cells[3] == "gone"


@pytest.mark.anyio
async def test_rows_update_in_place_and_keep_the_cursor(feed):
    app = make_app(start_command="top")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await top_loaded(pilot)
        table = screen.table
        await pilot.press("down", "down")
        key = table.cursor_key
        order = [r.key for r in table.model.rows()]
        # settled before counting: a poll finished after the key presses and the table has
        # painted every change it was given
        polls = screen.polls
        await wait_until(pilot, lambda: screen.polls > polls and not table._sync_pending
                         and table.model.revision == table._synced_revision, what="a settled table")
        full, cells = table.full_repaints, table.cell_repaints
        feed.script = [seeded_snapshot(scale=2.0)]
        calls = feed.calls
        await wait_until(pilot, lambda: feed.calls > calls + 1 and first(screen).tokens_per_minute == 1960,
                         what="a new reading")
        assert [r.key for r in table.model.rows()] == order  # upserted by key, never cleared
        assert table.cursor_key == key
        # same rows in the same places: only the changed lines were repainted
        assert table.full_repaints == full and table.cell_repaints > cells


@pytest.mark.anyio
async def test_pause_window_sort_filter_and_by(feed):
    app = make_app(start_command="top")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await top_loaded(pilot)
        await pilot.press("p")
        assert screen.paused
        await pilot.pause(0.2)
        calls = feed.calls
        await pilot.pause(0.3)
        assert feed.calls == calls  # paused: no polling
        assert "PAUSED" in str(screen.query_one("#status").content)
        await pilot.press("p")
        await wait_until(pilot, lambda: feed.calls > calls, what="polling again")
        await pilot.press("right_square_bracket")
        assert screen.window == 300
        await pilot.press("left_square_bracket", "left_square_bracket", "left_square_bracket", "left_square_bracket")
        assert screen.window == 10
        await pilot.press("s")
        assert screen.table.model.sort_column != 5
        await pilot.press("slash", *"eval", "enter")
        assert screen.table.model.visible_count == 1 and first(screen).key == "eval-harness"
        await pilot.press("escape")
        await pilot.press("b")
        await wait_until(pilot, lambda: screen.report is not None and screen.report.by == "product"
                         and first(screen) is not None and first(screen).by == "product", what="per product")
        assert {r.key for r in screen.table.model.rows()} >= {"starter", "premium", "trial"}
        await pilot.press("b")
        await wait_until(pilot, lambda: first(screen) is not None and first(screen).by == "api", what="per api")


@pytest.mark.anyio
async def test_source_down_marks_rows_stale_then_recovers(feed):
    app = make_app(start_command="top")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await top_loaded(pilot)
        down = TelemetryError("Cannot reach the metrics endpoint http://127.0.0.1:9/metrics (ConnectError).")
        feed.script = [down, down, seeded_snapshot(), seeded_snapshot()]
        await wait_until(pilot, lambda: screen.error is not None, what="stale")
        assert screen.table.model.row_at(0).style == "stale"
        assert "STALE" in screen.data_age_label()
        assert any("Cannot reach" in n for n in notifications(app))
        assert len(screen.table.model) > 0  # the last numbers stay on screen
        await wait_until(pilot, lambda: screen.error is None, timeout=10, what="recovery")
        assert screen.table.model.row_at(0).style == "throttled"


@pytest.mark.anyio
async def test_garbage_before_any_data_is_a_message_not_a_crash(feed):
    feed.script = [TelemetryError("The metrics endpoint sent text that is not Prometheus exposition."),
                   seeded_snapshot()]
    app = make_app(start_command="top")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, TopScreen), what=":top")
        screen = app.screen
        await wait_until(pilot, lambda: screen.polls >= 1, what="first poll")
        assert "no data" in screen.data_age_label() or screen.report is not None
        await wait_until(pilot, lambda: screen.report is not None, timeout=10, what="data after backoff")


@pytest.mark.anyio
async def test_429_view_classifies_each_cause(feed):
    app = make_app(start_command="429")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ThrottlingScreen) and app.screen.report is not None
                         and len(app.screen.table.model) >= 3, what=":429")
        screen = app.screen
        events = [r.data for r in (screen.table.model.row_at(i) for i in range(screen.table.model.visible_count))]
        assert events[0].subscription == "batch-summarizer"
        by_sub = {(e.subscription, e.reason): e for e in events}
        assert by_sub[("batch-summarizer", TOKEN_RATE)].scope == "product:starter"
        assert by_sub[("hackathon-team-7", TOKEN_QUOTA)].status == 403
        assert by_sub[("(no subscription)", AUTH)].status == 401
        headline = str(screen.query_one("#t429-headline").content)
        assert headline.startswith("3 subscriptions throttled")


@pytest.mark.anyio
async def test_drill_in_then_keys(feed, monkeypatch):
    import aiconsole.tui.screens.sub_live as sub_live

    monkeypatch.setattr(sub_live, "load_effective_chain", lambda app, sid: fake_chain(sid))
    from tests.tui.fakes import FakePort

    port = FakePort(5)
    app = make_app(port, start_command="top")
    async with app.run_test(size=(80, 24)) as pilot:
        await top_loaded(pilot)
        await pilot.press("home", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, SubscriptionLiveScreen) and app.screen.chain is not None,
                         what="drill-in")
        detail = app.screen
        assert detail.sid == "batch-summarizer"
        text = str(detail.query_one("#sublive-chain").content)
        assert "◀ binds" in text and "product:starter" in text
        causes = str(detail.query_one("#sublive-causes").content)
        assert "token rate (429)" in causes and "llm-token-limit at product:starter" in causes
        await pilot.press("r")  # batch-summarizer is not in the fake port: a sentence, no crash
        await wait_until(pilot, lambda: any("Keys" in n for n in notifications(app)), what="keys error")
        assert isinstance(app.screen, SubscriptionLiveScreen)


def fake_chain(sid: str):
    from aiconsole.services.limits import ChainLink, EffectiveChain

    def link(scope_kind, name, tpm, binds):
        from aiconsole.domain.models import PolicyScope

        scope = PolicyScope(kind=scope_kind, **({"product": name} if scope_kind == "product" else {"api": name}))
        lim = SimpleNamespace(policy="llm-token-limit", token_quota_period=None, index=0)
        return ChainLink(scope=scope, api=None if scope_kind == "product" else name, limit=lim,
                         shared="per subscription", override=None, effective_tpm=tpm, effective_quota=None, binds=binds)

    return EffectiveChain("subscription", sid, "starter", ["llm"],
                          [link("product", "starter", 1000, True), link("api", "llm", 30000, False)], AT)


# -- snapshots -------------------------------------------------------------------------------------
async def _settled_top(pilot):
    await top_loaded(pilot)
    pilot.app.screen.action_pause()  # freeze the data for a stable picture
    pilot.app.clear_notifications()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_snapshot_top(feed, snap_compare, size):
    assert snap_compare(make_app(start_command="top"), terminal_size=size, run_before=_settled_top)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_snapshot_429(feed, snap_compare, size):
    async def run_before(pilot):
        app = pilot.app
        await wait_until(pilot, lambda: isinstance(app.screen, ThrottlingScreen) and app.screen.report is not None
                         and len(app.screen.table.model) >= 3, what=":429")
        app.screen.action_pause()
        app.clear_notifications()
        await pilot.pause()

    assert snap_compare(make_app(start_command="429"), terminal_size=size, run_before=run_before)


def test_snapshot_drill_in(feed, snap_compare, monkeypatch):
    import aiconsole.tui.screens.sub_live as sub_live

    monkeypatch.setattr(sub_live, "load_effective_chain", lambda app, sid: fake_chain(sid))

    async def run_before(pilot):
        await top_loaded(pilot)
        await pilot.press("home", "enter")
        app = pilot.app
        await wait_until(pilot, lambda: isinstance(app.screen, SubscriptionLiveScreen) and app.screen.chain is not None
                         and app.screen.row is not None, what="drill-in")
        app.screen.action_pause()
        app.clear_notifications()
        await pilot.pause()

    assert snap_compare(make_app(start_command="top"), terminal_size=(120, 40), run_before=run_before)


@pytest.mark.anyio
async def test_a_slow_scrape_keeps_the_ui_responsive(feed):
    import threading

    release = threading.Event()
    original = feed.sample

    def sample(window):
        if feed.calls >= 1:
            release.wait(10)  # every reading after the first hangs until released
        return original(window)

    feed.sample = sample
    app = make_app(start_command="top")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await top_loaded(pilot)
        await wait_until(pilot, lambda: screen.polling, what="a poll in flight")
        await pilot.press("right_square_bracket", "slash", *"eval", "enter")
        assert screen.window == 300  # keys are handled while the worker waits on the source
        assert screen.table.model.visible_count == 1
        release.set()
        await wait_until(pilot, lambda: not screen.polling and screen.polls >= 2, what="the slow poll to finish")
