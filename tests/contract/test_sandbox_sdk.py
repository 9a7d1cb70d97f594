"""The real, unmodified ``azure-mgmt-apimanagement`` SDK against a sandbox on a loopback socket.

Every response here is deserialized by the SDK's own models; expected values are computed
from other calls (the unfiltered list, a fresh GET), never hard-coded.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from tests.sandbox_fixture import sdk_client, start_sandbox

SUBS = 260


@pytest.fixture(scope="module")
def world():
    info, stop = start_sandbox(seed=11, subscriptions=SUBS)
    client = sdk_client(info)
    yield info, client, info["resource_group"], info["service_name"]
    client.close()
    assert stop() == 0


def _etag(operation, *args):
    return operation(*args, cls=lambda _response, _body, headers: headers["ETag"])


def test_list_pages_past_100_and_never_carries_keys(world):
    info, client, rg, svc = world
    pager = client.subscription.list(rg, svc).by_page()
    pages = [list(page) for page in pager]
    assert len(pages) == (SUBS + 99) // 100
    assert all(len(p) <= 100 for p in pages)
    subs = [s for page in pages for s in page]
    assert len({s.name for s in subs}) == SUBS
    assert all(s.primary_key is None and s.secondary_key is None for s in subs)
    assert {s.state for s in subs} == {"active", "suspended", "submitted", "rejected", "cancelled", "expired"}


def test_filters_agree_with_filtering_the_full_list(world):
    info, client, rg, svc = world
    everything = list(client.subscription.list(rg, svc))
    word = everything[7].display_name.split()[0].lower()
    cases = {
        f"contains(displayName,'{word}')": lambda s: word in (s.display_name or "").lower(),
        f"startswith(displayName,'{word}')": lambda s: (s.display_name or "").lower().startswith(word),
        "endswith(displayName,'7')": lambda s: (s.display_name or "").endswith("7"),
        "state eq 'suspended'": lambda s: s.state == "suspended",
        "productId eq 'starter' and state eq 'active'": lambda s: s.scope.endswith("/products/starter")
        and s.state == "active",
        f"displayName eq '{everything[3].display_name}'": lambda s: s.display_name == everything[3].display_name,
        "scope eq '/apis'": lambda s: s.scope.endswith("/apis"),
        f"ownerId eq '{everything[0].owner_id}'": lambda s: s.owner_id == everything[0].owner_id,
        f"name eq '{everything[5].name}'": lambda s: s.name == everything[5].name,
    }
    for expression, keep in cases.items():
        expected = sorted(s.name for s in everything if keep(s))
        got = sorted(s.name for s in client.subscription.list(rg, svc, filter=expression, top=7))
        assert got == expected, expression
        assert expected or expression.startswith("endswith"), f"{expression} matched nothing: weak case"


def test_top_and_skip_window_the_list(world):
    info, client, rg, svc = world
    everything = [s.name for s in client.subscription.list(rg, svc)]
    first_page = next(iter(client.subscription.list(rg, svc, top=10, skip=20).by_page()))
    assert [s.name for s in first_page] == everything[20:30]


def test_get_head_and_unknown_id(world):
    info, client, rg, svc = world
    listed = next(iter(client.subscription.list(rg, svc, filter="state eq 'active'")))
    got = client.subscription.get(rg, svc, listed.name)
    assert (got.display_name, got.scope, got.created_date) == (listed.display_name, listed.scope, listed.created_date)
    assert _etag(client.subscription.get_entity_tag, rg, svc, listed.name).startswith('"')
    with pytest.raises(ResourceNotFoundError):
        client.subscription.get(rg, svc, "does-not-exist")


def test_create_defaults_to_submitted_and_update_with_stale_etag_is_412(world):
    from azure.mgmt.apimanagement.models import SubscriptionCreateParameters, SubscriptionUpdateParameters

    info, client, rg, svc = world
    user = next(iter(client.user.list_by_service(rg, svc)))
    created = client.subscription.create_or_update(
        rg, svc, "sdk-created",
        SubscriptionCreateParameters(scope="/products/premium", display_name="SDK created", owner_id=f"/users/{user.name}"),
    )
    assert created.state == "submitted"
    assert created.scope.endswith("/products/premium") and created.owner_id.endswith(f"/users/{user.name}")
    etag = _etag(client.subscription.get_entity_tag, rg, svc, "sdk-created")
    updated = client.subscription.update(rg, svc, "sdk-created", etag,
                                         SubscriptionUpdateParameters(state="active", display_name="SDK active"))
    assert (updated.state, updated.display_name) == ("active", "SDK active")
    with pytest.raises(HttpResponseError) as stale:
        client.subscription.update(rg, svc, "sdk-created", etag, SubscriptionUpdateParameters(display_name="lost"))
    assert stale.value.status_code == 412
    assert client.subscription.get(rg, svc, "sdk-created").display_name == "SDK active"
    with pytest.raises(HttpResponseError) as bad_scope:
        client.subscription.create_or_update(
            rg, svc, "sdk-bad", SubscriptionCreateParameters(scope="/products/no-such-product", display_name="x"))
    assert bad_scope.value.status_code in (400, 404)
    fresh = _etag(client.subscription.get_entity_tag, rg, svc, "sdk-created")
    client.subscription.delete(rg, svc, "sdk-created", fresh)
    with pytest.raises(ResourceNotFoundError):
        client.subscription.get(rg, svc, "sdk-created")


def test_regenerate_changes_only_that_key_and_the_etag(world):
    info, client, rg, svc = world
    sid = info["noisy_subscription"]
    before = client.subscription.list_secrets(rg, svc, sid)
    etag_before = _etag(client.subscription.get_entity_tag, rg, svc, sid)
    assert client.subscription.regenerate_primary_key(rg, svc, sid) is None
    after = client.subscription.list_secrets(rg, svc, sid)
    assert after.primary_key != before.primary_key and len(after.primary_key) == 32
    assert after.secondary_key == before.secondary_key
    assert _etag(client.subscription.get_entity_tag, rg, svc, sid) != etag_before
    client.subscription.regenerate_secondary_key(rg, svc, sid)
    assert client.subscription.list_secrets(rg, svc, sid).secondary_key != before.secondary_key


def test_policies_read_and_write_in_both_forms(world):
    from azure.mgmt.apimanagement.models import PolicyContract

    info, client, rg, svc = world
    xml = client.api_policy.get(rg, svc, "llm", "policy")
    raw = client.api_policy.get(rg, svc, "llm", "policy", format="rawxml")
    assert "&quot;" in xml.value and "&quot;" not in raw.value and '"batch"' in raw.value
    etag = _etag(client.api_policy.get_entity_tag, rg, svc, "llm", "policy")
    edited = raw.value.replace('tokens-per-minute="30000"', 'tokens-per-minute="45000"')
    assert edited != raw.value
    client.api_policy.create_or_update(rg, svc, "llm", "policy", PolicyContract(value=edited, format="rawxml"),
                                       if_match=etag)
    assert client.api_policy.get(rg, svc, "llm", "policy", format="rawxml").value == edited
    assert client.api_policy.get(rg, svc, "llm", "policy").value == xml.value.replace("30000", "45000")
    with pytest.raises(HttpResponseError) as stale:
        client.api_policy.create_or_update(rg, svc, "llm", "policy", PolicyContract(value=edited, format="rawxml"),
                                           if_match=etag)
    assert stale.value.status_code == 412
    # xml in, the same bytes out: CRLF, comments and odd spacing survive.
    odd = client.product_policy.get(rg, svc, "premium", "policy").value.replace("\n", "\r\n") + "\r\n<!-- kept -->"
    client.product_policy.create_or_update(rg, svc, "premium", "policy", PolicyContract(value=odd, format="xml"))
    assert client.product_policy.get(rg, svc, "premium", "policy").value == odd
    with pytest.raises(HttpResponseError) as bad:
        client.policy.create_or_update(rg, svc, "policy", PolicyContract(value="<policies><inbound>", format="xml"))
    assert bad.value.status_code == 400 and bad.value.error.code == "ValidationError"


def test_gateway_token_follows_apim_format_and_expiry_rules(world):
    from azure.mgmt.apimanagement.models import GatewayKeyRegenerationRequestContract, GatewayTokenRequestContract

    info, client, rg, svc = world
    gateways = list(client.gateway.list_by_service(rg, svc))
    assert len(gateways) == 2 and all(g.location_data.name for g in gateways)
    gid = gateways[0].name
    expiry = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=29)
    token = client.gateway.generate_token(rg, svc, gid, GatewayTokenRequestContract(key_type="secondary", expiry=expiry))
    name, stamp, signature = token.value.split("&")
    assert (name, stamp) == (gid, expiry.strftime("%Y%m%d%H%M")) and signature
    keys = client.gateway.list_keys(rg, svc, gid)
    client.gateway.regenerate_key(rg, svc, gid, GatewayKeyRegenerationRequestContract(key_type="secondary"))
    assert client.gateway.list_keys(rg, svc, gid).secondary != keys.secondary
    again = client.gateway.generate_token(rg, svc, gid, GatewayTokenRequestContract(key_type="secondary", expiry=expiry))
    assert again.value != token.value  # a new key signs differently
    with pytest.raises(HttpResponseError) as too_long:
        client.gateway.generate_token(rg, svc, gid, GatewayTokenRequestContract(
            key_type="primary", expiry=datetime.now(UTC) + timedelta(days=31)))
    assert too_long.value.status_code == 400
    apis = [a.name for a in client.gateway_api.list_by_service(rg, svc, gid)]
    assert apis and set(apis) <= {a.name for a in client.api.list_by_service(rg, svc)}
    hosts = list(client.gateway_hostname_configuration.list_by_service(rg, svc, gid))
    assert any(h.hostname != "*" for h in hosts)


def test_catalogue_reads(world):
    info, client, rg, svc = world
    service = client.api_management_service.get(rg, svc)
    assert service.id == info["resource_id"]
    products = {p.name: p for p in client.product.list_by_service(rg, svc)}
    assert len(products) >= 4
    for pid in products:
        in_product = list(client.product_subscriptions.list(rg, svc, pid))
        assert all(s.scope.endswith(f"/products/{pid}") for s in in_product)
    some = next(iter(client.subscription.list(rg, svc, filter="state eq 'active'")))
    owner = some.owner_id.rsplit("/", 1)[-1]
    assert some.name in {s.name for s in client.user_subscription.list(rg, svc, owner)}
    user = client.user.get(rg, svc, owner)
    by_email = [u.name for u in client.user.list_by_service(rg, svc, filter=f"contains(email,'{user.email[:5]}')")]
    assert owner in by_email
    ops = {o.name for o in client.api_operation.list_by_api(rg, svc, "azure-openai")}
    assert {"chat-completions", "embeddings"} <= ops
    assert client.named_value.get(rg, svc, "openai-api-key").value is None  # secrets are never listed
    assert [b.name for b in client.backend.list_by_service(rg, svc)]
