"""Authentication posture per API: who may call, what they may do, how the gateway reaches the model.

Three layers, each with a verdict (``ok`` / ``warn`` / ``fail`` / ``none``) and the finding in
words, because the on-call question is "is this API guarded, and where is the weak spot?":

1. **subscription** — is a key required (the API's setting; an open product is flagged), and
   where is it accepted: APIM always accepts the query parameter too, and query strings end up
   in access logs and proxies, so that is a warning unless the policy refuses it;
2. **jwt** — does the effective inbound chain (global → API, honouring ``<base />``; product
   policies only for calls through that product) run ``validate-jwt`` or
   ``validate-azure-ad-token``, and which audiences, claims and roles it demands;
3. **backend** — does the gateway authenticate to the model with a managed identity (and for
   which resource), or with an ``api-key``/``Authorization`` header taken from a named value —
   a *plain* named value (neither secret nor Key Vault) holds a key in clear: a failure.

Operations are assessed too. An operation with its own policy runs the API's chain only where
its inbound section says ``<base />``; without it the operation *replaces* the API's guards —
the classic way one endpoint ends up without the JWT check the rest of the API has. Each layer
takes the worst of the API and its operations, and names the operations that differ.

Values of named values are never read: only how each is stored.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from aiconsole.domain.gateway_config import LITERAL, BackendInfo, NamedValueInfo, named_value_refs
from aiconsole.domain.models import Api, PolicyDocument, PolicyScope
from aiconsole.domain.text import sanitize
from aiconsole.policy.errors import PolicySyntaxError
from aiconsole.policy.tree import Document, Element, parse
from aiconsole.policy.xmltext import unescape
from aiconsole.services.context import ServiceContext

VERDICTS = ("ok", "none", "warn", "fail")  # from best to worst
_RANK = {v: i for i, v in enumerate(VERDICTS)}
JWT_POLICIES = ("validate-jwt", "validate-azure-ad-token")
AUTH_HEADERS = ("api-key", "authorization")
READ_CONCURRENCY = 8


def worst(verdicts: list[str]) -> str:
    return max(verdicts, key=lambda v: _RANK.get(v, 0)) if verdicts else "none"


@dataclass
class Layer:
    """One layer's verdict, its finding in a sentence and the facts behind it (for JSON)."""

    name: str  # subscription | jwt | backend
    verdict: str
    finding: str
    facts: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "finding": self.finding, **self.facts}


@dataclass
class ApiPosture:
    api: str
    display_name: str
    path: str
    layers: list[Layer]

    @property
    def verdict(self) -> str:
        """The worst layer; a layer that is simply absent ("none") counts only if all are."""
        return self.worst_layer.verdict if self.layers else "none"

    @property
    def worst_layer(self) -> Layer:
        """The layer whose finding explains ``verdict``: the first of the worst present layers
        (an absent, "none", layer only when all are absent)."""
        present = [layer for layer in self.layers if layer.verdict != "none"] or self.layers
        return max(present, key=lambda layer: _RANK.get(layer.verdict, 0))

    def layer(self, name: str) -> Layer:
        return next(layer for layer in self.layers if layer.name == name)

    def to_json(self) -> dict[str, Any]:
        return {"api": self.api, "display_name": self.display_name, "path": self.path, "verdict": self.verdict,
                **{layer.name: layer.to_json() for layer in self.layers}}


# --------------------------------------------------------------------------- reading policy

def _text(doc: Document, el: Element) -> str:
    span = el.inner_span
    return unescape(doc.text[span.start:span.end]).strip()


def _attr(el: Element, name: str) -> str | None:
    a = el.attribute(name)
    return unescape(a.raw) if a is not None else None


@dataclass
class _Doc:
    scope: str
    doc: Document
    has_base: bool


def load_document(pd: PolicyDocument | None) -> _Doc | None:
    if pd is None:
        return None
    try:
        doc = parse(pd.xml)
    except PolicySyntaxError:
        return None
    has_base = any(el.name == "base" and (doc.section_of(el) or el).name == "inbound" for el in doc.iter())
    return _Doc(pd.scope.label, doc, has_base)


def read_documents(backend: Any, scopes: list[PolicyScope], pool: ThreadPoolExecutor) -> dict[str, _Doc | None]:
    """Each scope's policy, read concurrently on ``pool`` and parsed once, by scope label."""
    return dict(zip([s.label for s in scopes], pool.map(lambda s: load_document(backend.get_policy(s, fmt="xml")),
                                                         scopes)))


def _inbound(d: _Doc) -> list[Element]:
    out = []
    for el in d.doc.iter():
        section = d.doc.section_of(el)
        if section is not None and section.name == "inbound":
            out.append(el)
    return out


