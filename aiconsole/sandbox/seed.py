"""Build a seeded sandbox world that looks like a real AI gateway.

Same seed and same clock day → same world: every random choice comes from ``random.Random``
instances derived from the seed (never the global RNG). Dates are anchored to the start of the
clock's current UTC day so that "expires within 7 days" stays true whenever the sandbox starts.

Subscriptions are the bulk (``--subscriptions 100000``), so their loop avoids per-item heavy
work: small ``__slots__`` objects, epoch floats instead of datetimes, choices from short tuples.
"""

from __future__ import annotations

import random
import uuid

from aiconsole.sandbox.clock import Clock
from aiconsole.sandbox.faults import Faults
from aiconsole.sandbox.state import (
    Api,
    Backend,
    Gateway,
    HostnameConfiguration,
    NamedValue,
    Operation,
    PolicyDoc,
    Product,
    SandboxState,
    ServiceInfo,
    Subscription,
    User,
    new_key,
)

DAY = 86400.0

FIRST_NAMES = (
    "Ada", "Grace", "Alan", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances", "Edsger",
    "Radia", "Donald", "Katherine", "John", "Hedy", "Tim", "Sophie", "Guido", "Annie", "Niklaus",
    "Mary", "Bjarne", "Jean", "Leslie", "Shafi", "Yukihiro", "Hal", "Adele", "Whitfield", "Joan",
)
LAST_NAMES = (
    "Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie",
    "Allen", "Dijkstra", "Perlman", "Knuth", "Johnson", "McCarthy", "Lamarr", "Berners-Lee",
    "Wilson", "van Rossum", "Easley", "Wirth", "Keller", "Stroustrup", "Sammet", "Lamport",
    "Goldwasser", "Matsumoto", "Abelson", "Goldberg", "Diffie", "Clarke",
)
TEAMS = (
    "Search", "Support Bot", "Contracts", "Marketing", "Fraud", "Data Science", "Mobile", "HR Assist",
    "Legal Review", "Code Review", "Sales Copilot", "Translation", "Docs", "Finance", "Onboarding",
    "Risk", "Analytics", "Claims", "Triage", "Research",
)
PURPOSES = ("prod", "staging", "dev", "test", "batch", "eval", "poc", "nightly", "canary", "sandbox")

# State mix: mostly active, every state present.
STATES = ("active",) * 70 + ("suspended",) * 7 + ("submitted",) * 8 + ("rejected",) * 3 + ("cancelled",) * 7 + ("expired",) * 5
STATE_COMMENTS = {
    "suspended": ("Suspended: unpaid invoice", "Suspended pending security review", "Suspended by on-call: runaway loop"),
    "rejected": ("Rejected: no business justification", "Rejected: duplicate request"),
    "cancelled": ("Cancelled by owner", "Project ended"),
    "expired": ("Expired after trial period",),
    "submitted": ("Awaiting approval",),
}

PRODUCTS = (
    # pid, display name, description, approval, limit, apis
    ("starter", "Starter", "Small token budget for prototypes: 1,000 tokens per minute.", False, None, ("llm",)),
    ("trial", "Trial", "Try Azure OpenAI: 5,000 tokens per minute and 20,000 tokens per hour.", False, 1, ("azure-openai",)),
    ("standard", "Standard", "Production workloads: 20,000 tokens per minute, 10M tokens per month.", True, None, ("azure-openai", "llm")),
    ("premium", "Premium", "High-volume workloads: 100,000 tokens per minute.", True, None, ("azure-openai", "llm")),
    ("unlimited", "Unlimited", "Internal platform teams: no product-level token limit.", True, None, ("azure-openai", "llm")),
)
PRODUCT_WEIGHTS = (("starter", 25), ("trial", 10), ("standard", 35), ("premium", 20), ("unlimited", 10))


def _seeded_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _build_service(rng: random.Random, now: float) -> ServiceInfo:
    return ServiceInfo(
        subscription_id=_seeded_uuid(rng),
        resource_group="rg-ai-gateway",
        name="apim-ai-gateway",
        location="West Europe",
        sku="Developer",
        publisher_email="platform@contoso.example",
        publisher_name="Contoso Platform Team",
        created=now - 400 * DAY,
        version=0,
        app_insights_name="appi-ai-gateway",
    )


