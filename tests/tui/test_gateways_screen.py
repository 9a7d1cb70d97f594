"""The ``:gw`` view with Pilot at 80x24 and 120x40, plus SVG snapshots (issue #7 item 3).

An in-memory port signs tokens deterministically, node probes and metric scrapes are replaced
by fixed answers, and the clock is frozen, so rows, latencies and snapshots are stable. The
same flows run against the real sandbox in tests/e2e/test_gateways_nodes.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from aiconsole.domain.errors import NotFoundError
from aiconsole.domain.models import Api, Gateway, GatewayKeys
from aiconsole.services.gateway_tokens import TokenLedger
from aiconsole.telemetry.node_health import MetricsSample, NodeHealth
from aiconsole.tui.clock import FrozenClock
from tests.tui.fakes import FakePort
from tests.tui.helpers import SIZES, make_app, notifications, wait_until

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
INSTANCE = "apim-fake"
NODE = "http://127.0.0.1:18080"


class FakeGatewayPort(FakePort):
    """FakePort plus the gateway operations, with keys that change on regeneration."""

    def __init__(self) -> None:
        super().__init__(count=3)
        self.gw = {
            "gw-berlin-dc": ("Berlin DC2", "Primary on-premises gateway", ["azure-openai", "llm"]),
            "gw-oslo-edge": ("Oslo Edge", "Edge gateway", ["azure-openai"]),
            "gw-lab": ("Lab", "Test bench \x1b[31mred\x1b[0m", []),
        }
        self.gw_keys = {g: {"primary": f"{g}-p0", "secondary": f"{g}-s0"} for g in self.gw}
        self.generation = 0
        self.tokens_seen: list[str] = []

    def list_gateways(self):
        return [self.get_gateway(g) for g in self.gw]

    def get_gateway(self, gid):
        if gid not in self.gw:
            raise NotFoundError(f"Could not read gateway '{gid}': not found.")
        loc, desc, _ = self.gw[gid]
        return Gateway(name=gid, location=loc, description=desc)

    def list_gateway_apis(self, gid):
        return [Api(name=a) for a in self.gw[gid][2]]

    def list_gateway_hostnames(self, gid):
        return [f"{gid}.contoso.example", "*"]

    def list_gateway_keys(self, gid):
        k = self.gw_keys[gid]
        return GatewayKeys(name=gid, primary=k["primary"], secondary=k["secondary"])

    def regenerate_gateway_key(self, gid, slot):
        self.generation += 1
        self.gw_keys[gid][slot] = f"{gid}-{slot[0]}{self.generation}"

    def generate_gateway_token(self, gid, slot, expiry):
        stamp = expiry.astimezone(UTC).strftime("%Y%m%d%H%M")
        sig = hmac.new(self.gw_keys[gid][slot].encode(), f"{gid}\n{stamp}".encode(), hashlib.sha512).digest()
        token = f"{gid}&{stamp}&{base64.b64encode(sig).decode()}"
        self.tokens_seen.append(token)
        return token


@pytest.fixture
def nodes(monkeypatch):
    """Node probes answer from this dict (url → healthy); latency is fixed for stable snapshots."""
    health = {NODE: True}

    def probe(urls, **_):
        return [NodeHealth(url=u, healthy=health.get(u, False), status="healthy" if health.get(u) else "degraded",
                           latency_ms=4.0, http_status=200 if health.get(u) else 503) for u in urls]

    counter = {"n": 0}

    def scrape(url, *, gateway=None, timeout=3.0):
        counter["n"] += 1
        return MetricsSample(at=float(counter["n"] * 60), requests=1000.0 * counter["n"], errors=5.0 * counter["n"])

    monkeypatch.setattr("aiconsole.services.gateways.probe_nodes", probe)
    monkeypatch.setattr("aiconsole.services.gateway_rotation.probe_nodes", probe)
    monkeypatch.setattr("aiconsole.services.gateways.scrape", scrape)
    return health


def seed_ledger(port: FakeGatewayPort) -> None:
    """berlin: a primary token expiring in 3 days (highlighted); oslo: secondary, 20 days; lab: unknown."""
    from aiconsole.domain.secrets import fingerprint

    ledger = TokenLedger()
    for gid, slot, minted_ago, left in (("gw-berlin-dc", "primary", 27, 3), ("gw-oslo-edge", "secondary", 10, 20)):
        expires = NOW + timedelta(days=left)
        token = port.generate_gateway_token(gid, slot, expires)
        ledger.record_token(instance=INSTANCE, gateway=gid, slot=slot, minted=NOW - timedelta(days=minted_ago),
                            expires=expires, fingerprint=fingerprint(token))


def gw_app(port: FakeGatewayPort, **kw):
    app = make_app(port, clock=FrozenClock(NOW), start_command="gw", **kw)
    app.connection.extra.update({"profile_kind": "self-hosted", "gateway": "gw-berlin-dc",
                                 "gateway_nodes": [NODE], "metrics_url": "http://127.0.0.1:18081/metrics"})
    return app


async def loaded(pilot) -> None:
    from aiconsole.tui.screens.gateways import GatewaysScreen

    await wait_until(pilot, lambda: isinstance(pilot.app.screen, GatewaysScreen)
                     and not pilot.app.screen.loading and len(pilot.app.screen.table.model) == 3, what="gateways")
    await pilot.pause()


def rows(app) -> list:
    table = app.screen.table
    return [table.model.row_at(i) for i in range(table.model.visible_count)]


@pytest.mark.parametrize("size", SIZES)
async def test_view_sorted_by_expiry_with_glyph_and_colour(size, nodes):
    port = FakeGatewayPort()
    seed_ledger(port)
    app = gw_app(port)
    async with app.run_test(size=size) as pilot:
        await loaded(pilot)
        shown = rows(app)
        assert [r.key for r in shown] == ["gw-berlin-dc", "gw-oslo-edge", "gw-lab"]
        berlin = shown[0]
        assert berlin.cells[1] == "⚠ expiring" and berlin.style == "warn" and "in 3d" in berlin.cells[2]
        assert shown[1].cells[1] == "✓ valid" and shown[1].style is None
        assert shown[2].cells[1] == "? unknown"
        assert berlin.cells[4] == "1/1 ✓ 4ms"
        status = str(app.screen.query_one("#status").render())
        assert "1 token(s) expiring" in status and "1 unknown" in status
        assert "\x1b" not in "".join(c for r in shown for c in r.cells)


async def test_mint_validates_expiry_then_shows_masked_token_with_copy_and_reveal(nodes):
    port = FakeGatewayPort()
    seed_ledger(port)
    app = gw_app(port)
    copied: list[str] = []
    app.copy_to_clipboard = copied.append  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("t")
        from aiconsole.tui.screens.gateway_token import MintTokenScreen

        await wait_until(pilot, lambda: isinstance(app.screen, MintTokenScreen), what="mint modal")
        modal = app.screen
        assert modal.slot == "secondary"  # the slot the current token does not use
        await pilot.press("p")
        assert modal.slot == "primary"
        await pilot.press("right")
        assert modal.slot == "secondary"
        assert "◉ secondary" in str(modal.query_one("#mint-slot").render())
        expiry = modal.query_one("#mint-expiry")
        expiry.value = "45d"
        before = len(port.tokens_seen)
        await pilot.press("enter")
        await pilot.pause()
        assert modal.token is None and len(port.tokens_seen) == before  # nothing was minted
        assert "more than 30 days" in str(modal.query_one("#mint-expiry-note").render())
        expiry.value = "10d"
        await pilot.press("enter")
        await wait_until(pilot, lambda: modal.token is not None, what="minted")
        token = port.tokens_seen[-1]
        shown = str(modal.query_one("#mint-token").render())
        assert token not in shown and "GatewayKey ••••••••" in shown and modal.token.fingerprint in shown
        assert "kind: Secret" in shown
        await pilot.press("a")
        assert copied == [f"GatewayKey {token}"]
        assert token not in " ".join(notifications(app))
        await pilot.press("v")
        await pilot.pause()
        assert token in str(modal.query_one("#mint-token").render())
        app.clock.advance(16)
        modal.tick()
        await pilot.pause()
        assert token not in str(modal.query_one("#mint-token").render())
        await pilot.press("escape")
        await loaded(pilot)
        oslo_before = [r for r in rows(app) if r.key == "gw-berlin-dc"][0]
        assert oslo_before.data.token.slot == "secondary"  # the new token is now the current one


async def test_regenerate_confirmation_lists_known_tokens_and_invalidates_them(nodes):
    port = FakeGatewayPort()
    seed_ledger(port)
    app = gw_app(port)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        fp = rows(app)[0].data.token.fingerprint
        await pilot.press("K")
        from aiconsole.tui.screens.gateway_regenerate import RegenerateKeyScreen

        await wait_until(pilot, lambda: isinstance(app.screen, RegenerateKeyScreen), what="regen modal")
        modal = app.screen
        assert modal.slot == "secondary"  # the safe default
        body = str(modal.query_one("#regen-body").render())
        assert "knows no live token from the secondary key" in body
        await pilot.press("p")
        await pilot.pause()
        assert modal.slot == "primary"
        body = str(modal.query_one("#regen-body").render())
        assert "invalidates EVERY token" in body and f"sha256:{fp}" in body and "rotate first" in body
        await pilot.press("y")
        await wait_until(pilot, lambda: any("Key regenerated" in n for n in notifications(app)), what="regenerated")
        await loaded(pilot)
        await wait_until(pilot, lambda: rows(app)[0].data.token_state == "invalidated", what="reload")
        assert rows(app)[0].key == "gw-berlin-dc" and rows(app)[0].cells[1] == "✗ invalidated"


async def test_guided_rotation_mints_waits_for_healthy_nodes_then_regenerates(nodes, monkeypatch):
    monkeypatch.setattr("aiconsole.tui.screens.gateway_rotate.POLL_INTERVAL", 0.05)
    port = FakeGatewayPort()
    seed_ledger(port)
    app = gw_app(port)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("r")
        from aiconsole.tui.screens.gateway_rotate import RotateGatewayScreen

        await wait_until(pilot, lambda: isinstance(app.screen, RotateGatewayScreen) and app.screen.step == "plan",
                         what="rotation plan")
        wizard = app.screen
        assert (wizard.old_slot, wizard.new_slot) == ("primary", "secondary")
        await pilot.press("m")
        await wait_until(pilot, lambda: wizard.step == "minted", what="minted")
        assert wizard.token.slot == "secondary"
        assert port.tokens_seen[-1] not in str(wizard.query_one("#rot-text").render())
        nodes[NODE] = False  # not deployed yet: the node is down
        await pilot.press("d")
        await wait_until(pilot, lambda: wizard.step == "waiting" and wizard.node_health, what="probing")
        assert port.gw_keys["gw-berlin-dc"]["primary"] == "gw-berlin-dc-p0"  # nothing regenerated yet
        nodes[NODE] = True
        await wait_until(pilot, lambda: wizard.step == "ready", timeout=10, what="healthy")
        await pilot.press("y")
        await wait_until(pilot, lambda: wizard.step == "done", what="done")
        assert port.gw_keys["gw-berlin-dc"]["primary"] != "gw-berlin-dc-p0"
        assert "Rotation complete" in str(wizard.query_one("#rot-step").render())
        await pilot.press("escape")
        await loaded(pilot)
        await wait_until(pilot, lambda: rows(app)[0].key != "gw-berlin-dc" or rows(app)[0].data.token.slot == "secondary",
                         what="reload")


async def test_read_only_hides_the_write_keys(nodes):
    port = FakeGatewayPort()
    app = gw_app(port, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.press("t")
        await pilot.pause()
        from aiconsole.tui.screens.gateways import GatewaysScreen

        assert isinstance(app.screen, GatewaysScreen)


# -- snapshots ---------------------------------------------------------------------------------


def _snapshot_app():
    port = FakeGatewayPort()
    seed_ledger(port)
    return gw_app(port)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_snapshot_gateways_view(size, nodes, snap_compare):
    app = _snapshot_app()
    assert snap_compare(app, terminal_size=size, run_before=loaded)


def test_snapshot_minted_token_is_masked(nodes, snap_compare):
    app = _snapshot_app()

    async def mint(pilot):
        from aiconsole.tui.screens.gateway_token import MintTokenScreen

        await loaded(pilot)
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, MintTokenScreen), what="modal")
        await pilot.press("enter")
        await wait_until(pilot, lambda: pilot.app.screen.token is not None, what="minted")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=mint)


async def test_rotation_resumes_after_the_wizard_was_closed(nodes, monkeypatch):
    from aiconsole.tui.screens.gateway_rotate import RotateGatewayScreen

    monkeypatch.setattr("aiconsole.tui.screens.gateway_rotate.POLL_INTERVAL", 0.05)
    port = FakeGatewayPort()
    seed_ledger(port)
    app = gw_app(port)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, RotateGatewayScreen) and app.screen.step == "plan",
                         what="plan")
        await pilot.press("m")
        await wait_until(pilot, lambda: app.screen.step == "minted", what="minted")
        fp = app.screen.token.fingerprint
        await pilot.press("escape")
        await loaded(pilot)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, RotateGatewayScreen) and app.screen.step == "plan",
                         what="resumed plan")
        wizard = app.screen
        text = str(wizard.query_one("#rot-text").render())
        assert f"sha256:{fp}" in text and "value was not kept" in text
        await pilot.press("d")  # deployed: the node (healthy, slot unknown) is ready at once
        await wait_until(pilot, lambda: wizard.step == "ready", what="ready")
        await pilot.press("y")
        await wait_until(pilot, lambda: wizard.step == "done", what="done")
        assert port.gw_keys["gw-berlin-dc"]["primary"] != "gw-berlin-dc-p0"


async def test_production_mint_needs_the_service_name_typed(nodes):
    from aiconsole.tui.screens.confirm import ConfirmScreen
    from aiconsole.tui.screens.gateway_token import MintTokenScreen

    port = FakeGatewayPort()
    app = gw_app(port, production=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, MintTokenScreen), what="mint modal")
        modal = app.screen
        minted_before = len(port.tokens_seen)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="production confirmation")
        await pilot.press(*"apim-fake", "enter")
        await wait_until(pilot, lambda: modal.token is not None, what="minted")
        assert len(port.tokens_seen) == minted_before + 1
        from aiconsole.audit.journal import AuditJournal

        entry = AuditJournal().entries()[-1]
        assert entry["action"] == "gateways.token" and entry["result"] == "ok"
        assert entry["after"]["fingerprint"] == modal.token.fingerprint


async def test_enter_expands_the_detail_panel(nodes):
    port = FakeGatewayPort()
    seed_ledger(port)
    app = gw_app(port)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        detail = app.screen.query_one("#gw-detail")
        await pilot.press("enter")
        await pilot.pause()
        assert detail.has_class("expanded") and app.screen.table.has_class("compact")
        await pilot.press("enter")
        await pilot.pause()
        assert not detail.has_class("expanded")
