"""Posture verdicts from policy text alone: each layer present, absent and misconfigured."""

from __future__ import annotations

from aiconsole.domain.gateway_config import BackendInfo, NamedValueInfo
from aiconsole.domain.models import Api, PolicyDocument, PolicyScope
from aiconsole.services.posture import (
    ApiPosture,
    assess_backend,
    assess_jwt,
    assess_layers,
    assess_subscription,
    chain,
    jwt_rules,
    load_document,
    merge_operations,
    operation_chain,
)


def doc(inbound: str, scope: str = "api:a", base: bool = True) -> object:
    text = f"<policies><inbound>{'<base />' if base else ''}{inbound}</inbound><backend><base /></backend></policies>"
    return load_document(PolicyDocument(scope=PolicyScope.parse(scope), xml=text))


API = Api(name="a", subscription_required=True, subscription_key_header="api-key", subscription_key_query="subscription-key")
OPEN = Api(name="a", subscription_required=False)
NAMED = {
    "plain": NamedValueInfo("plain", "plain", secret=False, has_plain_value=True),
    "sec": NamedValueInfo("sec", "sec", secret=True),
    "kv": NamedValueInfo("kv", "kv", secret=True, key_vault="https://kv.vault.azure.net/secrets/kv"),
}
JWT_OK = """<validate-azure-ad-token tenant-id="t"><audiences><audience>api://x</audience></audiences>
<required-claims><claim name="roles" match="any"><value>AI.Chat</value></claim></required-claims></validate-azure-ad-token>"""


def test_subscription_layer_present_absent_and_query_key():
    d = [doc("")]
    assert assess_subscription(API, [], d, jwt_ok=False).verdict == "warn"  # query string accepted
    refuse = doc('<choose><when condition="@(context.Request.Url.Query.ContainsKey(&quot;subscription-key&quot;))">'
                 '<return-response><set-status code="400" /></return-response></when></choose>')
    assert assess_subscription(API, [], [refuse], jwt_ok=False).verdict == "ok"
    assert assess_subscription(OPEN, [], d, jwt_ok=False).verdict == "fail"
    assert assess_subscription(OPEN, [], d, jwt_ok=True).verdict == "none"
    assert assess_subscription(API, ["free"], [refuse], jwt_ok=False).verdict == "warn"


def test_jwt_layer_with_audiences_and_roles_without_audience_and_absent():
    good = assess_jwt(API, jwt_rules(doc(JWT_OK)), {})
    assert good.verdict == "ok" and "api://x" in good.finding and "AI.Chat" in good.finding
    assert good.facts["validations"][0]["roles"] == ["AI.Chat"]
    bare = assess_jwt(API, jwt_rules(doc('<validate-jwt header-name="Authorization"><openid-config url="u" /></validate-jwt>')), {})
    assert bare.verdict == "warn" and "no audience" in bare.finding
    assert assess_jwt(API, [], {}).verdict == "none"
    assert assess_jwt(OPEN, [], {}).verdict == "fail"
    assert assess_jwt(API, [], {"gold": jwt_rules(doc(JWT_OK, "product:gold"))}).verdict == "warn"


def test_chain_honours_base():
    g = doc(JWT_OK, "global", base=False)
    assert [d.scope for d in chain(g, doc(""))] == ["global", "api:a"]
    assert [d.scope for d in chain(g, doc("", base=False))] == ["api:a"]
    assert [d.scope for d in chain(g, None)] == ["global"]


def test_backend_layer_identity_named_values_and_nothing():
    mi = assess_backend([doc('<authentication-managed-identity resource="https://cognitiveservices.azure.com" />')], NAMED, {})
    assert mi.verdict == "ok" and "cognitiveservices" in mi.finding
    for name, verdict in (("plain", "fail"), ("sec", "warn"), ("kv", "ok"), ("missing", "warn")):
        layer = assess_backend([doc(f'<set-header name="api-key" exists-action="override"><value>{{{{{name}}}}}</value></set-header>')], NAMED, {})
        assert layer.verdict == verdict, name
    literal = assess_backend([doc('<set-header name="Authorization"><value>Bearer abc123</value></set-header>')], NAMED, {})
    assert literal.verdict == "fail" and "abc123" not in literal.finding
    assert assess_backend([doc("")], NAMED, {}).verdict == "warn"