def _build_apis(state: SandboxState) -> None:
    v = state.next_version
    aoai = Api(
        aid="azure-openai",
        display_name="Azure OpenAI",
        path="openai",
        service_url="https://contoso-aoai.openai.azure.com/openai",
        version=v(),
        kind="azure-openai",
        description="Azure OpenAI Service inference API behind the AI gateway.",
        header_name="api-key",
        deployments=["gpt-4o", "gpt-4o-mini", "text-embedding-3-small"],
    )
    for oid, name, method, template, desc in (
        ("chat-completions", "Creates a completion for the chat message", "POST",
         "/deployments/{deployment-id}/chat/completions", "Chat completions."),
        ("completions", "Creates a completion for the prompt", "POST",
         "/deployments/{deployment-id}/completions", "Legacy text completions."),
        ("embeddings", "Get a vector representation of a given input", "POST",
         "/deployments/{deployment-id}/embeddings", "Embeddings."),
    ):
        aoai.operations[oid] = Operation(
            oid=oid, api_id=aoai.aid, display_name=name, method=method, url_template=template, version=v(),
            description=desc,
            template_parameters=[{"name": "deployment-id", "type": "string", "required": True, "values": []}],
        )
    llm = Api(
        aid="llm",
        display_name="LLM (OpenAI compatible)",
        path="llm",
        service_url="https://llm.contoso.example/v1",
        version=v(),
        kind="openai",
        description="OpenAI-compatible chat completions for self-hosted models.",
        header_name="Ocp-Apim-Subscription-Key",
        models=["llama-3.1-70b", "mistral-large", "phi-4"],
    )
    for oid, name, method, template, desc in (
        ("chat-completions", "Chat completions", "POST", "/chat/completions", "Chat completions."),
        ("list-models", "List models", "GET", "/models", "The models this API serves."),
    ):
        llm.operations[oid] = Operation(
            oid=oid, api_id=llm.aid, display_name=name, method=method, url_template=template, version=v(),
            description=desc,
        )
    state.apis[aoai.aid] = aoai
    state.apis[llm.aid] = llm


def _build_products(state: SandboxState) -> None:
    for pid, name, desc, approval, limit, apis in PRODUCTS:
        state.products[pid] = Product(
            pid=pid, display_name=name, description=desc, version=state.next_version(),
            approval_required=approval, subscriptions_limit=limit, api_ids=list(apis),
            terms="Use is subject to the Contoso AI acceptable use policy.",
        )


def _build_users(state: SandboxState, rng: random.Random, count: int, now: float) -> list[str]:
    ids: list[str] = []
    seen: set[str] = set()
    for i in range(count):
        first = rng.choice(FIRST_NAMES)
        last = rng.choice(LAST_NAMES)
        base = f"{first}.{last}".lower().replace(" ", "")
        uid = base if base not in seen else f"{base}{i}"
        seen.add(uid)
        state.users[uid] = User(
            uid=uid, first_name=first, last_name=last, email=f"{uid}@contoso.example",
            registered=now - rng.randint(30, 900) * DAY, version=state.next_version(),
            state="active" if rng.random() < 0.95 else "blocked",
        )
        ids.append(uid)
    admin = User(uid="1", first_name="Administrator", last_name="", email="admin@contoso.example",
                 registered=now - 400 * DAY, version=state.next_version(), note="Service administrator")
    state.users[admin.uid] = admin
    return ids


def _build_policies(state: SandboxState) -> None:
    for scope, text in SEEDED_POLICIES.items():
        state.policies[scope] = PolicyDoc(scope=scope, xml=text, version=state.next_version())


