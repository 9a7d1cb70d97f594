"""Read-only and production guards, end to end: the real CLI and SDK against a sandbox.

A read-only profile must refuse every write with exit 3 and a sentence, change nothing on the
server and journal the refusal; a production profile must refuse without ``--confirm`` naming
the service and write with ``--yes --confirm NAME``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import pytest

from tests.sandbox_fixture import sdk_client, start_sandbox


@pytest.fixture(scope="module")
def sandbox():
    info, stop = start_sandbox(seed=3, subscriptions=40, traffic=False)
    yield info
    stop()


def cli(*args: str, stdin=subprocess.DEVNULL) -> subprocess.CompletedProcess:
    """``aiconsole`` in a subprocess, as a script runs it (no TTY); HOME/XDG are the test's own."""
    return subprocess.run([sys.executable, "-m", "aiconsole", *args], capture_output=True, text=True,
                          env={**os.environ}, stdin=stdin, timeout=120)


def run(capsys, *args: str) -> tuple[int, str, str]:
    """The same CLI entry point in this process (no interpreter start-up per call, which keeps
    the module fast); the subprocess ``cli`` above proves the exit codes across a real process."""
    from aiconsole.cli.main import main

    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _journal() -> list[dict]:
    from aiconsole.audit.journal import AuditJournal

    return AuditJournal().entries()


def server_state(info) -> dict:
    """What a write could change: every subscription's fields and keys, and the gateways' keys."""
    client = sdk_client(info)
    rg, svc = info["resource_group"], info["service_name"]
    subs = {}
    for s in client.subscription.list(rg, svc):
        keys = client.subscription.list_secrets(rg, svc, s.name)
        subs[s.name] = (s.state, s.display_name, str(s.expiration_date), s.scope, keys.primary_key, keys.secondary_key)
    gateways = {}
    for gw in info["gateways"]:
        k = client.gateway.list_keys(rg, svc, gw)
        gateways[gw] = (k.primary, k.secondary)
    policies = {}
    for product in client.product.list_by_service(rg, svc):
        try:
            policies[product.name] = client.product_policy.get(rg, svc, product.name, "policy", format="rawxml").value
        except Exception:  # noqa: BLE001 - a product without a policy answers 404
            policies[product.name] = None
    policies["global"] = client.policy.get(rg, svc, "policy", format="rawxml").value
    return {"subs": subs, "gateways": gateways, "policies": policies}


@pytest.fixture(scope="module")
def target(sandbox):
    rows = json.loads(cli("--sandbox", sandbox["management_url"], "subs", "list", "--state", "active", "-o", "json").stdout)
    special = set(sandbox["noisy_subscriptions"]) | set(sandbox.get("quota_subscriptions", []))
    quiet = [r for r in rows if r["name"] not in special and r["scope"].startswith("product:")]
    return quiet[0]


def write_commands(sandbox, target) -> dict[str, list[str]]:
    """One invocation of every CLI write; keyed by its command path."""
    sid, gw = target["name"], sandbox["gateways"][0]
    product = target["scope"].split(":", 1)[1]
    return {
        "keys rotate": ["keys", "rotate", sid, "--slot", "secondary"],
        "subs create": ["subs", "create", "--display-name", "Guard test", "--product", product],
        "subs set": ["subs", "set", sid, "--state", "suspended"],
        "subs delete": ["subs", "delete", sid],
        "subs expiring": ["subs", "expiring", "--suspend-expired", "--within", "3650d"],
        "gateways token": ["gateways", "token", gw, "--slot", "secondary", "--token-file", os.path.expanduser("~/gw.token")],
        "gateways regenerate-key": ["gateways", "regenerate-key", gw, "--slot", "secondary"],
        "gateways rotate": ["gateways", "rotate", gw, "--from-slot", "primary", "--token-file", os.path.expanduser("~/gw.token")],
        "limits set": ["limits", "set", f"product:{product}", "--tpm", "123456"],
        "limits override": ["limits", "override", "--subscription", sid, "--tpm", "654321", "--until", "2h"],
        "limits undo": ["limits", "undo"],
        "limits cleanup": ["limits", "cleanup"],
    }


def _write_paths() -> set[str]:
    """Every CLI command that takes --yes, i.e. every write, found by walking the parser."""
    from aiconsole.cli.main import build_parser

    found: set[str] = set()

    def walk(parser, prefix):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk(child, prefix + [name])
        if any("--yes" in a.option_strings for a in parser._actions):
            found.add(" ".join(prefix))

    walk(build_parser(), [])
    return found


def test_every_write_command_is_covered_here(sandbox, target):
    missing = _write_paths() - set(write_commands(sandbox, target))
    assert not missing, f"add these write commands to write_commands(): {sorted(missing)}"


