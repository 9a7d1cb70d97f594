"""J4 end to end: tokens minted by the console, deployed to sandbox nodes, keys regenerated.

A sandbox started with ``--node-of GW --node-token TOKEN`` is both an instance and a node of
its gateway GW: its status endpoint verifies the token against its own keys. Sandboxes with the
same seed start with the same gateway keys, so a token minted on the module's sandbox works on
a node sandbox started afterwards — that is how a token is "deployed". From then on the console
talks to the node sandbox, so regenerating a key there is what the node sees.
"""

from __future__ import annotations

import io
import json
import socket
import sys

import pytest

from aiconsole.cli.main import main
from aiconsole.config import paths
from tests.sandbox_fixture import start_sandbox

GW = "gw-frankfurt-onprem"
SEED = 11


@pytest.fixture(scope="module")
def minting():
    """The instance the first token is minted on (same seed as every node below)."""
    info, stop = start_sandbox(seed=SEED, subscriptions=5, traffic=False)
    yield info
    stop()


@pytest.fixture
def node_factory():
    stops = []

    def start(token: str):
        info, stop = start_sandbox(seed=SEED, subscriptions=5, traffic=False, node_of=GW, node_token=token)
        stops.append(stop)
        return info

    yield start
    for stop in stops:
        stop()


def cli(capsys, info, *args: str, stdin: str | None = None) -> tuple[int, dict | list | None, str]:
    old = sys.stdin
    sys.stdin = io.StringIO(stdin or "")
    try:
        code = main(["--sandbox", info["management_url"], "-o", "json", *args])
    finally:
        sys.stdin = old
    out = capsys.readouterr()
    return code, (json.loads(out.out) if out.out.strip() else None), out.err


def gw_row(capsys, info, node_url: str) -> dict:
    code, rows, err = cli(capsys, info, "gateways", "list", "--gateway", GW, "--node", node_url)
    assert code == 0, err
    return rows[0]


def mint_primary(capsys, info) -> str:
    code, data, err = cli(capsys, info, "gateways", "token", GW, "--slot", "primary", "--reveal", "--yes")
    assert code == 0, err
    return data["token"]


def test_node_survives_other_slot_and_dies_with_its_own(capsys, minting, node_factory):
    token = mint_primary(capsys, minting)
    node = node_factory(token)
    url = node["gateway_url"]

    row = gw_row(capsys, node, url)
    assert row["nodes"][0]["healthy"] is True and row["nodes"][0]["latency_ms"] is not None
    assert row["token"]["slot"] == "primary" and row["token"]["verified"] is True

    code, result, err = cli(capsys, node, "gateways", "regenerate-key", GW, "--slot", "secondary", "--yes")
    assert code == 0, err
    assert result["invalidated_tokens"] == []
    row = gw_row(capsys, node, url)
    assert row["nodes"][0]["status"] == "healthy" and row["token_state"] == "valid"

    code, result, err = cli(capsys, node, "gateways", "regenerate-key", GW, "--slot", "primary", "--yes")
    assert code == 0, err
    assert len(result["invalidated_tokens"]) == 1
    row = gw_row(capsys, node, url)
    assert row["nodes"][0]["healthy"] is False and row["nodes"][0]["status"] == "degraded"
    assert row["token_state"] == "invalidated"
    text = "".join(p.read_text() for p in paths.state_dir().glob("*.jsonl"))
    assert token not in text and token.split("&")[2] not in text


def test_guided_rotation_end_to_end(capsys, minting, node_factory, tmp_path):
    old_token = mint_primary(capsys, minting)
    old_node = node_factory(old_token)

    token_file = tmp_path / "new.token"
    code, out, err = cli(capsys, old_node, "gateways", "rotate", GW, "--node", old_node["gateway_url"],
                         "--token-file", str(token_file), "--yes")
    assert code == 0, err
    assert out["phase"] == "minted" and out["old_slot"] == "primary" and out["new_slot"] == "secondary"
    assert out["token"]["token"].startswith("••••")  # masked: the value went to the file only
    auth_value = token_file.read_text().strip()
    new_token = auth_value.removeprefix("GatewayKey ")
    assert new_token not in json.dumps(out)

    # Deploy: the node restarts with the new token (same seed: same keys as the instance).
    node = node_factory(new_token)
    code, out, err = cli(capsys, node, "gateways", "rotate", GW, "--deployed", "--node", node["gateway_url"], "--yes")
    assert code == 0, err
    assert out["phase"] == "done" and out["regenerated"]["slot"] == "primary"
    assert [n["healthy"] for n in out["nodes"]] == [True]

    row = gw_row(capsys, node, node["gateway_url"])
    assert row["token"]["slot"] == "secondary" and row["token"]["verified"] is True
    assert row["nodes"][0]["healthy"] is True
    # The old token is dead: the console can no longer verify it, and records nothing.
    code, _, err = cli(capsys, node, "gateways", "check-token", GW, stdin=old_token + "\n")
    assert code == 1 and "cannot verify" in err
    assert not list((paths.state_dir() / "gateway-rotations").glob("*.json"))


