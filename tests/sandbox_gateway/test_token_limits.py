"""Token-limit semantics of the policy engine, driven by a frozen, movable sandbox clock."""

from __future__ import annotations

from datetime import UTC, datetime

from aiconsole.sandbox.gateway.engine import Usage


def tl(tpm=None, *, estimate="false", key="@(context.Subscription.Id)", extra=""):
    attrs = f'counter-key="{key}" estimate-prompt-tokens="{estimate}"'
    if tpm is not None:
        attrs += f' tokens-per-minute="{tpm}"'
    return f"<llm-token-limit {attrs} {extra} />"


def call(engine, docs, request, prompt=200, completion=100):
    """Admit and, if admitted, complete one request; return (admission, refusal)."""
    admission = engine.admit(docs, request, prompt)
    if admission.refusal is None:
        engine.complete(admission, 200, Usage(prompt, completion))
    return admission, admission.refusal


def test_request_crossing_the_minute_limit_gets_429_with_retry_after(policy, engine, clock, make_request):
    docs = [policy(tl(1000, extra='remaining-tokens-header-name="x-remaining" retry-after-header-name="Retry-After"'))]
    for _ in range(4):  # 300 tokens each, 10 s apart: 0, 300, 600, 900 used before each
        _, refusal = call(engine, docs, make_request())
        assert refusal is None
        clock.advance(10)
    admission, refusal = call(engine, docs, make_request())  # t+40: 1200 used
    assert refusal is not None and refusal.status == 429
    # The first 300 tokens (at t+0) leave the window at t+60: 20 s from now.
    assert refusal.headers["Retry-After"] == "20"
    assert refusal.headers["x-remaining"] == "0"
    assert refusal.body == {"statusCode": 429, "message": "Token limit is exceeded. Try again in 20 seconds."}
    assert refusal.reason == "token-rate" and refusal.policy == "llm-token-limit" and refusal.scope == "api:openai"
    clock.advance(19)
    assert call(engine, docs, make_request())[1] is not None  # still inside the window
    clock.advance(1)
    admission, refusal = call(engine, docs, make_request())  # the window has freed up
    assert refusal is None
    assert admission.headers["x-remaining"] == "0"  # 900 still in the window + 300 now


def test_fixed_minute_windows_free_up_on_the_minute(policy, clock, make_request):
    from aiconsole.sandbox.gateway.engine import PolicyEngine

    engine = PolicyEngine(clock, tpm_mode="fixed")
    docs = [policy(tl(500))]
    clock.advance(15)
    assert call(engine, docs, make_request(), 300, 300)[1] is None
    refusal = call(engine, docs, make_request())[1]
    assert refusal is not None and refusal.headers["Retry-After"] == "45"
    clock.advance(45)
    assert call(engine, docs, make_request())[1] is None


def test_estimate_true_refuses_up_front_and_false_counts_after(policy, engine, make_request):
    estimated = [policy(tl(1000, estimate="true"), scope="api:a")]
    counted_after = [policy(tl(1000, estimate="false", key="@(context.Subscription.Id + &quot;-b&quot;)"), scope="api:b")]
    for docs in (estimated, counted_after):
        assert call(engine, docs, make_request(), 400, 100)[1] is None  # 500 used afterwards
    # true: the estimated prompt (600) would cross 1000 -> refused before the backend call.
    assert engine.admit(estimated, make_request(), 600).refusal is not None
    # false: 500 < 1000 so it is admitted; its usage is counted from the response.
    admission = engine.admit(counted_after, make_request(), 600)
    assert admission.refusal is None
    engine.complete(admission, 200, Usage(600, 100))
    assert engine.token_rate.used("sub-a-b", engine.clock.time()) == 1200
    # With estimation, prompt tokens are on the counter before the backend answers.
    admission = engine.admit(estimated, make_request(sid="sub-z"), 300)
    assert engine.token_rate.used("sub-z", engine.clock.time()) == 300
    engine.complete(admission, 200, Usage(300, 50))
    assert engine.token_rate.used("sub-z", engine.clock.time()) == 350