def chain(global_doc: _Doc | None, api_doc: _Doc | None) -> list[_Doc]:
    """The documents that run for every call of the API: the API's, and global's through ``<base />``."""
    if api_doc is None:
        return [global_doc] if global_doc else []
    if not api_doc.has_base or global_doc is None:
        return [api_doc]
    return [global_doc, api_doc]


def operation_chain(api_chain: list[_Doc], op_doc: _Doc | None) -> list[_Doc]:
    """What runs for one operation: its own policy, after the API's chain only through ``<base />``."""
    if op_doc is None:
        return api_chain
    return [*api_chain, op_doc] if op_doc.has_base else [op_doc]


def jwt_rules(d: _Doc) -> list[dict[str, Any]]:
    """Every JWT validation in a document's inbound section, with what it demands."""
    out = []
    for el in _inbound(d):
        if el.name not in JWT_POLICIES:
            continue
        audiences, claims, issuers = [], [], []
        for child in el.iter():
            if child.name == "audience":
                audiences.append(sanitize(_text(d.doc, child)))
            elif child.name == "issuer":
                issuers.append(sanitize(_text(d.doc, child)))
            elif child.name == "claim":
                values = [sanitize(_text(d.doc, v)) for v in child.children if v.name == "value"]
                claims.append({"name": sanitize(_attr(child, "name") or ""), "match": _attr(child, "match") or "all",
                               "values": values})
        roles = [v for c in claims if c["name"].lower() in ("roles", "role") for v in c["values"]]
        out.append({
            "policy": el.name, "scope": d.scope, "audiences": audiences, "issuers": issuers,
            "required_claims": claims, "roles": roles,
            "tenant": sanitize(_attr(el, "tenant-id") or "") or None,
            "openid_config": next((sanitize(_attr(c, "url") or "") for c in el.children if c.name == "openid-config"), None),
        })
    return out


def refuses_query_key(docs: list[_Doc], query_name: str) -> bool:
    """Whether a ``<when>`` on the query parameter returns a response (the key is refused there)."""
    for d in docs:
        for el in _inbound(d):
            if el.name != "when":
                continue
            cond = _attr(el, "condition") or ""
            if "Url.Query" in cond and query_name.lower() in cond.lower() and any(c.name == "return-response" for c in el.iter()):
                return True
    return False