def _build_gateways(state: SandboxState, rng: random.Random) -> None:
    specs = (
        ("gw-frankfurt-onprem", "On-premises gateway in the Frankfurt data centre", "Frankfurt DC1",
         "Frankfurt", "Hesse", "Germany", ["azure-openai", "llm"], "ai-fra.contoso.example"),
        ("gw-seattle-edge", "Edge gateway in the Seattle colocation site", "Seattle Colo",
         "Seattle", "Washington", "USA", ["azure-openai"], "ai-sea.contoso.example"),
    )
    for gid, desc, loc, city, district, country, apis, host in specs:
        gw = Gateway(
            gid=gid, description=desc, location_name=loc, city=city, district=district,
            country_or_region=country, primary_key=new_key(rng), secondary_key=new_key(rng),
            version=state.next_version(), api_ids=list(apis),
        )
        gw.hostname_configurations["default"] = HostnameConfiguration(
            hcid="default", hostname=host, certificate_id=None, version=state.next_version(),
        )
        gw.hostname_configurations["wildcard"] = HostnameConfiguration(
            hcid="wildcard", hostname="*", certificate_id=None, version=state.next_version(),
            negotiate_client_certificate=False, http2_enabled=True,
        )
        state.gateways[gid] = gw


def _build_misc(state: SandboxState) -> None:
    v = state.next_version
    state.named_values["openai-endpoint"] = NamedValue(
        nid="openai-endpoint", display_name="openai-endpoint",
        value="https://contoso-aoai.openai.azure.com/openai", secret=False, version=v(), tags=["ai"],
    )
    state.named_values["openai-api-key"] = NamedValue(
        nid="openai-api-key", display_name="openai-api-key", value=None, secret=True, version=v(), tags=["ai", "secret"],
    )
    state.named_values["tpm-default"] = NamedValue(
        nid="tpm-default", display_name="tpm-default", value="20000", secret=False, version=v(), tags=["limits"],
    )
    state.backends["openai-backend"] = Backend(
        bid="openai-backend", url="https://contoso-aoai.openai.azure.com/openai", protocol="http",
        description="Azure OpenAI (West Europe)", version=v(), title="Azure OpenAI",
    )
    state.backends["llm-backend"] = Backend(
        bid="llm-backend", url="https://llm.contoso.example/v1", protocol="http",
        description="Self-hosted OpenAI-compatible models", version=v(), title="LLM pool",
    )


def _special_subscriptions(state: SandboxState, rng: random.Random, users: list[str], now: float, limit: int) -> None:
    """The named subscriptions traffic simulation relies on: noisy ones and a quota hog."""
    specs = (
        ("batch-summarizer", "Nightly batch summariser", "product", "starter", "noisy"),
        ("eval-harness", "Model evaluation harness", "product", "starter", "noisy"),
        ("hackathon-team-7", "Hackathon team 7", "product", "trial", "quota"),
        ("support-bot-prod", "Support Bot prod", "product", "premium", None),
        ("platform-all-apis", "Platform team (all APIs)", "all_apis", None, None),
    )
    for sid, name, kind, scope_id, role in specs[: max(0, limit)]:
        sub = Subscription(
            sid=sid, display_name=name, state="active", scope_kind=kind, scope_id=scope_id,
            owner_id=rng.choice(users), created=now - rng.randint(20, 200) * DAY,
            primary_key=new_key(rng), secondary_key=new_key(rng), version=state.next_version(),
        )
        sub.start = sub.created - (sub.created % DAY)
        if role == "noisy":
            state.noisy_subscription_ids.append(sid)
        elif role == "quota":
            state.quota_subscription_ids.append(sid)
            sub.expiration = now + 5 * DAY
            sub.notification = now + 2 * DAY
        state.add_subscription(sub)