def test_quota_resets_on_the_utc_boundary(policy, engine, clock, make_request):
    docs = [policy(tl(None, extra='token-quota="1000" token-quota-period="Hourly" remaining-quota-tokens-header-name="x-quota"'))]
    clock.set(datetime(2026, 3, 10, 14, 30, 0, tzinfo=UTC))
    admission, refusal = call(engine, docs, make_request(), 500, 500)
    assert refusal is None and admission.headers["x-quota"] == "0"
    refusal = call(engine, docs, make_request())[1]
    assert refusal.status == 403 and refusal.reason == "token-quota"
    assert refusal.headers["Retry-After"] == "1800"
    assert refusal.body == {"statusCode": 403, "message": "Token quota is exceeded. Try again in 00:30:00."}
    clock.set(datetime(2026, 3, 10, 14, 59, 59, tzinfo=UTC))
    assert call(engine, docs, make_request())[1] is not None
    clock.set(datetime(2026, 3, 10, 15, 0, 0, tzinfo=UTC))
    assert call(engine, docs, make_request())[1] is None


def test_one_counter_per_key_shared_across_scopes(policy, engine, make_request):
    product = policy(tl(1000, extra='remaining-tokens-header-name="x-product"'), scope="product:starter")
    api_a = policy(tl(5000, extra='remaining-tokens-header-name="x-api"'), scope="api:a")
    api_b = policy(tl(5000), scope="api:b")
    admission, _ = call(engine, [product, api_a], make_request(api="a"), 200, 100)
    # Two policies, one counter: 300 tokens counted once, each policy sees the same usage.
    assert admission.headers == {"x-product": "700", "x-api": "4700"}
    call(engine, [product, api_b], make_request(api="b"), 500, 100)  # 900 used via API b
    admission, refusal = call(engine, [product, api_a], make_request(api="a"), 100, 100)
    assert refusal is None  # 900 < 1000 before it; 1100 after
    refusal = call(engine, [product, api_a], make_request(api="a"))[1]
    assert refusal is not None and refusal.scope == "product:starter"
    # Another subscription has its own counter.
    assert call(engine, [product, api_a], make_request(sid="sub-b", api="a"))[1] is None


def test_counter_keys_by_ip_product_and_literal(policy, engine, make_request):
    by_ip = [policy(tl(500, key="@(context.Request.IpAddress)"))]
    call(engine, by_ip, make_request(sid="s1", ip="10.1.1.1"), 300, 300)
    assert call(engine, by_ip, make_request(sid="s2", ip="10.1.1.1"))[1] is not None
    assert call(engine, by_ip, make_request(sid="s2", ip="10.9.9.9"))[1] is None
    by_product = [policy(tl(500, key="@(context.Product.Id)"), scope="api:p")]
    call(engine, by_product, make_request(sid="s1", product="gold"), 300, 300)
    assert call(engine, by_product, make_request(sid="s2", product="gold"))[1] is not None
    literal = [policy(tl(500, key="everyone"), scope="api:l")]
    call(engine, literal, make_request(sid="s1"), 300, 300)
    assert call(engine, literal, make_request(sid="s3"))[1] is not None


OVERRIDE = (
    "<choose>"
    '<when condition="@(context.Subscription.Id == &quot;sub-a&quot; &amp;&amp; '
    'DateTime.UtcNow &lt; new DateTime(2026, 3, 10, 14, 30, 0, DateTimeKind.Utc))">'
    + tl(5000) + "</when><otherwise>" + tl(1000) + "</otherwise></choose>"
)


def test_choose_override_applies_before_its_instant_and_not_after(policy, engine, clock, make_request):
    docs = [policy(OVERRIDE, scope="product:starter")]
    for _ in range(3):
        assert call(engine, docs, make_request(), 500, 500)[1] is None  # 3000 under the raised 5000
    assert call(engine, docs, make_request(sid="sub-b"), 500, 600)[1] is None
    assert call(engine, docs, make_request(sid="sub-b"))[1] is not None  # sub-b keeps 1000
    clock.set(datetime(2026, 3, 10, 14, 30, 0, tzinfo=UTC))  # the override's instant
    assert call(engine, docs, make_request(), 500, 600)[1] is None
    refusal = call(engine, docs, make_request())[1]
    assert refusal is not None and refusal.reason == "token-rate"


def test_condition_outside_grammar_is_logged_once_and_false(policy, engine, make_request):
    doc = policy(
        '<choose><when condition="@(context.Subscription.Name == &quot;x&quot;)">' + tl(10) + "</when>"
        "<otherwise>" + tl(100000) + "</otherwise></choose>"
    )
    for _ in range(5):
        assert call(engine, [doc], make_request())[1] is None
    warnings = [m for m in engine.reporter.messages if "outside the supported grammar" in m]
    assert len(warnings) == 1


