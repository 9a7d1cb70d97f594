"""APIs whose authentication posture differs, so ``:auth`` has every verdict to show.

An AI gateway is guarded in three layers: a subscription key (who may call), a JWT (what the
caller may do) and the gateway's own credentials towards the model (managed identity rather
than a stored key). The seeded APIs cover each layer present, absent and misconfigured:

============== ================================ ================================= ===============================
API            subscription key                 JWT                               backend credentials
============== ================================ ================================= ===============================
chat-pool      required; query key refused      validate-azure-ad-token + roles   managed identity
hr-assistant   not required                     validate-jwt, audience + claims   managed identity
legacy-compl.  required; query accepted         validate-jwt without audiences    api-key from a *plain* named value
playground     not required                     none                              Authorization from a secret value
============== ================================ ================================= ===============================

One operation is misconfigured on its own: ``hr-assistant``'s ``list-models`` has a policy (a
response cache) whose inbound section lacks ``<base />``, so it skips the API's JWT check and
managed identity — with no key either, anyone can call it.

All four are OpenAI-compatible (``kind="openai"``) so the gateway serves them; ``chat-pool``
sends its traffic to the ``aoai-pool`` backend of ``seed_backends``.
"""

from __future__ import annotations

from aiconsole.sandbox.seed_backends import NamedValueEntity
from aiconsole.sandbox.state import Api, Operation, PolicyDoc, SandboxState

MODELS = ["gpt-4o"]

_FOOT = """    <backend>
        <base />
    </backend>
    <outbound>
        <base />
    </outbound>
    <on-error>
        <base />
    </on-error>
</policies>"""

POLICIES = {
    "chat-pool": """<policies>
    <inbound>
        <base />
        <choose>
            <when condition="@(context.Request.Url.Query.ContainsKey(&quot;subscription-key&quot;))">
                <return-response>
                    <set-status code="400" reason="Send the key in the api-key header" />
                </return-response>
            </when>
        </choose>
        <validate-azure-ad-token tenant-id="contoso.onmicrosoft.com" header-name="Authorization" failed-validation-httpcode="401">
            <audiences>
                <audience>api://contoso-ai-gateway</audience>
            </audiences>
            <required-claims>
                <claim name="roles" match="any">
                    <value>AI.Chat</value>
                    <value>AI.Admin</value>
                </claim>
            </required-claims>
        </validate-azure-ad-token>
        <authentication-managed-identity resource="https://cognitiveservices.azure.com" />
        <set-backend-service backend-id="aoai-pool" />
    </inbound>
""" + _FOOT,
    "hr-assistant": """<policies>
    <inbound>
        <base />
        <validate-jwt header-name="Authorization" failed-validation-httpcode="401" require-scheme="Bearer">
            <openid-config url="https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration" />
            <audiences>
                <audience>api://hr-assistant</audience>
            </audiences>
            <required-claims>
                <claim name="groups" match="all">
                    <value>hr-staff</value>
                </claim>
            </required-claims>
        </validate-jwt>
        <authentication-managed-identity resource="https://cognitiveservices.azure.com" output-token-variable-name="msi-token" ignore-error="false" />
    </inbound>
""" + _FOOT,
    "legacy-completions": """<policies>
    <inbound>
        <base />
        <validate-jwt header-name="Authorization" failed-validation-httpcode="401">
            <openid-config url="https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration" />
        </validate-jwt>
        <set-header name="api-key" exists-action="override">
            <value>{{legacy-aoai-key}}</value>
        </set-header>
    </inbound>
""" + _FOOT,
    "playground": """<policies>
    <inbound>
        <base />
        <set-header name="Authorization" exists-action="override">
            <value>Bearer {{playground-token}}</value>
        </set-header>
    </inbound>
""" + _FOOT,
}

# Operation policies: (API, operation) → document. Caching the model list, and forgetting <base />.
OPERATION_POLICIES = {
    ("hr-assistant", "list-models"): """<policies>
    <inbound>
        <cache-lookup vary-by-developer="false" vary-by-developer-groups="false" downstream-caching-type="none" />
    </inbound>
    <backend>
        <base />
    </backend>
    <outbound>
        <cache-store duration="3600" />
        <base />
    </outbound>
    <on-error>
        <base />
    </on-error>
</policies>""",
}

APIS = (
    # id, display name, path, subscription required, header, description
    ("chat-pool", "Chat (pooled deployments)", "chat", True, "api-key",
     "gpt-4o behind a priority pool with circuit breakers; Entra ID roles required."),
    ("hr-assistant", "HR assistant", "hr", False, "api-key", "Entra ID only: no subscription key."),
    ("legacy-completions", "Legacy completions", "legacy", True, "api-key",
     "Old integration that still calls the model with a stored key."),
    ("playground", "Playground", "playground", False, "api-key", "Open demo endpoint."),
)


def add_posture_apis(state: SandboxState) -> None:
    """Add the four APIs, their policies and the named values their policies reference."""
    v = state.next_version
    for aid, name, path, required, header, desc in APIS:
        api = Api(aid=aid, display_name=name, path=path, service_url=f"https://models.contoso.example/{path}",
                  version=v(), kind="openai", description=desc, subscription_required=required,
                  header_name=header, models=list(MODELS))
        for oid, op_name, method, template in (("chat-completions", "Chat completions", "POST", "/chat/completions"),
                                               ("list-models", "List models", "GET", "/models")):
            api.operations[oid] = Operation(oid=oid, api_id=aid, display_name=op_name, method=method,
                                            url_template=template, version=v())
        state.apis[aid] = api
        state.policies[f"api:{aid}"] = PolicyDoc(scope=f"api:{aid}", xml=POLICIES[aid], version=v())
    for (aid, oid), xml in OPERATION_POLICIES.items():
        scope = f"operation:{aid}/{oid}"
        state.policies[scope] = PolicyDoc(scope=scope, xml=xml, version=v())
    # A plain (non-secret) named value holding a key: the finding ``:auth`` must flag.
    state.named_values["legacy-aoai-key"] = NamedValueEntity(
        nid="legacy-aoai-key", display_name="legacy-aoai-key", value="0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        secret=False, version=v(), tags=["ai"],
    )
    state.named_values["playground-token"] = NamedValueEntity(
        nid="playground-token", display_name="playground-token", value="sandbox-playground-token",
        secret=True, version=v(), tags=["ai", "secret"],
    )
