"""``aiconsole gateways``: the real CLI and SDK against one sandbox (issue #7 items 2, 4 and 5).

The CLI runs in-process (``main([...])``) so the SDK is imported once per module; every test has
its own state directory (conftest), so each one starts with an empty token ledger.
"""

from __future__ import annotations

import io
import json
import os
import socket
import sys

import pytest

from aiconsole.cli.main import main
from aiconsole.config import paths
from tests.sandbox_fixture import start_sandbox

GW = "gw-frankfurt-onprem"
OTHER = "gw-seattle-edge"


@pytest.fixture(scope="module")
def sandbox():
    info, stop = start_sandbox(seed=3, subscriptions=5, traffic=False)
    yield info
    stop()


def run(capsys, info, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    old = sys.stdin
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        code = main(["--sandbox", info["management_url"], "-o", "json", *args])
    finally:
        sys.stdin = old
    out = capsys.readouterr()
    return code, out.out, out.err


def state_text() -> str:
    """Everything the console wrote under its state directory (ledger, journal, rotations)."""
    chunks = []
    for root, _dirs, files in os.walk(paths.state_dir()):
        for name in files:
            with open(os.path.join(root, name), encoding="utf-8", errors="replace") as fh:
                chunks.append(fh.read())
    return "\n".join(chunks)


def mint(capsys, info, *args: str) -> dict:
    code, out, err = run(capsys, info, "gateways", "token", *args, "--yes")
    assert code == 0, err
    return json.loads(out)


def test_list_has_the_contract_fields_and_unknown_tokens(capsys, sandbox):
    code, out, err = run(capsys, sandbox, "gateways", "list")
    assert code == 0, err
    rows = json.loads(out)
    assert {r["name"] for r in rows} == {GW, OTHER}
    row = next(r for r in rows if r["name"] == GW)
    assert row["location"] == "Frankfurt DC1"
    assert row["apis"] == ["azure-openai", "llm"]
    assert "ai-fra.contoso.example" in row["hostnames"]
    assert row["nodes"] == [] and row["token"] is None and row["token_state"] == "unknown"
    assert "check-token" in row["hint"]


def test_token_is_masked_recorded_by_fingerprint_and_listed(capsys, sandbox):
    data = mint(capsys, sandbox, GW, "--slot", "secondary", "--expiry", "5d")
    assert data["token"].startswith("••••••••") and data["auth_value"].startswith("GatewayKey ••••")
    assert data["slot"] == "secondary" and len(data["fingerprint"]) == 8
    assert "kind: Secret" in data["kubernetes_secret"] and data["revealed"] is False
    revealed = mint(capsys, sandbox, GW, "--slot", "secondary", "--expiry", "5d", "--reveal")
    token = revealed["token"]
    assert token.startswith(f"{GW}&") and revealed["auth_value"] == f"GatewayKey {token}"
    rows = json.loads(run(capsys, sandbox, "gateways", "list")[1])
    assert rows[0]["name"] == GW  # the soonest expiry sorts first
    assert rows[0]["token"]["slot"] == "secondary" and rows[0]["token"]["verified"] is True
    assert rows[0]["token"]["fingerprint"] == revealed["fingerprint"]
    assert rows[0]["token_state"] == "expiring"
    expiring = json.loads(run(capsys, sandbox, "gateways", "expiring", "--within", "7d")[1])
    assert [r["name"] for r in expiring if r["token"]] == [GW]
    text = state_text()
    assert token not in text and token.split("&")[2] not in text
    assert revealed["fingerprint"] in text


def test_token_file_gets_the_auth_value_with_private_mode(capsys, sandbox, tmp_path):
    target = tmp_path / "gw.token"
    data = mint(capsys, sandbox, OTHER, "--token-file", str(target))
    assert data["token_file"] == str(target)
    content = target.read_text().strip()
    assert content.startswith(f"GatewayKey {OTHER}&") and content not in json.dumps(data)
    assert oct(target.stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("args,words,code", [
    ((GW, "--expiry", "31d"), "more than 30 days", 2),
    ((GW, "--expiry", "2020-01-01T00:00Z"), "not in the future", 2),
    ((GW, "--expiry", "tomorrow"), "not an expiry", 2),
    (("no-such-gateway",), "no gateway 'no-such-gateway'", 1),
])
def test_bad_input_is_one_sentence_and_writes_nothing(capsys, sandbox, args, words, code):
    got, out, err = run(capsys, sandbox, "gateways", "token", *args, "--yes")
    assert got == code and words in err and "Traceback" not in err and out == ""
    assert state_text() == ""


def test_writes_need_yes_off_a_terminal(capsys, sandbox):
    code, _, err = run(capsys, sandbox, "gateways", "regenerate-key", GW, "--slot", "primary", stdin="")
    assert code == 3 and "Pass --yes" in err
    code, _, err = run(capsys, sandbox, "gateways", "token", GW, stdin="")
    assert code == 3
    assert "gateway-tokens" not in " ".join(os.listdir(paths.state_dir()))


def test_regenerate_lists_known_tokens_and_marks_them_invalidated(capsys, sandbox):
    dead = mint(capsys, sandbox, OTHER, "--slot", "primary")
    alive = mint(capsys, sandbox, OTHER, "--slot", "secondary", "--expiry", "20d")
    code, _, err = run(capsys, sandbox, "gateways", "regenerate-key", OTHER, "--slot", "primary", stdin="")
    assert code == 3 and dead["fingerprint"] in err and "invalidates EVERY token" in err
    code, out, err = run(capsys, sandbox, "gateways", "regenerate-key", OTHER, "--slot", "primary", "--yes")
    assert code == 0, err
    result = json.loads(out)
    assert [t["fingerprint"] for t in result["invalidated_tokens"]] == [dead["fingerprint"]]
    assert result["key_fingerprint_before"] != result["key_fingerprint_after"]
    row = next(r for r in json.loads(run(capsys, sandbox, "gateways", "list")[1]) if r["name"] == OTHER)
    assert row["token"]["fingerprint"] == alive["fingerprint"] and row["token_state"] == "valid"
    journal = [json.loads(line) for line in (paths.state_dir() / "audit.jsonl").read_text().splitlines()]
    regen = [e for e in journal if e["action"] == "gateways.regenerate-key"]
    assert [e["result"] for e in regen] == ["refused", "ok"]
    assert regen[-1]["before"]["invalidates"] == [dead["fingerprint"]]


def test_check_token_adopts_a_token_minted_elsewhere_and_refuses_dead_ones(capsys, sandbox):
    token = mint(capsys, sandbox, GW, "--slot", "primary", "--reveal")["token"]
    (paths.state_dir() / "gateway-tokens.jsonl").unlink()  # as if minted by another machine
    row = next(r for r in json.loads(run(capsys, sandbox, "gateways", "list")[1]) if r["name"] == GW)
    assert row["token_state"] == "unknown"
    code, out, err = run(capsys, sandbox, "gateways", "check-token", GW, stdin=f"GatewayKey {token}\n")
    assert code == 0, err
    assert json.loads(out)["recorded"] is True and json.loads(out)["slot"] == "primary"
    row = next(r for r in json.loads(run(capsys, sandbox, "gateways", "list")[1]) if r["name"] == GW)
    assert row["token"]["source"] == "adopted" and row["token"]["verified"] is True
    code, _, err = run(capsys, sandbox, "gateways", "check-token", GW, stdin=token[:-6] + "AAAAA=\n")
    assert code == 1 and "cannot verify" in err and token not in err
    code, _, err = run(capsys, sandbox, "gateways", "check-token", OTHER, stdin=token + "\n")
    assert code == 2 and "belongs to gateway" in err
    ledger = (paths.state_dir() / "gateway-tokens.jsonl").read_text()
    assert ledger.count("\n") == 1


def test_unreachable_node_is_reported_not_fatal(capsys, sandbox):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, out, err = run(capsys, sandbox, "gateways", "list", "--node", f"{GW}=http://127.0.0.1:{port}")
    assert code == 0, err
    row = next(r for r in json.loads(out) if r["name"] == GW)
    assert row["nodes"][0]["status"] == "unreachable" and row["nodes"][0]["healthy"] is False
    code, _, err = run(capsys, sandbox, "gateways", "list", "--node", "http://node.example.com")
    assert code == 2 and "Which gateway" in err
    code, out, _ = run(capsys, sandbox, "gateways", "list", "--gateway", GW, "--node", "http://node.example.com")
    assert json.loads(out)[0]["nodes"][0]["status"] == "invalid"


def test_debug_log_never_holds_the_token(capsys, sandbox):
    code, out, err = run(capsys, sandbox, "--debug", "gateways", "token", GW, "--reveal", "--yes")
    assert code == 0, err
    token = json.loads(out)["token"]
    log = paths.debug_log_file()
    text = log.read_text()
    # the log did record the token call itself
    assert any("Request URL:" in line and f"/gateways/{GW}/generateToken?api-version=" in line
               for line in text.splitlines()), text[-2000:]
    assert token not in text and token.split("&")[2] not in text
    assert token not in state_text()


def test_hostile_gateway_strings_never_reach_the_terminal(capsys):
    from aiconsole.services.gateways import MintedToken, k8s_name

    info, stop = start_sandbox(seed=3, subscriptions=5, traffic=False, hostile_names=True)
    try:
        code = main(["--sandbox", info["management_url"], "-o", "table", "gateways", "list"])
        out = capsys.readouterr()
        assert code == 0, out.err
        assert "\x1b" not in out.out and "\u202e" not in out.out and "\x07" not in out.out
        code, data, err = run(capsys, info, "gateways", "list")
        assert code == 0 and any("\x1b" in (r["description"] or "") or "\u202e" in (r["description"] or "")
                                 or len(r["location"] or "") > 200 for r in json.loads(data))
    finally:
        stop()
    assert k8s_name("GW\x1b]0;x\x07 ../a") == "gw-0-x-a"
    from datetime import UTC, datetime

    from pydantic import SecretStr

    token = MintedToken("gw\x1b[2J", "primary", SecretStr("gw&202601010000&abc="), datetime.now(UTC), datetime.now(UTC))
    assert "\x1b" not in token.kubernetes_secret() and "name: gw-2j-token" in token.kubernetes_secret()
