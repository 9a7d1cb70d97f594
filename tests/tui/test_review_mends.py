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
from tests.tui.helpers import fake_connection, make_app, wait_until

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
