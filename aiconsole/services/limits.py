"""Token limits across the service: every limit in force, and the chain that binds one subscription.

Reading is the on-call engineer's first question ("which limit is throttling them?"): this
module walks the policy scopes (global, products, APIs, operations), finds every limit with
``aiconsole.policy``, and for one subscription (or product) assembles the chain the gateway
applies — honouring ``<base />`` — with the override active now and the link that binds first.
Writes live in ``services.limit_writes``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiconsole.domain.errors import NotFoundError, UsageError
from aiconsole.domain.models import PolicyDocument, PolicyScope, ScopeKind
from aiconsole.policy.limits import TOKEN_LIMIT_POLICIES, TokenLimit, find_limits
from aiconsole.policy.overrides import Override, list_overrides
from aiconsole.policy.tree import parse
from aiconsole.services.context import ServiceContext

READ_CONCURRENCY = 8


def describe_counter_key(counter_key: str | None, *, product: str | None = None) -> str:
    """Who shares one counter, in words: the counter key decides it, not the scope."""
    key = (counter_key or "").strip()
    compact = key.replace(" ", "")
    if compact in ("@(context.Subscription.Id)", "@(context.Subscription?.Id)"):
        return "per subscription"
    if compact in ("@(context.Product.Id)", "@(context.Product?.Id)"):
        return f"shared by every subscription of product {product}" if product else "shared per product"
    if compact == "@(context.Request.IpAddress)":
        return "per client IP address"
    if compact.startswith("@("):
        return f"per value of {key}"
    if key:
        return f"shared by everyone ('{key}')"
    return "unknown"


@dataclass
class ScopedLimit:
    """One limit element found at one policy scope, with the overrides written on it."""

    scope: PolicyScope
    limit: TokenLimit
    overrides: list[Override] = field(default_factory=list)
    etag: str | None = None

    def active_overrides(self, now: datetime) -> list[Override]:
        return [o for o in self.overrides if o.active_at(now)]

    def to_json(self, now: datetime) -> dict[str, Any]:
        """The ``limits list`` contract: scope, policy, counter_key, tokens_per_minute, ..."""
        lim = self.limit
        return {
            "scope": self.scope.label,
            "policy": lim.policy,
            "index": lim.index,
            "section": lim.section,
            "line": lim.line,
            "counter_key": lim.counter_key,
            "tokens_per_minute": lim.tokens_per_minute.to_json() if lim.tokens_per_minute else None,
            "token_quota": lim.token_quota.to_json() if lim.token_quota else None,
            "token_quota_period": lim.token_quota_period,
            "estimate_prompt_tokens": lim.estimate_prompt_tokens,
            "calls": lim.calls.to_json() if lim.calls else None,
            "renewal_period": lim.renewal_period.to_json() if lim.renewal_period else None,
            "overrides": [_override_json(o, now) for o in self.overrides],
        }


def _override_json(o: Override, now: datetime) -> dict[str, Any]:
    data = o.to_dict(now)
    data["seconds_left"] = max(0, int((o.expires - now).total_seconds()))
    return data


@dataclass
class ChainLink:
    """One limit in a subscription's effective chain."""

    scope: PolicyScope
    api: str | None  # the API this link applies to; None = every API the subscription calls
    limit: TokenLimit
    shared: str  # describe_counter_key()
    override: Override | None
    effective_tpm: int | None
    effective_quota: int | None
    binds: bool = False

    def to_json(self, now: datetime) -> dict[str, Any]:
        lim = self.limit
        return {
            "scope": self.scope.label,
            "api": self.api,
            "policy": lim.policy,
            "index": lim.index,
            "counter_key": lim.counter_key,
            "shared": self.shared,
            "tokens_per_minute": lim.tokens_per_minute.to_json() if lim.tokens_per_minute else None,
            "token_quota": lim.token_quota.to_json() if lim.token_quota else None,
            "token_quota_period": lim.token_quota_period,
            "calls": lim.calls.to_json() if lim.calls else None,
            "renewal_period": lim.renewal_period.to_json() if lim.renewal_period else None,
            "override": _override_json(self.override, now) if self.override else None,
            "effective_tokens_per_minute": self.effective_tpm,
            "effective_token_quota": self.effective_quota,
            "binds": self.binds,
        }