def test_read_only_profile_refuses_every_write_and_changes_nothing(sandbox, target, capsys):
    # Something for `limits undo` and `limits cleanup` to act on, written without a profile.
    url, product = sandbox["management_url"], target["scope"].split(":", 1)[1]
    for argv in (["limits", "override", "--subscription", target["name"], "--tpm", "50000", "--until", "4s"],
                 ["limits", "set", f"product:{product}", "--tpm", "22222"]):
        code, _, err = run(capsys, "--sandbox", url, *argv, "--yes")
        assert code == 0, err
    time.sleep(4.5)  # the override above has expired: cleanup has work to refuse
    assert run(capsys, "profile", "add", "ro", "--sandbox", url, "--read-only", "--use")[0] == 0
    before = server_state(sandbox)
    for name, argv in write_commands(sandbox, target).items():
        code, out, err = run(capsys, *argv, "--yes", "--reason", "guard test")
        assert code == 3, f"{name}: exit {code}\n{out}\n{err}"
        assert "read-only" in err and err.startswith("error: ") and "Traceback" not in err, f"{name}: {err}"
    # and once across a real process boundary
    out = cli(*write_commands(sandbox, target)["keys rotate"], "--yes")
    assert out.returncode == 3 and "read-only" in out.stderr, out.stderr
    assert server_state(sandbox) == before
    refused = [e for e in _journal() if e["result"] == "refused"]
    assert len(refused) >= 1 and all(e["profile"] == "ro" for e in refused)
    assert run(capsys, "audit", "verify")[0] == 0
    # reads still work
    assert run(capsys, "subs", "list", "-o", "json")[0] == 0


def test_production_needs_confirm_with_the_service_name(sandbox, target, capsys):
    service = sandbox["service_name"]
    assert run(capsys, "profile", "add", "prod", "--sandbox", sandbox["management_url"], "--production", "--use")[0] == 0
    sid = target["name"]
    rotate = ["keys", "rotate", sid, "--slot", "secondary"]
    before = server_state(sandbox)

    out = cli(*rotate, "--yes")
    assert out.returncode == 3 and f"--confirm {service}" in out.stderr, out.stderr
    code, _, err = run(capsys, *rotate, "--yes", "--confirm", "apim-wrong")
    assert code == 3, err
    code, _, err = run(capsys, *rotate, "--confirm", service)  # no --yes and no terminal to ask on
    assert code == 3 and "--yes" in err, err
    assert server_state(sandbox) == before

    out = cli(*rotate, "--yes", "--confirm", service, "--reason", "INC-1234")
    assert out.returncode == 0, out.stderr
    after = server_state(sandbox)
    assert after["subs"][sid][5] != before["subs"][sid][5]  # the secondary key changed
    assert after["subs"][sid][4] == before["subs"][sid][4]  # the primary did not
    ok = [e for e in _journal() if e["result"] == "ok" and e["target"].endswith(sid)]
    assert ok and ok[-1]["reason"] == "INC-1234" and ok[-1]["profile"] == "prod"
    assert run(capsys, "audit", "verify")[0] == 0


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_profile_discover_against_the_sandbox(sandbox, monkeypatch, how):
    if how == "flag":
        out = cli("--sandbox", sandbox["management_url"], "profile", "discover", "-o", "json")
    else:  # AICONSOLE_SANDBOX counts for discover as for every other command
        monkeypatch.setenv("AICONSOLE_SANDBOX", sandbox["management_url"])
        out = cli("profile", "discover", "-o", "json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert any(r["name"] == sandbox["service_name"] and r["resource_group"] == sandbox["resource_group"] for r in rows)


def test_profile_check_names_what_is_wrong(sandbox, capsys):
    from aiconsole.backends.connect import sandbox_connection
    from aiconsole.config.check import check_connection
    from aiconsole.domain.errors import NotFoundError

    url = sandbox["management_url"]
    assert run(capsys, "profile", "add", "sb", "--sandbox", url)[0] == 0
    code, out, err = run(capsys, "profile", "check", "sb", "-o", "json")
    assert code == 0, err
    assert json.loads(out)["service"] == sandbox["service_name"]

    gw = sandbox["gateways"][1]
    assert run(capsys, "profile", "add", "edge", "--self-hosted", "--gateway", gw, "--of", "sb")[0] == 0
    code, out, err = run(capsys, "profile", "check", "edge", "-o", "json")
    assert code == 0 and json.loads(out)["gateway"], err

    assert run(capsys, "profile", "add", "edge-typo", "--self-hosted", "--gateway", "gw-nowhere", "--of", "sb")[0] == 0
    code, _, err = run(capsys, "profile", "check", "edge-typo")
    assert code == 1 and "names gateway 'gw-nowhere'" in err, err

    conn = sandbox_connection(url, profile="typo")
    conn.service_name = "apim-does-not-exist"
    with pytest.raises(NotFoundError, match="apim-does-not-exist.*does not exist"):
        check_connection(conn)
