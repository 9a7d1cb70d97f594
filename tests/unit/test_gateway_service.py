"""Gateway tokens, ledger and rotation against an in-memory management port.

The fake signs tokens the way APIM does (deterministic HMAC over gateway id and expiry), which is
all the service relies on: the same key and expiry give the same token, a new key a new one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from aiconsole.audit.journal import AuditJournal
from aiconsole.domain.errors import AiconsoleError, NotFoundError, RefusedError, UsageError
from aiconsole.domain.models import Api, Gateway, GatewayKeys
from aiconsole.services.context import ServiceContext
from aiconsole.services.gateway_rotation import GatewayRotation, load_state
from aiconsole.services.gateway_tokens import TokenLedger
from aiconsole.services.gateways import (
    GatewayService,
    parse_expiry,
    parse_target,
    parse_token_text,
)

NOW = datetime(2026, 11, 24, 10, 0, 30, tzinfo=UTC)


class FakeGateways:
    label = "fake"

    def __init__(self) -> None:
        self.keys = {"gw-a": {"primary": secrets.token_hex(16), "secondary": secrets.token_hex(16)},
                     "gw-b": {"primary": secrets.token_hex(16), "secondary": secrets.token_hex(16)}}
        self.minted: list[str] = []

    def list_gateways(self):
        return [Gateway(name=g, location=f"loc-{g}", description=f"gateway {g}") for g in self.keys]

    def get_gateway(self, gid):
        if gid not in self.keys:
            raise NotFoundError(f"Could not read gateway '{gid}': not found.")
        return Gateway(name=gid, location=f"loc-{gid}")

    def list_gateway_apis(self, gid):
        return [Api(name="azure-openai")]

    def list_gateway_hostnames(self, gid):
        return [f"{gid}.example"]

    def list_gateway_keys(self, gid):
        k = self.keys[gid]
        return GatewayKeys(name=gid, primary=k["primary"], secondary=k["secondary"])

    def regenerate_gateway_key(self, gid, slot):
        self.keys[gid][slot] = secrets.token_hex(16)

    def generate_gateway_token(self, gid, slot, expiry):
        stamp = expiry.astimezone(UTC).strftime("%Y%m%d%H%M")
        sig = hmac.new(self.keys[gid][slot].encode(), f"{gid}\n{stamp}".encode(), hashlib.sha512).digest()
        token = f"{gid}&{stamp}&{base64.b64encode(sig).decode()}"
        self.minted.append(token)
        return token


@pytest.fixture
def world(tmp_path):
    backend = FakeGateways()
    journal = AuditJournal(tmp_path / "audit.jsonl")
    ctx = ServiceContext(backend=backend, journal=journal, service_name="apim-test")
    clock = {"now": NOW}
    service = GatewayService(ctx, ledger=TokenLedger(tmp_path / "ledger.jsonl"), clock=lambda: clock["now"])
    return backend, service, journal, clock, tmp_path


def _no_secret_in(path, backend):
    text = path.read_text() if path.exists() else ""
    for token in backend.minted:
        assert token not in text
        assert token.split("&")[2] not in text
    for keys in backend.keys.values():
        for key in keys.values():
            assert key not in text


# -- parsing ---------------------------------------------------------------------------------


def test_expiry_defaults_to_30_days_on_a_whole_minute():
    assert parse_expiry(None, NOW) == datetime(2026, 12, 24, 10, 0, tzinfo=UTC)
    assert parse_expiry("12h", NOW) == datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
    assert parse_expiry("2026-12-01T00:00Z", NOW) == datetime(2026, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize("text,words", [("31d", "more than 30 days"), ("5w", "more than 30 days"),
                                        ("2026-11-01T00:00Z", "not in the future"), ("0m", "not in the future"),
                                        ("soon", "not an expiry")])
def test_bad_expiry_is_refused_with_a_sentence(text, words):
    with pytest.raises(UsageError) as info:
        parse_expiry(text, NOW)
    assert words in info.value.message


def test_token_text_and_targets():
    assert parse_token_text("GatewayKey gw&202612241000&abc=") == ("gw", datetime(2026, 12, 24, 10, 0, tzinfo=UTC))
    with pytest.raises(UsageError):
        parse_token_text("not-a-token")
    assert parse_target("gw-a=http://127.0.0.1:1", default_gateway=None) == ("gw-a", "http://127.0.0.1:1")
    assert parse_target("http://127.0.0.1:1/?a=b", default_gateway="gw") == ("gw", "http://127.0.0.1:1/?a=b")
    with pytest.raises(UsageError):
        parse_target("http://127.0.0.1:1", default_gateway=None)


# -- mint, ledger, journal -------------------------------------------------------------------


def test_mint_records_fingerprint_only_and_is_journaled(world):
    backend, service, journal, _, tmp = world
    token = service.mint("gw-a", "secondary", "30d")
    assert token.auth_value(reveal=True) == "GatewayKey " + backend.minted[-1]
    assert token.auth_value().startswith("GatewayKey ••••••••")
    assert backend.minted[-1] not in json.dumps(token.as_json(), default=str)
    assert "name: gw-a-token" in token.kubernetes_secret()
    entry = json.loads((tmp / "ledger.jsonl").read_text().splitlines()[0])
    assert entry["fingerprint"] == token.fingerprint and entry["slot"] == "secondary"
    assert journal.entries()[-1]["after"]["fingerprint"] == token.fingerprint
    _no_secret_in(tmp / "ledger.jsonl", backend)
    _no_secret_in(tmp / "audit.jsonl", backend)
    assert oct((tmp / "ledger.jsonl").stat().st_mode & 0o777) == "0o600"


def test_bad_input_writes_nothing(world):
    backend, service, journal, _, tmp = world
    with pytest.raises(NotFoundError) as info:
        service.mint("nope", "primary", "30d")
    assert "no gateway 'nope'" in info.value.message
    with pytest.raises(UsageError):
        service.mint("gw-a", "primary", "45d")
    with pytest.raises(UsageError):
        service.mint("gw-a", "tertiary", "1d")
    assert not (tmp / "ledger.jsonl").exists()
    assert journal.entries() == []
    assert backend.minted == []


def test_read_only_refuses_and_journals_refusal(world):
    backend, service, journal, _, tmp = world
    service.ctx.read_only = True
    with pytest.raises(RefusedError):
        service.mint("gw-a", "primary")
    assert journal.entries()[-1]["result"] == "refused"
    assert not (tmp / "ledger.jsonl").exists()


def test_unknown_token_state_and_hint(world):
    _, service, *_ = world
    rows = service.overview()
    assert [r.token_state for r in rows] == ["unknown", "unknown"]
    assert "check-token gw-a" in rows[0].hint or "check-token gw-b" in rows[0].hint
    assert rows[0].as_json()["token"] is None


def test_overview_sorted_by_soonest_expiry_and_expiring_window(world):
    _, service, _, clock, _ = world
    service.mint("gw-a", "primary", "20d")
    service.mint("gw-b", "primary", "3d")
    rows = service.overview()
    assert [r.name for r in rows] == ["gw-b", "gw-a"]
    assert rows[0].token_state == "expiring" and rows[0].verified is True
    assert rows[1].token_state == "valid"
    assert rows[0].as_json()["token"]["slot"] == "primary"
    assert [r.name for r in service.expiring(timedelta(days=7))] == ["gw-b"]
    clock["now"] = NOW + timedelta(days=4)
    rows = service.overview()
    assert rows[0].name == "gw-b" and rows[0].token_state == "expired"


def test_regenerating_a_slot_invalidates_its_tokens_only(world):
    _, service, journal, _, _ = world
    p = service.mint("gw-a", "primary", "30d")
    s = service.mint("gw-a", "secondary", "10d")
    assert [r.fingerprint for r in service.known_tokens_from_slot("gw-a", "primary")] == [p.fingerprint]
    result = service.regenerate("gw-a", "primary")
    assert [r.fingerprint for r in result.invalidated] == [p.fingerprint]
    assert result.key_fingerprint_before != result.key_fingerprint_after
    row = service.overview(only="gw-a")[0]
    assert row.token.fingerprint == s.fingerprint and row.token_state == "valid"
    states = {r.fingerprint: r.state(NOW) for r in service.ledger.tokens("apim-test", "gw-a")}
    assert states == {p.fingerprint: "invalidated", s.fingerprint: "valid"}
    entry = journal.entries()[-1]
    assert entry["action"] == "gateways.regenerate-key" and entry["before"]["invalidates"] == [p.fingerprint]


def test_regeneration_elsewhere_is_detected_by_verification(world):
    backend, service, *_ = world
    service.mint("gw-a", "primary", "30d")
    backend.regenerate_gateway_key("gw-a", "primary")  # e.g. in the portal
    row = service.overview(only="gw-a")[0]
    assert row.verified is False and row.token_state == "invalidated"
    assert service.overview(only="gw-a", verify=False)[0].token_state == "valid"


def test_check_token_adopts_a_valid_token_and_rejects_others(world):
    backend, service, _, _, tmp = world
    foreign = backend.generate_gateway_token("gw-b", "secondary", NOW + timedelta(days=5))
    check = service.check_token("gw-b", SecretStr("GatewayKey " + foreign))
    assert check.slot == "secondary" and check.recorded and not check.known
    assert service.overview(only="gw-b")[0].token.source == "adopted"
    assert service.check_token("gw-b", SecretStr(foreign)).known
    backend.regenerate_gateway_key("gw-b", "secondary")
    with pytest.raises(AiconsoleError) as info:
        service.check_token("gw-b", SecretStr(foreign))
    assert "cannot verify" in info.value.message and foreign not in str(info.value)
    with pytest.raises(UsageError):
        service.check_token("gw-a", SecretStr(foreign))
    _no_secret_in(tmp / "ledger.jsonl", backend)


def test_ledger_survives_a_torn_line(tmp_path):
    ledger = TokenLedger(tmp_path / "l.jsonl")
    ledger.record_token(instance="i", gateway="g", slot="primary", minted=NOW, expires=NOW + timedelta(days=1),
                        fingerprint="abcd1234")
    with open(tmp_path / "l.jsonl", "ab") as fh:
        fh.write(b'{"event": "tok')
    ledger.record_token(instance="i", gateway="g", slot="secondary", minted=NOW, expires=NOW + timedelta(days=2),
                        fingerprint="abcd5678")
    assert [r.fingerprint for r in ledger.tokens("i")] == ["abcd1234", "abcd5678"]
    with pytest.raises(ValueError):
        ledger.record_token(instance="i", gateway="g", slot="primary", minted=NOW, expires=NOW,
                            fingerprint="gw&202601010000&longsignature")


# -- rotation --------------------------------------------------------------------------------


def test_rotation_mints_other_slot_then_regenerates_old_and_resumes(world):
    _, service, *_ = world
    service.mint("gw-a", "primary", "30d")
    rotation = GatewayRotation(service, "gw-a")
    token = rotation.mint()
    assert token.slot == "secondary"
    state = load_state("apim-test", "gw-a")
    assert state.phase == "minted" and state.fingerprint == token.fingerprint
    assert token.value.get_secret_value() not in json.dumps(state.as_json())
    resumed = GatewayRotation(service, "gw-a")  # a new run picks up where the last stopped
    assert resumed.phase == "minted" and resumed.plan() == ("primary", "secondary")
    resumed.mark_deployed()
    assert resumed.wait_healthy([], attempts=1).healthy
    result, after = resumed.finish()
    assert result.slot == "primary" and after == []
    assert load_state("apim-test", "gw-a") is None
    row = service.overview(only="gw-a")[0]
    assert row.token.slot == "secondary" and row.token_state == "valid"


def test_rotation_without_a_known_token_needs_the_slot(world):
    _, service, *_ = world
    with pytest.raises(UsageError) as info:
        GatewayRotation(service, "gw-a").mint()
    assert "--from-slot" in info.value.hint
    assert GatewayRotation(service, "gw-a").mint(from_slot="secondary").slot == "primary"


def test_rotation_refuses_to_regenerate_when_new_token_died(world):
    backend, service, *_ = world
    service.mint("gw-a", "primary")
    rotation = GatewayRotation(service, "gw-a")
    rotation.mint()
    backend.regenerate_gateway_key("gw-a", "secondary")
    before = dict(backend.keys["gw-a"])
    with pytest.raises(AiconsoleError) as info:
        rotation.finish()
    assert "NOT regenerated" in info.value.message
    assert backend.keys["gw-a"] == before


def test_waiting_for_nodes_is_bounded_and_checks_the_slot_they_report(world, monkeypatch):
    from aiconsole.services import gateway_rotation
    from aiconsole.telemetry.node_health import NodeHealth

    _, service, *_ = world
    service.mint("gw-a", "primary")
    rotation = GatewayRotation(service, "gw-a")
    rotation.mint()
    answers = {"slot": "primary", "healthy": True}

    def probe(urls, **_):
        return [NodeHealth(url=u, healthy=answers["healthy"], status="healthy", token_slot=answers["slot"]) for u in urls]

    monkeypatch.setattr(gateway_rotation, "probe_nodes", probe)
    waits: list[float] = []
    result = rotation.wait_healthy(["http://127.0.0.1:1"], attempts=3, interval=5, wait=waits.append)
    assert not result.healthy and result.attempts == 3 and waits == [5, 5]  # still on the old key
    error = gateway_rotation.unhealthy_error(result.nodes, "primary")
    assert "still runs a token from the primary key" in error.message and "NOT regenerated" in error.message
    answers["slot"] = "secondary"
    assert rotation.wait_healthy(["http://127.0.0.1:1"], attempts=3, wait=waits.append).healthy
    answers["slot"] = None  # a node that does not say (APIM's own): healthy is all we can check
    assert rotation.wait_healthy(["http://127.0.0.1:1"], attempts=1).healthy
    answers["healthy"] = False
    assert not rotation.wait_healthy(["http://127.0.0.1:1"], attempts=1).healthy