def backend_auth(docs: list[_Doc]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """(managed identities, credential headers, backend ids) that the chain sets."""
    identities, headers, backends = [], [], []
    for d in docs:
        for el in _inbound(d):
            if el.name == "authentication-managed-identity":
                identities.append({"resource": sanitize(_attr(el, "resource") or ""), "scope": d.scope,
                                   "client_id": sanitize(_attr(el, "client-id") or "") or None})
            elif el.name == "set-header" and (_attr(el, "name") or "").lower() in AUTH_HEADERS:
                if (_attr(el, "exists-action") or "").lower() == "delete":
                    continue
                values = [_text(d.doc, v) for v in el.children if v.name == "value"]
                refs = [r for v in values for r in named_value_refs(v)]
                literal = any(v and not named_value_refs(v) and not v.startswith("@") for v in values)
                headers.append({"header": _attr(el, "name"), "scope": d.scope, "named_values": refs,
                                "literal": literal, "expression": any(v.startswith("@") for v in values)})
            elif el.name == "set-backend-service" and _attr(el, "backend-id"):
                backends.append(_attr(el, "backend-id") or "")
    return identities, headers, backends


# --------------------------------------------------------------------------- verdicts

def assess_subscription(api: Api, open_products: list[str], docs: list[_Doc], jwt_ok: bool) -> Layer:
    header = api.subscription_key_header or "Ocp-Apim-Subscription-Key"
    query = api.subscription_key_query or "subscription-key"
    facts: dict[str, Any] = {"required": bool(api.subscription_required), "header": header, "query": query,
                             "open_products": open_products}
    if not api.subscription_required:
        facts.update(query_accepted=False)
        if jwt_ok:
            return Layer("subscription", "none", "No subscription key: callers are identified by their token only.", facts)
        return Layer("subscription", "fail", "No subscription key and no JWT validation: anyone who can reach the "
                     "gateway can call this API.", facts)
    refused = refuses_query_key(docs, query)
    facts["query_accepted"] = not refused
    if open_products:
        return Layer("subscription", "warn", f"Key required, but product {', '.join(open_products)} needs no "
                     "subscription: calls through it carry no key.", facts)
    if refused:
        return Layer("subscription", "ok", f"Key required, in header '{header}'; a policy refuses it in the query string.", facts)
    return Layer("subscription", "warn", f"Key required; accepted in header '{header}' and in query string "
                 f"'{query}' (query strings end up in logs).", facts)


def assess_jwt(api: Api, always: list[dict[str, Any]], via_products: dict[str, list[dict[str, Any]]]) -> Layer:
    facts: dict[str, Any] = {"validations": always, "product_only": via_products}
    if not always and via_products:
        names = ", ".join(sorted(via_products))
        return Layer("jwt", "warn", f"JWT validated only for calls through product {names}.", facts)
    if not always:
        if api.subscription_required:
            return Layer("jwt", "none", "No JWT validation: the subscription key is the only credential.", facts)
        return Layer("jwt", "fail", "No JWT validation and no key: nothing identifies the caller.", facts)
    rule = always[-1]
    what = rule["policy"]
    if not rule["audiences"]:
        return Layer("jwt", "warn", f"{what} at {rule['scope']} checks no audience: tokens issued for any "
                     "application are accepted.", facts)
    parts = [f"audience {', '.join(rule['audiences'])}"]
    if rule["roles"]:
        parts.append(f"roles {', '.join(rule['roles'])}")
    other = [c for c in rule["required_claims"] if c["name"].lower() not in ("roles", "role")]
    if other:
        parts.append("claims " + ", ".join(f"{c['name']}={'|'.join(c['values'])}" for c in other))
    return Layer("jwt", "ok", f"{what} demands " + "; ".join(parts) + ".", facts)


def _storage_verdict(nv: NamedValueInfo | None, name: str, header: str) -> tuple[str, str]:
    if nv is None:
        return "warn", f"{header} comes from named value '{name}', which does not exist."
    storage = nv.storage
    if storage == "plain":
        return "fail", f"{header} comes from named value '{name}', stored as plain text (not secret, not Key Vault)."
    if storage == "secret":
        return "warn", f"{header} is a stored key (secret named value '{name}'); a managed identity needs no key."
    return "ok", f"{header} comes from Key Vault (named value '{name}')."


def assess_backend(docs: list[_Doc], named: dict[str, NamedValueInfo], backends: dict[str, BackendInfo]) -> Layer:
    identities, headers, backend_ids = backend_auth(docs)
    findings: list[tuple[str, str]] = []
    by_display = {nv.display_name.lower(): nv for nv in named.values()} | {k.lower(): v for k, v in named.items()}
    for h in headers:
        label = f"The {h['header']} header"
        if h["literal"]:
            findings.append(("fail", f"{label} is written into the policy as a literal value."))
        for ref in h["named_values"]:
            findings.append(_storage_verdict(by_display.get(ref.lower()), ref, label))
        if h["expression"] and not h["named_values"]:
            findings.append(("warn", f"{label} is computed by an expression; check where its secret comes from."))
    seen: set[str] = set()
    targets = list(backend_ids)
    while targets:
        bid = targets.pop(0)
        b = backends.get(bid.lower())
        if b is None or bid.lower() in seen:
            continue
        seen.add(bid.lower())
        targets += [m.backend for m in b.members]
        creds = {**b.credential_headers, **b.credential_query}
        if b.authorization_value:
            creds["Authorization"] = b.authorization_value
        for name, value in creds.items():
            label = f"The {name} header of backend '{b.name}'"
            if value == LITERAL:
                findings.append(("fail", f"{label} is a literal value stored on the backend."))
            for ref in named_value_refs(value):
                findings.append(_storage_verdict(by_display.get(ref.lower()), ref, label))
    facts: dict[str, Any] = {"managed_identity": identities, "headers": headers, "backends": sorted(seen)}
    if identities:
        resources = ", ".join(i["resource"] or "?" for i in identities)
        findings.append(("ok", f"Managed identity for {resources}."))
    if not findings:
        return Layer("backend", "warn", "The gateway sends no credentials of its own: the model must accept "
                     "unauthenticated calls, or the caller's are passed through.", facts)
    verdict = worst([v for v, _ in findings])
    ordered = sorted(findings, key=lambda f: -_RANK[f[0]])
    return Layer("backend", verdict, " ".join(text for _, text in ordered), facts)


def assess_layers(api: Api, run: list[_Doc], via: dict[str, list[dict[str, Any]]], open_products: list[str],
                  named: dict[str, NamedValueInfo], backends: dict[str, BackendInfo]) -> list[Layer]:
    """The three layers for one chain of documents (the API's, or one operation's)."""
    jwt = assess_jwt(api, [r for d in run for r in jwt_rules(d)], via)
    sub = assess_subscription(api, open_products, run, jwt.verdict == "ok")
    return [sub, jwt, assess_backend(run, named, backends)]


def _skipped(api_layer: Layer, op_layer: Layer, op_doc: _Doc) -> str | None:
    """What an operation loses against the API, in words (None: nothing)."""
    if op_doc.has_base:
        return None
    if api_layer.name == "jwt" and api_layer.facts["validations"] and not op_layer.facts["validations"]:
        policies = sorted({v["policy"] for v in api_layer.facts["validations"]})
        return f"skips the API's {', '.join(policies)}"
    if api_layer.name == "backend" and api_layer.facts["managed_identity"] and not op_layer.facts["managed_identity"]:
        return "skips the API's managed identity"
    if api_layer.name == "subscription" and api_layer.facts.get("query_accepted") is False \
            and op_layer.facts.get("query_accepted"):
        return "accepts the key in the query string again"
    return None


def merge_operations(api: Api, api_layers: list[Layer], ops: list[tuple[str, _Doc, list[Layer]]]) -> list[Layer]:
    """Each API layer, made as bad as its worst operation, with those operations named.

    An operation that drops a guard the API has (no ``<base />``) is at least a warning, and a
    failure when nothing else identifies the caller (no JWT and no subscription key). The
    subscription layer changes only when an operation accepts the key in the query string
    again; that a key is required or not is the API's setting, which no operation overrides.
    """
    out = []
    for i, layer in enumerate(api_layers):
        worse: list[dict[str, Any]] = []
        for oid, op_doc, op_layers in ops:
            op = op_layers[i]
            lost = _skipped(layer, op, op_doc)
            if layer.name == "subscription" and not lost:
                continue  # whether a key is required is the API's setting; the JWT layer says what else changed
            verdict = op.verdict
            if lost and _RANK[verdict] < _RANK["warn"]:
                verdict = "fail" if layer.name == "jwt" and not api.subscription_required else "warn"
            if _RANK[verdict] <= _RANK[layer.verdict] and not lost:
                continue
            why = "has its own policy" + ("" if op_doc.has_base else " without <base />") + (f" and {lost}" if lost else "")
            worse.append({"operation": oid, "verdict": verdict, "finding": f"Operation '{sanitize(oid)}' {why}: "
                          + op.finding})
        if not worse:
            out.append(layer)
            continue
        verdict = worst([layer.verdict] + [w["verdict"] for w in worse])
        # Worst first, so a cut-off table cell still shows the problem, not the API's good part.
        ranked = sorted(worse, key=lambda w: -_RANK[w["verdict"]])
        ahead = [w["finding"] for w in ranked if _RANK[w["verdict"]] > _RANK[layer.verdict]]
        behind = [w["finding"] for w in ranked if _RANK[w["verdict"]] <= _RANK[layer.verdict]]
        rest = f"Rest of the API: {layer.finding}" if ahead else layer.finding
        finding = " ".join([*ahead, rest, *behind])
        out.append(Layer(layer.name, verdict, finding, {**layer.facts, "operations": worse}))
    return out


# --------------------------------------------------------------------------- the service

class PostureService:
    """Reads APIs, products, policies, named values and backends once; assesses every API."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def assess(self) -> list[ApiPosture]:
        b = self.ctx.backend
        with ThreadPoolExecutor(READ_CONCURRENCY, thread_name_prefix="apim-posture") as pool:
            f_apis, f_products = pool.submit(b.list_apis), pool.submit(b.list_products)
            f_named, f_backends = pool.submit(b.list_named_values), pool.submit(b.list_backends)
            apis, products = f_apis.result(), f_products.result()
            f_ops = {a.name: pool.submit(b.list_operations, a.name) for a in apis}
            product_apis = dict(zip([p.name for p in products],
                                    pool.map(lambda p: [a.name for a in b.list_product_apis(p.name)], products)))
            operations = {name: [o.name for o in f.result()] for name, f in f_ops.items()}
            scopes = [PolicyScope(kind="global")] + [PolicyScope(kind="product", product=p.name) for p in products] \
                + [PolicyScope(kind="api", api=a.name) for a in apis] \
                + [PolicyScope(kind="operation", api=a.name, operation=o) for a in apis for o in operations[a.name]]
            docs = read_documents(b, scopes, pool)
            named = {nv.name: nv for nv in f_named.result()}
            backends = {x.name.lower(): x for x in f_backends.result()}
        out = []
        for api in apis:
            in_products = [p for p in products if api.name in product_apis.get(p.name, [])]
            run = chain(docs.get("global"), docs.get(f"api:{api.name}"))
            via = {p.name: jwt_rules(d) for p in in_products if (d := docs.get(f"product:{p.name}")) and jwt_rules(d)}
            open_products = [p.name for p in in_products if p.subscription_required is False]
            layers = assess_layers(api, run, via, open_products, named, backends)
            own = [(oid, d) for oid in operations[api.name]
                   if (d := docs.get(PolicyScope(kind="operation", api=api.name, operation=oid).label))]
            op_layers = [(oid, d, assess_layers(api, operation_chain(run, d), via, open_products, named, backends))
                         for oid, d in own]
            out.append(ApiPosture(api.name, sanitize(api.display_name or api.name), sanitize(api.path or ""),
                                  merge_operations(api, layers, op_layers)))
        return out