@dataclass
class EffectiveChain:
    subject_kind: str  # "subscription" | "product"
    subject: str
    product: str | None
    apis: list[str]
    links: list[ChainLink]
    now: datetime

    @property
    def binding(self) -> ChainLink | None:
        return next((link for link in self.links if link.binds), None)

    def to_json(self) -> dict[str, Any]:
        binding = self.binding
        return {
            self.subject_kind: self.subject,
            "product": self.product,
            "apis": self.apis,
            "now": self.now.isoformat().replace("+00:00", "Z"),
            "binding": binding.to_json(self.now) if binding else None,
            "chain": [link.to_json(self.now) for link in self.links],
        }


def _number(n) -> int | None:
    return n.value if n is not None and n.is_number else None


def _has_inbound_base(doc_text: str) -> bool:
    """Whether the document's inbound section runs the parent scope's policy (``<base />``)."""
    doc = parse(doc_text)
    for el in doc.iter():
        if el.name == "base":
            section = doc.section_of(el)
            if section is not None and section.name == "inbound":
                return True
    return False


class LimitsService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    @property
    def backend(self):
        return self.ctx.backend

    def now(self) -> datetime:
        return self.ctx.now()

    # -- reading ---------------------------------------------------------------------------
    def scopes(self) -> list[PolicyScope]:
        """Every policy scope of the service: global, each product, each API and operation."""
        b = self.backend
        scopes = [PolicyScope(kind="global")]
        scopes += [PolicyScope(kind="product", product=p.name) for p in b.list_products()]
        apis = b.list_apis()
        scopes += [PolicyScope(kind="api", api=a.name) for a in apis]
        with ThreadPoolExecutor(READ_CONCURRENCY, thread_name_prefix="apim-ops") as pool:
            for api, ops in zip(apis, pool.map(lambda a: b.list_operations(a.name), apis)):
                scopes += [PolicyScope(kind="operation", api=api.name, operation=o.name) for o in ops]
        return scopes

    def read(self, scope: PolicyScope) -> PolicyDocument | None:
        """The policy at ``scope`` in xml form, with its ETag (None when the scope has none)."""
        return self.backend.get_policy(scope, fmt="xml")

    def read_many(self, scopes: list[PolicyScope]) -> dict[str, PolicyDocument | None]:
        with ThreadPoolExecutor(READ_CONCURRENCY, thread_name_prefix="apim-policy") as pool:
            docs = list(pool.map(self.read, scopes))
        return {s.label: d for s, d in zip(scopes, docs)}

    @staticmethod
    def limits_in(doc: PolicyDocument) -> list[ScopedLimit]:
        found = find_limits(doc.xml, form=doc.format)
        overrides = list_overrides(doc.xml, form=doc.format)
        return [
            ScopedLimit(doc.scope, lim, [o for o in overrides if o.limit_index == lim.index], doc.etag)
            for lim in found
        ]

    def list_limits(self) -> list[ScopedLimit]:
        """Every limit in the service, scope by scope (``limits list``, the ``:limits`` table)."""
        docs = self.read_many(self.scopes())
        out: list[ScopedLimit] = []
        for doc in docs.values():
            if doc is not None:
                out.extend(self.limits_in(doc))
        return out

    def limits_at(self, scope: PolicyScope) -> tuple[PolicyDocument, list[ScopedLimit]]:
        doc = self.read(scope)
        if doc is None:
            self._check_scope_exists(scope)
            raise NotFoundError(f"There is no policy at {scope.label}.", "See `aiconsole limits list`.")
        return doc, self.limits_in(doc)

    def _check_scope_exists(self, scope: PolicyScope) -> None:
        """Tell "no such product" apart from "the product has no policy" (both are a 404)."""
        if scope.kind == "product":
            self.backend.get_product(scope.product)
        elif scope.kind in ("api", "operation"):
            self.backend.get_api(scope.api)
            if scope.kind == "operation" and scope.operation not in {o.name for o in self.backend.list_operations(scope.api)}:
                raise NotFoundError(f"API '{scope.api}' has no operation '{scope.operation}'.",
                                    "List them with `aiconsole limits list` or the API's operations.")

    # -- the effective chain ---------------------------------------------------------------
    def effective(self, *, subscription: str | None = None, product: str | None = None) -> EffectiveChain:
        """The limits that apply to a subscription's (or a product's) traffic, in gateway order.

        Order is global → product → API → operation. A scope whose inbound section lacks
        ``<base />`` cuts off the scopes above it for that API. The binding link is the one
        with the lowest effective tokens-per-minute (overrides active now included); with no
        token rate anywhere, the lowest quota binds.
        """
        if (subscription is None) == (product is None):
            raise UsageError("Give exactly one of --subscription or --product.")
        b = self.backend
        now = self.now()
        subject_kind = "subscription" if subscription else "product"
        if subscription:
            sub = b.get_subscription(subscription)
            subject = sub.name
            if sub.scope.kind is ScopeKind.product:
                product_id = sub.scope.id
                apis = [a.name for a in b.list_product_apis(product_id)]
            elif sub.scope.kind is ScopeKind.api:
                product_id, apis = None, [sub.scope.id]
            else:
                product_id, apis = None, [a.name for a in b.list_apis()]
        else:
            subject = b.get_product(product).name
            product_id = subject
            apis = [a.name for a in b.list_product_apis(product_id)]

        scopes = [PolicyScope(kind="global")]
        if product_id:
            scopes.append(PolicyScope(kind="product", product=product_id))
        with ThreadPoolExecutor(READ_CONCURRENCY, thread_name_prefix="apim-ops") as pool:
            ops_by_api = dict(zip(apis, pool.map(lambda a: b.list_operations(a), apis)))
        for api in apis:
            scopes.append(PolicyScope(kind="api", api=api))
            scopes += [PolicyScope(kind="operation", api=api, operation=o.name) for o in ops_by_api[api]]
        docs = self.read_many(scopes)
        # Each document is parsed once, however many APIs and operations reach it.
        inherits = {label: _has_inbound_base(d.xml) for label, d in docs.items() if d is not None}
        found = {label: self.limits_in(d) for label, d in docs.items() if d is not None}

        def chain_for(api: str | None, op_scope: PolicyScope | None) -> list[tuple[PolicyScope, PolicyDocument]]:
            """Scopes from the most specific up, stopping where ``<base />`` is missing."""
            order = [PolicyScope(kind="global")]
            if product_id:
                order.append(PolicyScope(kind="product", product=product_id))
            if api:
                order.append(PolicyScope(kind="api", api=api))
            if op_scope:
                order.append(op_scope)
            kept: list[tuple[PolicyScope, PolicyDocument]] = []
            for scope in reversed(order):
                doc = docs.get(scope.label)
                if doc is None:
                    continue  # no policy here: the parent's applies as is
                kept.append((scope, doc))
                if not inherits[scope.label]:
                    break
            return list(reversed(kept))

        links: list[ChainLink] = []
        seen: set[tuple[str, int]] = set()
        reach: list[tuple[str | None, PolicyScope | None]] = [(api, None) for api in apis] or [(None, None)]
        for api in apis:
            reach += [(api, PolicyScope(kind="operation", api=api, operation=o.name)) for o in ops_by_api[api]]
        for api, op_scope in reach:
            for scope, doc in chain_for(api, op_scope):
                for sl in found[scope.label]:
                    if sl.limit.section != "inbound":
                        continue
                    key = (scope.label, sl.limit.index)
                    if key in seen:
                        continue
                    seen.add(key)
                    active = [
                        o for o in sl.active_overrides(now)
                        if (o.kind == "subscription" and subscription and o.subject == subject)
                        or (o.kind == "product" and product_id and o.subject == product_id)
                    ]
                    override = active[0] if active else None
                    tpm = _number(sl.limit.tokens_per_minute)
                    quota = _number(sl.limit.token_quota)
                    if override is not None:
                        tpm = _number(override.tokens_per_minute) or tpm
                        quota = _number(override.token_quota) or quota
                    links.append(ChainLink(
                        scope=scope,
                        api=api if scope.kind in ("api", "operation") else None,
                        limit=sl.limit,
                        shared=describe_counter_key(sl.limit.counter_key, product=product_id),
                        override=override,
                        effective_tpm=tpm,
                        effective_quota=quota,
                    ))
        order = {"global": 0, "product": 1, "api": 2, "operation": 3}
        links.sort(key=lambda link: (order[link.scope.kind], link.api or "", link.scope.label, link.limit.index))
        token_links = [link for link in links if link.limit.policy in TOKEN_LIMIT_POLICIES]
        rated = [link for link in token_links if link.effective_tpm]
        if rated:
            min(rated, key=lambda link: link.effective_tpm).binds = True
        else:
            quota_links = [link for link in token_links if link.effective_quota]
            if quota_links:
                min(quota_links, key=lambda link: link.effective_quota).binds = True
        return EffectiveChain(subject_kind, subject, product_id, apis, links, now)