def test_chains_are_compiled_once_per_etag(policy, engine, make_request):
    docs = [policy(tl(100000), scope="global", etag='"1"'), policy(tl(100000), etag='"2"')]
    for _ in range(20):
        call(engine, docs, make_request())
    assert engine.chains.compilations == 2
    call(engine, [docs[0], policy(tl(5), etag='"3"')], make_request())
    assert engine.chains.compilations == 3


def test_base_placement_and_dropping_the_parent(policy, engine, make_request):
    parent = policy(tl(10), scope="global", base=False)
    child_with_base = policy(tl(100000))
    child_without_base = policy(tl(100000), base=False, scope="api:x")
    assert call(engine, [parent, child_with_base], make_request(), 50, 50)[1] is None
    assert call(engine, [parent, child_with_base], make_request())[1] is not None  # global 10 binds
    assert call(engine, [parent, child_without_base], make_request())[1] is None  # parent dropped


def test_variables_and_consumed_header(policy, engine, make_request):
    extra = ('remaining-tokens-variable-name="rem" tokens-consumed-header-name="x-used" '
             'tokens-consumed-variable-name="used" retry-after-variable-name="retry" '
             'token-quota="100000" token-quota-period="Daily" remaining-quota-tokens-variable-name="remq"')
    docs = [policy(tl(1000, extra=extra))]
    request = make_request()
    admission, _ = call(engine, docs, request, 200, 100)
    assert admission.headers["x-used"] == "300"
    assert request.variables == {"rem": 700, "used": 300, "remq": 99700}
    call(engine, docs, make_request(), 700, 100)
    request = make_request()
    assert call(engine, docs, request)[1] is not None
    assert request.variables["retry"] == 60


def test_rate_limit_and_quota_by_key(policy, engine, clock, make_request):
    docs = [policy('<rate-limit-by-key calls="2" renewal-period="60" counter-key="@(context.Subscription.Id)" '
                   'remaining-calls-header-name="x-calls-left" />')]
    assert call(engine, docs, make_request())[0].headers["x-calls-left"] == "1"
    assert call(engine, docs, make_request())[1] is None
    refusal = call(engine, docs, make_request())[1]
    assert refusal.status == 429 and refusal.body["message"] == "Rate limit is exceeded. Try again in 60 seconds."
    quota = [policy('<quota-by-key calls="2" renewal-period="3600" counter-key="@(context.Subscription.Id)" />', scope="api:q")]
    clock.set(datetime(2026, 3, 10, 14, 45, 0, tzinfo=UTC))
    assert call(engine, quota, make_request(sid="q"))[1] is None
    assert call(engine, quota, make_request(sid="q"))[1] is None
    refusal = call(engine, quota, make_request(sid="q"))[1]
    assert refusal.status == 403
    assert refusal.body["message"] == "Out of call volume quota. Quota will be replenished in 00:15:00."


def test_emit_token_metric_dimensions(policy, engine, make_request):
    doc = policy(
        '<llm-emit-token-metric namespace="ai"><dimension name="Subscription ID" />'
        '<dimension name="Tier" value="gold" /><dimension name="Caller" value="@(context.Request.IpAddress)" />'
        "</llm-emit-token-metric>"
    )
    admission = engine.admit([doc], make_request(), 10)
    emissions = engine.complete(admission, 200, Usage(10, 5))
    assert len(emissions) == 1
    assert emissions[0].namespace == "ai"
    assert emissions[0].dimensions == (("Subscription ID", "sub-a"), ("Tier", "gold"), ("Caller", "10.0.0.1"))
    assert engine.complete(engine.admit([doc], make_request(), 10), 429, None) == []


def test_clock_jump_backwards_keeps_limits_sane(policy, engine, clock, make_request):
    docs = [policy(tl(500))]
    call(engine, docs, make_request(), 300, 300)
    clock.advance(-3600)
    refusal = call(engine, docs, make_request())[1]
    assert refusal is not None and 1 <= int(refusal.headers["Retry-After"]) <= 60
    clock.advance(3600 + 60)
    assert call(engine, docs, make_request())[1] is None
