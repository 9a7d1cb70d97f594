"""``:gw`` on a real sandbox node: the SDK adapter built in a worker, a real node probed over HTTP.

The node sandbox is started with a token minted on another sandbox of the same seed (same
gateway keys), so the console sees a healthy node; minting and regenerating from the console
then changes what that very node reports.
"""

from __future__ import annotations

import pytest

from aiconsole.backends.connect import sandbox_connection
from aiconsole.services.gateway_tokens import TokenLedger
from aiconsole.tui.app import AiConsoleApp
from aiconsole.tui.screens.gateway_regenerate import RegenerateKeyScreen
from aiconsole.tui.screens.gateway_token import MintTokenScreen
from aiconsole.tui.screens.gateways import GatewaysScreen
from tests.sandbox_fixture import start_sandbox
from tests.tui.helpers import notifications, wait_until

pytestmark = pytest.mark.anyio
GW = "gw-seattle-edge"


@pytest.fixture(scope="module")
def node():
    """A node of GW running a primary token minted on a twin sandbox (the token is not kept)."""
    from azure.mgmt.apimanagement import models

    from tests.sandbox_fixture import sdk_client

    twin, stop_twin = start_sandbox(seed=21, subscriptions=5, traffic=False)
    try:
        from datetime import UTC, datetime, timedelta

        client = sdk_client(twin)
        expiry = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)
        token = client.gateway.generate_token(twin["resource_group"], twin["service_name"], GW,
                                              models.GatewayTokenRequestContract(key_type="primary", expiry=expiry)).value
    finally:
        stop_twin()
    info, stop = start_sandbox(seed=21, subscriptions=5, traffic=False, node_of=GW, node_token=token)
    yield info
    stop()


def rows(screen: GatewaysScreen):
    model = screen.table.model
    return {model.row_at(i).key: model.row_at(i) for i in range(model.visible_count)}


async def test_gw_view_mint_and_regenerate_against_a_sandbox_node(node):
    connection = sandbox_connection(node["management_url"])
    connection.extra.update({"profile_kind": "self-hosted", "gateway": GW, "gateway_nodes": [node["gateway_url"]],
                             "metrics_url": node["metrics_url"]})
    app = AiConsoleApp(connection=connection, cursor_blink=False, start_command="gw")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, GatewaysScreen), what="gw screen")
        screen = app.screen
        await wait_until(pilot, lambda: not screen.loading and len(screen.table.model) == 2, timeout=30,
                         what="gateways")
        row = rows(screen)[GW]
        assert row.cells[1] == "? unknown"  # minted elsewhere: the console has no record of it
        assert row.cells[4].startswith("1/1 ✓")
        assert row.data.nodes[0].token_slot == "primary"

        # Mint from the slot the node does not use (the modal's default), 20 days.
        screen.table.move_cursor_to_key(GW)
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, MintTokenScreen), what="mint modal")
        modal = app.screen
        assert modal.slot == "secondary"
        modal.query_one("#mint-expiry").value = "20d"
        await pilot.press("enter")
        await wait_until(pilot, lambda: modal.token is not None, timeout=30, what="minted")
        fingerprint = modal.token.fingerprint
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen and not screen.loading
                         and rows(screen)[GW].data.token is not None, timeout=30, what="reload")
        row = rows(screen)[GW]
        assert row.cells[1] == "✓ valid" and row.cells[3] == "secondary"
        assert row.data.verified is True and row.data.token.fingerprint == fingerprint

        # Regenerating the slot the node runs (primary) takes the node down: the modal says so.
        await pilot.press("K")
        await wait_until(pilot, lambda: isinstance(app.screen, RegenerateKeyScreen), what="regen modal")
        regen = app.screen
        await pilot.press("p")
        assert "runs a token from the primary key" in str(regen.query_one("#regen-body").render())
        await pilot.press("y")
        await wait_until(pilot, lambda: any("Key regenerated" in n for n in notifications(app)), timeout=30,
                         what="regenerated")
        await wait_until(pilot, lambda: app.screen is screen and not screen.loading
                         and not rows(screen)[GW].data.nodes[0].healthy, timeout=30, what="node degraded")
        row = rows(screen)[GW]
        assert row.cells[4].startswith("0/1 ✗") and row.data.nodes[0].status == "degraded"
        assert row.cells[1] == "✓ valid"  # the console's own token (secondary) still works
        assert [r.fingerprint for r in TokenLedger().tokens("apim-ai-gateway", GW)] == [fingerprint]