def test_rotation_waits_for_nodes_still_on_the_old_key(capsys, minting, node_factory, tmp_path):
    node = node_factory(mint_primary(capsys, minting))
    url = node["gateway_url"]
    # A newer secondary token that was never deployed: the ledger alone would pick the wrong slot.
    assert cli(capsys, node, "gateways", "token", GW, "--slot", "secondary", "--yes")[0] == 0
    code, out, err = cli(capsys, node, "gateways", "rotate", GW, "--node", url, "--token-file", str(tmp_path / "t"),
                         "--yes")
    assert code == 0 and out["phase"] == "minted", err
    assert (out["old_slot"], out["new_slot"]) == ("primary", "secondary")  # as the node reports
    # The operator claims it is deployed, but the node (healthy) still runs the primary token:
    # the sandbox node says which slot its token is from, so the console refuses to go on.
    code, out, err = cli(capsys, node, "gateways", "rotate", GW, "--deployed", "--node", url, "--wait", "0", "--yes")
    assert code == 1 and out is None
    assert "still runs a token from the primary key" in err and "NOT regenerated" in err
    assert gw_row(capsys, node, url)["nodes"][0]["healthy"] is True  # nothing was broken


def test_rotation_refuses_to_regenerate_while_a_node_is_unreachable(capsys, minting, tmp_path):
    token = mint_primary(capsys, minting)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    code, out, err = cli(capsys, minting, "gateways", "rotate", GW, "--token-file", str(tmp_path / "t"), "--yes")
    assert code == 0, err
    code, _, err = cli(capsys, minting, "gateways", "rotate", GW, "--deployed", "--node", dead, "--wait", "0", "--yes")
    assert code == 1 and "NOT regenerated" in err and "unreachable" in err
    # Nothing was regenerated: the primary token minted above still verifies.
    code, check, err = cli(capsys, minting, "gateways", "check-token", GW, stdin=token + "\n")
    assert code == 0 and check["known"] is True and check["slot"] == "primary", err
    # --deployed without a rotation in progress is a usage error, and mints nothing.
    code, _, err = cli(capsys, minting, "gateways", "rotate", "gw-seattle-edge", "--deployed", "--yes")
    assert code == 2 and "nothing can have been deployed" in err


def test_nodes_and_metrics_come_from_a_self_hosted_profile(capsys, minting, node_factory):
    node = node_factory(mint_primary(capsys, minting))

    def run(*args: str) -> tuple[int, object, str]:
        code = main(["-o", "json", *args])
        out = capsys.readouterr()
        return code, (json.loads(out.out) if out.out.strip() else None), out.err

    assert run("profile", "add", "lab", "--sandbox", node["management_url"])[0] == 0
    code, _, err = run("profile", "add", "fra", "--self-hosted", "--of", "lab", "--gateway", GW,
                       "--node", node["gateway_url"], "--metrics", node["metrics_url"], "--use")
    assert code == 0, err
    # The self-hosted profile: its gateway's nodes are probed without any --node flag.
    code, rows, err = run("gateways", "list")
    assert code == 0, err
    row = next(r for r in rows if r["name"] == GW)
    assert row["nodes"][0]["url"] == node["gateway_url"] and row["nodes"][0]["healthy"] is True
    assert row["metrics"] is not None and row["metrics"]["requests_total"] >= 0
    assert row["metrics"]["requests_per_min"] is None  # one scrape: counters only
    code, rows, err = run("gateways", "list", "--rate-window", "0.5")
    assert code == 0, err
    metrics = next(r for r in rows if r["name"] == GW)["metrics"]
    assert metrics["requests_per_min"] is not None and metrics["error_rate"] is not None
    # The parent profile knows its self-hosted children's nodes too.
    code, rows, err = run("--profile", "lab", "gateways", "list")
    assert code == 0, err
    assert next(r for r in rows if r["name"] == GW)["nodes"][0]["healthy"] is True