def _bulk_subscriptions(state: SandboxState, rng: random.Random, users: list[str], count: int, now: float) -> None:
    keys = random.Random(f"subscription-keys:{state.seed}")
    product_pool = tuple(pid for pid, weight in PRODUCT_WEIGHTS for _ in range(weight))
    api_pool = tuple(state.apis)
    teams, purposes = TEAMS, PURPOSES
    table, key_index = state.subscriptions, state._key_index
    first_version = state.next_version()
    rand, choice, randint, getrandbits = rng.random, rng.choice, rng.randint, keys.getrandbits
    # The first six cover every state and the first three every scope, whatever the mix rolls.
    forced_states = ("active", "suspended", "submitted", "rejected", "cancelled", "expired")
    forced_scopes = ("product", "api", "all_apis")
    for i in range(count):
        state_name = forced_states[i] if i < 6 else choice(STATES)
        if i < 3:
            kind = forced_scopes[i]
        else:
            r = rand()
            kind = "product" if r < 0.75 else ("api" if r < 0.9 else "all_apis")
        scope_id = choice(product_pool) if kind == "product" else (choice(api_pool) if kind == "api" else None)
        created = now - randint(1, 720) * DAY - randint(0, 86399)
        sub = Subscription(
            sid=f"{getrandbits(96):024x}",
            display_name=f"{choice(teams)} {choice(purposes)} {i + 1}",
            state=state_name,
            scope_kind=kind,
            scope_id=scope_id,
            owner_id=choice(users) if rand() < 0.95 else None,
            created=created,
            primary_key=f"{getrandbits(128):032x}",
            secondary_key=f"{getrandbits(128):032x}",
            version=first_version + i,
        )
        if state_name != "submitted" and state_name != "rejected":
            sub.start = created - (created % DAY) + DAY
        if state_name in ("cancelled", "expired", "rejected"):
            sub.end = created + randint(1, 120) * DAY
        comments = STATE_COMMENTS.get(state_name)
        if comments and rand() < 0.7:
            sub.state_comment = choice(comments)
        r = rand()
        if state_name == "expired" or r < 0.06:
            sub.expiration = now - randint(1, 90) * DAY  # past
        elif r < 0.12 or i == 6:
            sub.expiration = now + randint(1, 7) * DAY - 3600  # within the week
            sub.notification = sub.expiration - 3 * DAY
        elif r < 0.2:
            sub.expiration = now + randint(8, 365) * DAY
        # Inlined ``state.add_subscription`` (no lock round-trips: nobody else sees the state yet).
        table[sub.sid] = sub  # seeded ids are lower-case hex: no case index entry needed
        key_index[sub.primary_key] = sub
        key_index[sub.secondary_key] = sub
    state._version = first_version + count