def test_backend_credentials_on_pool_members_count():
    pool = BackendInfo("pool", kind="Pool", members=(__import__("aiconsole.domain.gateway_config", fromlist=["PoolMember"]).PoolMember("m1"),))
    member = BackendInfo("m1", credential_headers={"api-key": "{{plain}}"})
    layer = assess_backend([doc('<set-backend-service backend-id="pool" />')], NAMED, {"pool": pool, "m1": member})
    assert layer.verdict == "fail" and "backend 'm1'" in layer.finding


def test_overall_verdict_ignores_absent_layers():
    from aiconsole.services.posture import Layer

    p = ApiPosture("a", "A", "a", [Layer("subscription", "none", ""), Layer("jwt", "ok", ""), Layer("backend", "ok", "")])
    assert p.verdict == "ok"
    assert p.to_json()["jwt"]["verdict"] == "ok"


MI = '<authentication-managed-identity resource="https://cognitiveservices.azure.com" />'
REFUSE_QUERY = ('<choose><when condition="@(context.Request.Url.Query.ContainsKey(&quot;subscription-key&quot;))">'
                '<return-response><set-status code="400" /></return-response></when></choose>')


def with_operations(api, api_inbound, ops):
    """The merged layers of an API whose policy is ``api_inbound`` and whose operations have ``ops``."""
    run = [doc(api_inbound)]
    layers = assess_layers(api, run, {}, [], NAMED, {})
    op_layers = []
    for oid, (inbound, base) in ops.items():
        d = doc(inbound, f"operation:a/{oid}", base=base)
        op_layers.append((oid, d, assess_layers(api, operation_chain(run, d), {}, [], NAMED, {})))
    return {layer.name: layer for layer in merge_operations(api, layers, op_layers)}


def test_an_operation_without_base_skips_the_apis_guards():
    layers = with_operations(OPEN, JWT_OK + MI, {"list-models": ("<cache-lookup />", False)})
    assert layers["jwt"].verdict == "fail"  # no key and, for this operation, no token either
    assert "Operation 'list-models'" in layers["jwt"].finding and "skips the API's validate-azure-ad-token" in layers["jwt"].finding
    assert layers["jwt"].facts["operations"][0]["operation"] == "list-models"
    assert layers["backend"].verdict == "warn" and "skips the API's managed identity" in layers["backend"].finding
    assert layers["subscription"].verdict == "none"  # a key is the API's setting: unchanged
    keyed = with_operations(API, REFUSE_QUERY + JWT_OK + MI, {"list-models": ("<cache-lookup />", False)})
    assert keyed["jwt"].verdict == "warn"  # the key still identifies the caller
    assert keyed["subscription"].verdict == "warn" and "query string again" in keyed["subscription"].finding


def test_operations_that_keep_base_or_add_guards_change_nothing():
    layers = with_operations(API, REFUSE_QUERY + JWT_OK + MI, {"chat": ("<set-header name=\"x-trace\"><value>1</value></set-header>", True)})
    assert [layers[n].verdict for n in ("subscription", "jwt", "backend")] == ["ok", "ok", "ok"]
    assert all("operations" not in layer.facts for layer in layers.values())
    stricter = with_operations(API, "", {"admin": (JWT_OK, True)})  # one operation adds a JWT check
    assert stricter["jwt"].verdict == "none" and "operations" not in stricter["jwt"].facts


def test_operation_chain_honours_base():
    api_doc = doc(JWT_OK)
    assert operation_chain([api_doc], None) == [api_doc]
    keep = doc("", "operation:a/o")
    assert [d.scope for d in operation_chain([api_doc], keep)] == ["api:a", "operation:a/o"]
    drop = doc("", "operation:a/o", base=False)
    assert [d.scope for d in operation_chain([api_doc], drop)] == ["operation:a/o"]
