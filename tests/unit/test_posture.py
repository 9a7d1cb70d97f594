"""Posture verdicts from policy text alone: each layer present, absent and misconfigured."""

from __future__ import annotations

from aiconsole.domain.gateway_config import BackendInfo, NamedValueInfo
from aiconsole.domain.models import Api, PolicyDocument, PolicyScope
from aiconsole.services.posture import (
    ApiPosture,
    _load,
    assess_backend,
    assess_jwt,
    assess_subscription,
    chain,
    jwt_rules,
)


def doc(inbound: str, scope: str = "api:a", base: bool = True) -> object:
    text = f"<policies><inbound>{'<base />' if base else ''}{inbound}</inbound><backend><base /></backend></policies>"
    return _load(PolicyDocument(scope=PolicyScope.parse(scope), xml=text))


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