def build_state(
    seed: int = 1,
    subscriptions: int = 200,
    *,
    clock: Clock | None = None,
    faults: Faults | None = None,
) -> SandboxState:
    """The seeded world: service, products, APIs, users, subscriptions, policies, gateways."""
    clock = clock or Clock()
    rng = random.Random(f"world:{seed}")
    now_ts = clock.time()
    anchor = now_ts - (now_ts % DAY)  # deterministic for one UTC day
    state = SandboxState(_build_service(rng, anchor), clock=clock, faults=faults or Faults(seed=seed), seed=seed)
    state.service.version = state.next_version()
    _build_apis(state)
    _build_products(state)
    users = _build_users(state, rng, min(max(12, subscriptions // 8), 5000), anchor)
    _build_policies(state)
    _build_gateways(state, random.Random(f"gateways:{seed}"))
    _build_misc(state)
    from aiconsole.sandbox.seed_backends import add_backends
    from aiconsole.sandbox.seed_posture import add_posture_apis

    add_backends(state)  # model deployments, a priority pool with breakers (issue #11)
    add_posture_apis(state)  # APIs with every authentication posture (issue #11)
    _special_subscriptions(state, rng, users, anchor, subscriptions)
    _bulk_subscriptions(state, rng, users, max(0, subscriptions - len(state.subscriptions)), anchor)
    return state


# --------------------------------------------------------------------------- policies
# Stored in the canonical format=xml form (expressions XML-escaped), as APIM's serializer writes
# them: in element text only & < > are escaped, in attribute values quotes are escaped as well.

_GLOBAL_POLICY = """<!--
    Global policy: token metrics for every AI API (Application Insights, namespace "API Management").
-->
<policies>
    <inbound>
        <llm-emit-token-metric namespace="API Management">
            <dimension name="Subscription ID" />
            <dimension name="API ID" />
            <dimension name="Product ID" />
            <dimension name="Operation ID" />
            <dimension name="Client IP" value="@(context.Request.IpAddress)" />
        </llm-emit-token-metric>
    </inbound>
    <backend>
        <forward-request />
    </backend>
    <outbound />
    <on-error />
</policies>"""

_PRODUCT_POLICIES = {
    "starter": """<policies>
    <inbound>
        <base />
        <llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="1000" estimate-prompt-tokens="true" remaining-tokens-header-name="x-ratelimit-remaining-tokens" retry-after-header-name="Retry-After" />
    </inbound>
    <backend>
        <base />
    </backend>
    <outbound>
        <base />
    </outbound>
    <on-error>
        <base />
    </on-error>
</policies>""",
    "trial": """<policies>
    <inbound>
        <base />
        <!-- Trial: small per-minute budget and an hourly quota -->
        <llm-token-limit counter-key="@(context.Subscription.Id)"
            tokens-per-minute="5000"
            token-quota="20000"
            token-quota-period="Hourly"
            estimate-prompt-tokens="true"
            remaining-quota-tokens-header-name="x-quota-remaining-tokens"
            remaining-tokens-header-name="x-ratelimit-remaining-tokens" />
    </inbound>
    <backend>
        <base />
    </backend>
    <outbound>
        <base />
    </outbound>
    <on-error>
        <base />
    </on-error>
</policies>""",
    "standard": """<policies>
    <inbound>
        <base />
        <llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="20000" token-quota="10000000" token-quota-period="Monthly" estimate-prompt-tokens="false" remaining-tokens-variable-name="remainingTokens" tokens-consumed-header-name="x-tokens-consumed" />
    </inbound>
    <backend>
        <base />
    </backend>
    <outbound>
        <base />
    </outbound>
    <on-error>
        <base />
    </on-error>
</policies>""",
    "premium": """<policies>
    <inbound>
        <base />
        <llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="100000" estimate-prompt-tokens="false" remaining-tokens-header-name="x-ratelimit-remaining-tokens" />
    </inbound>
    <backend>
        <base />
    </backend>
    <outbound>
        <base />
    </outbound>
    <on-error>
        <base />
    </on-error>
</policies>""",
    "unlimited": """<policies>
    <inbound>
        <base />
    </inbound>
    <backend>
        <base />
    </backend>
    <outbound>
        <base />
    </outbound>
    <on-error>
        <base />
    </on-error>
</policies>""",
}

_API_POLICIES = {
    "azure-openai": """<policies>
    <inbound>
        <base />
        <set-backend-service backend-id="openai-backend" />
        <azure-openai-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="50000" estimate-prompt-tokens="true" remaining-tokens-header-name="x-ratelimit-remaining-tokens" tokens-consumed-header-name="x-tokens-consumed" />
        <set-header name="x-caller-agent" exists-action="override">
            <value>@(context.Request.Headers.GetValueOrDefault("User-Agent", "unknown").Length &gt; 0 ? "known" : "unknown")</value>
        </set-header>
    </inbound>
    <backend>
        <base />
    </backend>
    <outbound>
        <base />
    </outbound>
    <on-error>
        <base />
    </on-error>
</policies>""",
    "llm": """<policies>
    <inbound>
        <base />
        <set-backend-service backend-id="llm-backend" />
        <set-variable name="isBatch" value="@(context.Request.Headers.GetValueOrDefault(&quot;x-workload&quot;, &quot;&quot;) == &quot;batch&quot; &amp;&amp; context.Subscription != null)" />
        <llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="30000" estimate-prompt-tokens="false" remaining-tokens-header-name="x-ratelimit-remaining-tokens" />
    </inbound>
    <backend>
        <base />
    </backend>
    <outbound>
        <base />
    </outbound>
    <on-error>
        <base />
    </on-error>
</policies>""",
}

_OPERATION_POLICIES = {
    "azure-openai/embeddings": """<policies>
    <inbound>
        <base />
        <azure-openai-token-limit counter-key="@(context.Request.IpAddress)" tokens-per-minute="200000" estimate-prompt-tokens="true" />
    </inbound>
    <backend>
        <base />
    </backend>
    <outbound>
        <base />
    </outbound>
    <on-error>
        <base />
    </on-error>
</policies>""",
}

SEEDED_POLICIES: dict[str, str] = {
    "global": _GLOBAL_POLICY,
    **{f"product:{pid}": text for pid, text in _PRODUCT_POLICIES.items()},
    **{f"api:{aid}": text for aid, text in _API_POLICIES.items()},
    **{f"operation:{key}": text for key, text in _OPERATION_POLICIES.items()},
}
