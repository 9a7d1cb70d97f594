"""Secrets (issue #10 item 5): a whole session through the CLI entry point with ``--debug`` on, in
an isolated home — issue with --show-keys, single and two-slot rotation, keys show --reveal, a
gateway token with --reveal and one masked, a gateway key regenerated, errors in the middle —
then every file the console wrote and everything it printed (except the outputs where a key was
explicitly asked for) is searched for every key and token the sandbox issued: zero hits.
Also: keys and tokens are not in the reprs or messages of the objects that carry them."""

from __future__ import annotations

import json
import time
from datetime import datetime

import pytest

from tests.hardening.conftest import run_cli_inproc
from tests.sandbox_fixture import ROOT, sdk_client, set_faults, start_sandbox


@pytest.fixture(scope="module")
def sandbox():
    info, stop = start_sandbox(seed=11, subscriptions=20, traffic=False)
    yield info
    stop()


SECRET_FIELDS = ("key", "token", "value", "auth")


def _strings(value, name: str = "") -> list[str]:
    """Every string under a secret-looking field of a JSON value (where an explicit output shows them)."""
    if isinstance(value, str):
        return [value] if any(word in name.lower() for word in SECRET_FIELDS) and "•" not in value else []
    if isinstance(value, dict):
        return [s for k, v in value.items() if "fingerprint" not in k for s in _strings(v, k)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v, name)]
    return []


def _fragments(secret: str) -> list[str]:
    """The secret and two long pieces of it: a leak of most of a key is a leak."""
    if "&" in secret:  # a gateway token: id&expiry&signature; the signature is the secret part
        secret = secret.rsplit("&", 1)[1]
    return [secret, secret[:16], secret[-20:-4]] if len(secret) >= 24 else [secret]


