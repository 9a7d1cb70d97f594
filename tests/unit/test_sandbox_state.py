"""The sandbox state model: seeding, lookups, ETags, keys, gateway tokens, clock and faults."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from aiconsole.sandbox.clock import Clock
from aiconsole.sandbox.faults import Faults, FaultsError
from aiconsole.sandbox.seed import build_state
from aiconsole.sandbox.state import (
    SUBSCRIPTION_STATES,
    Conflict,
    Invalid,
    NotFound,
    PreconditionFailed,
    sign_gateway_token,
)

FIXED = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def state():
    return build_state(7, 300, clock=Clock(frozen_at=FIXED))


def _fingerprint(s):
    return [(x.sid, x.display_name, x.state, x.scope_kind, x.scope_id, x.owner_id, x.created, x.expiration,
             x.primary_key, x.secondary_key) for x in s.subscriptions.values()]


def test_same_seed_same_world_and_different_seed_differs():
    a = build_state(3, 150, clock=Clock(frozen_at=FIXED))
    b = build_state(3, 150, clock=Clock(frozen_at=FIXED))
    c = build_state(4, 150, clock=Clock(frozen_at=FIXED))
    assert _fingerprint(a) == _fingerprint(b)
    assert a.service.subscription_id == b.service.subscription_id
    assert {k: p.xml for k, p in a.policies.items()} == {k: p.xml for k, p in b.policies.items()}
    assert _fingerprint(a) != _fingerprint(c)


def test_world_covers_every_state_scope_and_expiry_kind(state):
    assert len(state.subscriptions) == 300
    assert set(Counter(s.state for s in state.subscriptions.values())) == set(SUBSCRIPTION_STATES)
    assert {s.scope_kind for s in state.subscriptions.values()} == {"product", "api", "all_apis"}
    now = state.clock.time()
    expiries = [s.expiration for s in state.subscriptions.values() if s.expiration is not None]
    assert any(e < now for e in expiries)
    assert any(now < e <= now + 7 * 86400 for e in expiries)
    keys = [k for s in state.subscriptions.values() for k in (s.primary_key, s.secondary_key)]
    assert len(set(keys)) == len(keys)
    assert all(len(k) == 32 and int(k, 16) >= 0 for k in keys)
    for sid in state.noisy_subscription_ids + state.quota_subscription_ids:
        assert state.get_subscription(sid).state == "active"


def test_small_worlds_never_reference_missing_subscriptions():
    small = build_state(1, 2, clock=Clock(frozen_at=FIXED))
    assert len(small.subscriptions) == 2
    for sid in small.noisy_subscription_ids + small.quota_subscription_ids:
        assert sid in small.subscriptions


def test_lookups_are_case_insensitive_and_unknown_ids_raise(state):
    sid = next(iter(state.subscriptions))
    assert state.get_subscription(sid.upper()).sid == sid
    with pytest.raises(NotFound):
        state.get_subscription("nope")
    with pytest.raises(NotFound):
        state.get_product("nope")
    assert state.get_product("STARTER").pid == "starter"


def test_regenerate_changes_key_etag_and_key_index(state):
    sub = state.get_subscription("batch-summarizer")
    old_key, old_etag = sub.primary_key, sub.etag
    state.regenerate_key(sub.sid, "primary")
    assert sub.primary_key != old_key and sub.etag != old_etag
    assert state.subscription_by_key(old_key) is None
    assert state.subscription_by_key(sub.primary_key) == (sub, "primary")
    assert state.subscription_by_key(sub.secondary_key) == (sub, "secondary")


def test_if_match_rules(state):
    sub = state.get_subscription("eval-harness")
    stale = sub.etag
    state.update_subscription(sub.sid, display_name="renamed")
    with pytest.raises(PreconditionFailed):
        state.update_subscription(sub.sid, if_match=stale, display_name="again")
    state.update_subscription(sub.sid, if_match="*", display_name="again")
    with pytest.raises(Invalid):
        state.delete_subscription(sub.sid, None)
    state.delete_subscription(sub.sid, sub.etag)
    with pytest.raises(NotFound):
        state.get_subscription(sub.sid)


def test_create_defaults_to_submitted_and_rejects_duplicates(state):
    sub = state.create_subscription("new-one", scope_kind="product", scope_id="Premium", display_name="x")
    assert sub.state == "submitted" and sub.scope_id == "premium"
    with pytest.raises(Conflict):
        state.create_subscription("NEW-ONE", scope_kind="all_apis", scope_id=None, display_name="y")
    with pytest.raises(NotFound):
        state.create_subscription("other", scope_kind="product", scope_id="missing", display_name="y")
    with pytest.raises(Conflict):
        state.create_subscription("other", scope_kind="all_apis", scope_id=None, display_name="y",
                                  primary_key=sub.secondary_key)


def test_policy_put_is_verbatim_and_etag_checked(state):
    doc = state.get_policy("product:starter")
    text = "<policies>\r\n  <inbound><base/></inbound>\n<!-- é -->\n</policies>"
    new, created = state.put_policy("product:starter", text, if_match=doc.etag)
    assert not created and new.xml == text and new.etag != doc.etag
    with pytest.raises(PreconditionFailed):
        state.put_policy("product:starter", text, if_match=doc.etag)
    chain = state.policy_chain("azure-openai", "embeddings", product_id="trial")
    assert [d.scope for d in chain] == ["global", "product:trial", "api:azure-openai", "operation:azure-openai/embeddings"]


def test_gateway_tokens_die_with_their_key(state):
    gid = next(iter(state.gateways))
    expiry = state.clock.now() + timedelta(days=10)
    token = state.generate_gateway_token(gid, "secondary", expiry)
    assert token.split("&")[:2] == [gid, expiry.strftime("%Y%m%d%H%M")]
    check = state.verify_gateway_token(token)
    assert check.ok and check.key_type == "secondary"
    state.regenerate_gateway_key(gid, "primary")
    assert state.verify_gateway_token(token).ok
    state.regenerate_gateway_key(gid, "secondary")
    assert state.verify_gateway_token(token).reason == "bad-signature"
    with pytest.raises(Invalid):
        state.generate_gateway_token(gid, "primary", state.clock.now() + timedelta(days=31))
    fresh = state.generate_gateway_token(gid, "primary", state.clock.now() + timedelta(hours=1))
    state.clock.advance(2 * 3600)
    assert state.verify_gateway_token(fresh).reason == "expired"


def test_token_signature_is_hmac_sha512_of_id_and_expiry():
    import base64, hashlib, hmac

    expiry = datetime(2026, 4, 1, 8, 30, tzinfo=UTC)
    token = sign_gateway_token("gw1", expiry, "k" * 32)
    expected = base64.b64encode(hmac.new(b"k" * 32, b"gw1\n202604010830", hashlib.sha512).digest()).decode()
    assert token == f"gw1&202604010830&{expected}"


def test_clock_moves_without_sleeping():
    clock = Clock()
    before = clock.time()
    clock.advance(3600)
    assert clock.time() - before >= 3600
    clock.set(FIXED)
    assert abs(clock.time() - FIXED.timestamp()) < 5
    frozen = Clock(frozen_at=FIXED)
    frozen.advance(60)
    assert frozen.now() == FIXED + timedelta(seconds=60)


def test_faults_validate_and_roll_reproducibly():
    a, b = Faults(seed=5, error_rate=0.5), Faults(seed=5, error_rate=0.5)
    assert [a.roll_error() for _ in range(50)] == [b.roll_error() for _ in range(50)]
    assert not Faults(seed=5).roll_throttle()
    with pytest.raises(FaultsError):
        a.update(error_rate=2)
    with pytest.raises(FaultsError):
        a.update(bogus=1)
    assert a.update(latency_ms=25)["latency_ms"] == 25.0