def test_a_full_session_leaks_no_key_or_token(sandbox, tmp_path, short_backoff):
    home = tmp_path / "home"
    started = time.time()
    quiet: list[str] = []  # everything the console printed where no secret was asked for
    seen: set[str] = set()  # every secret an explicit output showed (some are rotated away later)
    client = sdk_client(sandbox)
    rg, svc = sandbox["resource_group"], sandbox["service_name"]

    def run(*args: str, reveals: bool = False, expect: int | None = 0):
        out = run_cli_inproc(home, "--debug", *args, sandbox=sandbox)
        if expect is not None:
            assert out.returncode == expect, (args, out.stdout, out.stderr)
        assert "Traceback" not in out.stderr
        if not reveals:
            quiet.extend([out.stdout, out.stderr])
            return out
        shown = json.loads(out.stdout)
        seen.update(s.removeprefix("GatewayKey ") for s in _strings(shown) if len(s) >= 24)
        return shown

    def server_keys(sid: str) -> dict[str, str]:
        keys = client.subscription.list_secrets(rg, svc, sid)
        return {"primary_key": keys.primary_key, "secondary_key": keys.secondary_key}

    # each explicit output shows the keys the server holds at that moment (not masks, not stale ones)
    created = run("-o", "json", "subs", "create", "--product", "starter", "--display-name", "Secrets", "--id",
                  "sec-1", "--state", "active", "--show-keys", "--yes", reveals=True)
    assert created["keys"] == server_keys("sec-1")
    run("-o", "json", "keys", "show", "sec-1")
    run("-o", "table", "keys", "show", "sec-1")
    run("-o", "json", "keys", "rotate", "sec-1", "--slot", "primary", "--yes", "--reason", "hardening")
    shown = run("-o", "json", "keys", "show", "sec-1", "--reveal", reveals=True)
    assert {k: shown[k] for k in ("primary_key", "secondary_key")} == server_keys("sec-1")
    assert shown["primary_key"] != created["keys"]["primary_key"]  # the rotation took
    run("-o", "json", "keys", "rotate", "sec-1", "--two-slot", "--in-use", "secondary", "--handover-only", "--yes")
    token = run("-o", "json", "gateways", "token", "gw-frankfurt-onprem", "--reveal", "--yes", reveals=True)
    from azure.mgmt.apimanagement.models import GatewayTokenRequestContract

    expiry = datetime.fromisoformat(token["expires"].replace("Z", "+00:00"))
    minted = client.gateway.generate_token(rg, svc, "gw-frankfurt-onprem",
                                           GatewayTokenRequestContract(key_type="primary", expiry=expiry))
    assert token["token"] == minted.value and token["auth_value"] == "GatewayKey " + minted.value
    run("-o", "json", "gateways", "token", "gw-seattle-edge", "--yes")
    run("-o", "table", "gateways", "token", "gw-seattle-edge", "--slot", "secondary", "--yes")
    # errors in the middle: a 500 storm on a write, then an unknown id, then a refused write
    set_faults(sandbox, error_rate=1.0)
    try:
        run("-o", "json", "keys", "rotate", "sec-1", "--slot", "secondary", "--yes", expect=1)
        run("-o", "json", "gateways", "token", "gw-frankfurt-onprem", "--reveal", "--yes", expect=1)
    finally:
        set_faults(sandbox)
    run("-o", "json", "keys", "show", "no-such-sub", "--reveal", expect=1)
    run("-o", "json", "keys", "rotate", "sec-1", "--slot", "secondary", expect=3)
    run("-o", "json", "gateways", "regenerate-key", "gw-seattle-edge", "--slot", "secondary", "--yes")
    run("-o", "json", "keys", "rotations")
    run("-o", "table", "subs", "list")
    run("-o", "json", "audit", "list")
    run("audit", "verify")

    # every key the sandbox holds now, plus every secret an explicit output showed on the way
    secrets = set(seen)
    for sub in client.subscription.list(rg, svc):
        keys = client.subscription.list_secrets(rg, svc, sub.name)
        secrets.update(k for k in (keys.primary_key, keys.secondary_key) if k)
    for gw in client.gateway.list_by_service(rg, svc):
        keys = client.gateway.list_keys(rg, svc, gw.name)
        secrets.update(k for k in (keys.primary, keys.secondary) if k)
    assert len(secrets) > 40 and len(seen) >= 4

    written = [p for p in home.rglob("*") if p.is_file()]
    written += [p for p in (ROOT / "snapshots").rglob("*") if p.is_file() and p.stat().st_mtime >= started]
    assert any(p.name == "debug.log" for p in written), "the session ran with --debug"
    assert any(p.name.startswith("audit") for p in written)
    hits = []
    for secret in secrets:
        needles = _fragments(secret)
        for path in written:
            data = path.read_bytes().decode("utf-8", "replace")
            hits += [f"{path.relative_to(home) if home in path.parents else path}: {n[:6]}…" for n in needles
                     if n in data]
        for i, text in enumerate(quiet):
            hits += [f"printed output #{i}: {n[:6]}…" for n in needles if n in text]
    assert not hits, hits


def test_reprs_and_messages_of_secret_carriers_do_not_show_them():
    from datetime import datetime, timezone

    from aiconsole.domain.errors import PreconditionFailedError
    from aiconsole.domain.models import GatewayToken, KeyPair

    secret = "0123456789abcdef0123456789abcdef"
    pair = KeyPair(name="s1", primary_key=secret, secondary_key=secret[::-1])
    token = GatewayToken(gateway="gw", slot="primary", value="integration&202612241100&" + secret,
                         expires=datetime(2026, 12, 24, tzinfo=timezone.utc))
    for carrier in (pair, token):
        for text in (repr(carrier), str(carrier), f"{carrier}", carrier.model_dump_json(), str(carrier.model_dump()),
                     repr([carrier]), str({"x": carrier})):
            assert secret not in text and secret[::-1] not in text, text
    error = PreconditionFailedError(f"Could not rotate {pair}", f"token {token!r}")
    assert secret not in f"{error} {error!r} {getattr(error, 'hint', '')}"
