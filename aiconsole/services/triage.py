"""Triage: join live traffic with the limits that bind and the subscriptions it belongs to.

The on-call question is "who is throttled right now, by which limit at which scope, and how
far over it are they?". A telemetry snapshot knows traffic and refusals; ``LimitsService``
knows which limit binds a subscription; the subscription list knows owners and products; the
backends report knows which model deployment behind an API is saturated or tripped. This
module folds them into rows for ``:top``, ``:429`` and ``aiconsole top`` — pure functions
over plain data, plus two small caches so the expensive lookups (an effective chain is several
management calls) happen slowly and only for the rows that matter.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from aiconsole.telemetry.port import (
    AUTH,
    BACKEND_429,
    HISTORY_MINUTES,
    REASON_LABELS,
    TOKEN_QUOTA,
    TOKEN_RATE,
    UNCLASSIFIED_403,
    UNCLASSIFIED_429,
    TrafficSnapshot,
    Usage,
)

BY_CHOICES = ("subscription", "product", "api")
SORTS = ("throttling", "tokens", "utilisation", "requests", "name")
LIMIT_TTL = 120.0  # seconds an effective limit is trusted before it is read again
LIMIT_LOOKUPS_PER_POLL = 8
LOOKUP_CONCURRENCY = 4
DIRECTORY_TTL = 300.0


@dataclass(frozen=True)
class LimitInfo:
    """The binding limit of one subscription (or product), as the effective chain says."""

    tokens_per_minute: int | None = None
    token_quota: int | None = None
    token_quota_period: str | None = None
    scope: str = ""
    policy: str = ""
    shared: str = ""
    override_id: str | None = None
    override_until: str | None = None
    error: str | None = None  # e.g. "subscription not found"

    def as_json(self) -> dict[str, Any]:
        return {
            "tokens_per_minute": self.tokens_per_minute, "token_quota": self.token_quota,
            "token_quota_period": self.token_quota_period, "scope": self.scope, "policy": self.policy,
            "shared": self.shared, "override_id": self.override_id, "override_until": self.override_until,
            "error": self.error,
        }


@dataclass
class Cause:
    """One reason refusals happen for a row, with the policy and scope that answered."""

    reason: str
    status: int
    per_minute: float
    policy: str = ""
    scope: str = ""
    inferred: bool = False  # classified from the binding limit, not reported by the source

    @property
    def label(self) -> str:
        return REASON_LABELS.get(self.reason, self.reason)

    def as_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "label": self.label, "status": self.status,
                "per_minute": round(self.per_minute, 2), "policy": self.policy, "scope": self.scope,
                "inferred": self.inferred}


@dataclass
class TopRow:
    """One line of ``:top``: a subscription (or product, or API) over the window."""

    key: str
    by: str
    tokens_per_minute: float = 0.0
    prompt_tokens_per_minute: float = 0.0
    completion_tokens_per_minute: float = 0.0
    requests_per_minute: float = 0.0
    throttled_per_minute: float | None = 0.0  # 429s; None when the source cannot attribute them
    quota_refused_per_minute: float | None = 0.0  # 403s
    unauthorized_per_minute: float | None = 0.0  # 401s
    ok_per_minute: float = 0.0
    history: list[float] = field(default_factory=lambda: [0.0] * HISTORY_MINUTES)
    refused_history: list[float] = field(default_factory=lambda: [0.0] * HISTORY_MINUTES)
    causes: list[Cause] = field(default_factory=list)
    products: set[str] = field(default_factory=set)
    apis: set[str] = field(default_factory=set)
    limit: LimitInfo | None = None
    owner: str = ""
    product: str = ""
    state: str = ""
    data_age_seconds: float = 0.0
    #: tokens per accepted request across the snapshot, for rows with no accepted request
    fallback_tokens_per_request: float = 0.0
    gone: bool = False  # traffic for a subscription the service no longer has

    @property
    def refused_per_minute(self) -> float:
        return (self.throttled_per_minute or 0.0) + (self.quota_refused_per_minute or 0.0)

    @property
    def limit_tokens_per_minute(self) -> int | None:
        return self.limit.tokens_per_minute if self.limit else None

    @property
    def utilisation(self) -> float | None:
        lim = self.limit_tokens_per_minute
        return self.tokens_per_minute / lim if lim else None

    @property
    def tokens_refused_per_minute(self) -> float:
        """An estimate: refused requests × the tokens an accepted request of this row costs."""
        refused = self.refused_per_minute
        if refused <= 0:
            return 0.0
        per_request = (self.tokens_per_minute / self.ok_per_minute if self.ok_per_minute > 0
                       else self.fallback_tokens_per_request)
        return refused * per_request

    @property
    def main_cause(self) -> Cause | None:
        return max(self.causes, key=lambda c: c.per_minute) if self.causes else None

    def as_json(self) -> dict[str, Any]:
        """The ``aiconsole top --once -o json`` contract (names are stable; more may be added)."""
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 2)

        return {
            "name": self.key,
            "by": self.by,
            "tokens_per_minute": r(self.tokens_per_minute),
            "prompt_tokens_per_minute": r(self.prompt_tokens_per_minute),
            "completion_tokens_per_minute": r(self.completion_tokens_per_minute),
            "limit_tokens_per_minute": self.limit_tokens_per_minute,
            "utilisation": r(self.utilisation),
            "requests_per_minute": r(self.requests_per_minute),
            "throttled_per_minute": r(self.throttled_per_minute),
            "quota_refused_per_minute": r(self.quota_refused_per_minute),
            "unauthorized_per_minute": r(self.unauthorized_per_minute),
            "tokens_refused_per_minute": r(self.tokens_refused_per_minute),
            "causes": [c.as_json() for c in sorted(self.causes, key=lambda c: -c.per_minute)],
            "limit": self.limit.as_json() if self.limit else None,
            "owner": self.owner,
            "product": self.product,
            "state": self.state,
            "history_tokens_per_minute": [round(v, 1) for v in self.history],
            "data_age_seconds": round(self.data_age_seconds, 1),
        }


# -- folding a snapshot into rows -------------------------------------------------------------
def _row_key(usage: Usage, by: str) -> str:
    if by == "product":
        return usage.key.product or "(no product)"
    if by == "api":
        return usage.key.api or "(no api)"
    return usage.key.subscription or "(no subscription)"


def aggregate(snapshot: TrafficSnapshot, by: str = "subscription") -> list[TopRow]:
    """One row per subscription (product, API) that has traffic or history in the snapshot."""
    if by not in BY_CHOICES:
        raise ValueError(by)
    rows: dict[str, TopRow] = {}
    per_sub = snapshot.per_subscription_status
    for u in snapshot.usages:
        key = _row_key(u, by)
        row = rows.get(key)
        if row is None:
            row = rows[key] = TopRow(key=key, by=by, data_age_seconds=snapshot.data_age_seconds)
            if not per_sub and by != "api":
                row.throttled_per_minute = row.quota_refused_per_minute = row.unauthorized_per_minute = None
        row.tokens_per_minute += u.tokens
        row.prompt_tokens_per_minute += u.prompt_tokens
        row.completion_tokens_per_minute += u.completion_tokens
        row.requests_per_minute += u.requests
        row.ok_per_minute += sum(v for s, v in u.statuses.items() if 200 <= s < 300)
        if row.throttled_per_minute is not None:
            row.throttled_per_minute += u.status(429)
            row.quota_refused_per_minute = (row.quota_refused_per_minute or 0.0) + u.status(403)
            row.unauthorized_per_minute = (row.unauthorized_per_minute or 0.0) + u.status(401)
        row.history = [a + b for a, b in zip(row.history, u.history or [0.0] * HISTORY_MINUTES)]
        row.refused_history = [a + b for a, b in zip(row.refused_history, u.refused_history or [0.0] * HISTORY_MINUTES)]
        if u.key.product:
            row.products.add(u.key.product)
        if u.key.api:
            row.apis.add(u.key.api)
        for tk, rate in u.throttles.items():
            _add_cause(row, tk.reason, tk.status, rate, tk.policy, tk.scope)
        if per_sub:
            classified = {s: sum(r for tk, r in u.throttles.items() if tk.status == s) for s in (429, 403, 401)}
            for status, reason in ((429, UNCLASSIFIED_429), (403, UNCLASSIFIED_403), (401, AUTH)):
                rest = u.status(status) - classified[status]
                if rest > 1e-9:
                    _add_cause(row, reason, status, rest, "", "")
    if by == "api" and not per_sub:
        for api, statuses in snapshot.api_statuses.items():
            row = rows.get(api) or rows.setdefault(api, TopRow(key=api, by=by, data_age_seconds=snapshot.data_age_seconds))
            row.throttled_per_minute = statuses.get(429, 0.0)
            row.quota_refused_per_minute = statuses.get(403, 0.0)
            row.unauthorized_per_minute = statuses.get(401, 0.0)
            row.requests_per_minute = sum(statuses.values())
            row.ok_per_minute = sum(v for s, v in statuses.items() if 200 <= s < 300)
    ok = sum(r.ok_per_minute for r in rows.values())
    average = sum(r.tokens_per_minute for r in rows.values()) / ok if ok > 0 else 0.0
    for row in rows.values():
        row.fallback_tokens_per_request = average
        if by == "subscription" and len(row.products) == 1:
            row.product = next(iter(row.products))
    return list(rows.values())


def _add_cause(row: TopRow, reason: str, status: int, rate: float, policy: str, scope: str) -> None:
    for c in row.causes:
        if (c.reason, c.status, c.policy, c.scope) == (reason, status, policy, scope):
            c.per_minute += rate
            return
    row.causes.append(Cause(reason, status, rate, policy, scope))


def classify_with_limits(row: TopRow) -> None:
    """Name the limit behind refusals the source could not attribute, from the binding link."""
    lim = row.limit
    if lim is None or lim.error:
        return
    for c in row.causes:
        if c.reason == UNCLASSIFIED_429 and lim.tokens_per_minute:
            c.reason, c.policy, c.scope, c.inferred = TOKEN_RATE, lim.policy, lim.scope, True
        elif c.reason == UNCLASSIFIED_403 and lim.token_quota:
            c.reason, c.policy, c.scope, c.inferred = TOKEN_QUOTA, lim.policy, lim.scope, True


def sort_rows(rows: list[TopRow], sort: str = "throttling") -> list[TopRow]:
    keyf: dict[str, Callable[[TopRow], Any]] = {
        "throttling": lambda r: (-r.refused_per_minute, -r.tokens_per_minute, r.key),
        "tokens": lambda r: (-r.tokens_per_minute, r.key),
        "utilisation": lambda r: (-(r.utilisation or 0.0), r.key),
        "requests": lambda r: (-r.requests_per_minute, r.key),
        "name": lambda r: r.key,
    }
    return sorted(rows, key=keyf[sort])


@dataclass
class Headline:
    throttled_subscriptions: int
    tokens_refused_per_minute: float
    refused_per_minute: float
    window_seconds: float

    @property
    def text(self) -> str:
        n = self.throttled_subscriptions
        return (f"{n} subscription{'s' if n != 1 else ''} throttled, "
                f"≈{format_rate(self.tokens_refused_per_minute)} tokens/min refused "
                f"({format_rate(self.refused_per_minute)} requests/min) over {window_label(self.window_seconds)}")

    def as_json(self) -> dict[str, Any]:
        return {"throttled_subscriptions": self.throttled_subscriptions,
                "tokens_refused_per_minute": round(self.tokens_refused_per_minute, 1),
                "refused_per_minute": round(self.refused_per_minute, 2), "window_seconds": self.window_seconds}


def headline(rows: Iterable[TopRow], window_seconds: float) -> Headline:
    rows = [r for r in rows if r.refused_per_minute > 0]
    return Headline(len(rows), sum(r.tokens_refused_per_minute for r in rows),
                    sum(r.refused_per_minute for r in rows), window_seconds)


@dataclass
class ThrottleEvent:
    """One line of ``:429``: a subscription refused for one reason by one policy at one scope."""

    subscription: str
    reason: str
    label: str
    status: int
    per_minute: float
    policy: str
    scope: str
    limit_tokens_per_minute: int | None
    tokens_per_minute: float
    tokens_refused_per_minute: float
    owner: str
    product: str
    inferred: bool

    @property
    def key(self) -> str:
        return f"{self.subscription}|{self.reason}|{self.status}|{self.policy}|{self.scope}"

    def as_json(self) -> dict[str, Any]:
        return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def throttle_events(rows: Iterable[TopRow]) -> list[ThrottleEvent]:
    """Every (row, cause) with refusals, worst first."""
    out = []
    for row in rows:
        total = sum(c.per_minute for c in row.causes) or 1.0
        for c in row.causes:
            if c.per_minute <= 0:
                continue
            share = c.per_minute / total
            out.append(ThrottleEvent(
                subscription=row.key, reason=c.reason, label=c.label, status=c.status, per_minute=c.per_minute,
                policy=c.policy, scope=c.scope, limit_tokens_per_minute=row.limit_tokens_per_minute,
                tokens_per_minute=row.tokens_per_minute,
                tokens_refused_per_minute=row.tokens_refused_per_minute * share if c.reason != AUTH else 0.0,
                owner=row.owner, product=row.product, inferred=c.inferred,
            ))
    out.sort(key=lambda e: (-e.per_minute, e.subscription, e.reason))
    return out


# -- formatting shared by the CLI and the TUI -------------------------------------------------
def format_rate(value: float | None) -> str:
    if value is None:
        return "–"
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    if value >= 10 or value == 0:
        return f"{value:.0f}"
    return f"{value:.1f}"


def window_label(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


def parse_window(text: str) -> float:
    """``30s``, ``5m``, ``1h`` or plain seconds → seconds (10 s to 1 h)."""
    from aiconsole.domain.errors import UsageError

    t = (text or "").strip().lower()
    mult = 1.0
    if t.endswith("s"):
        t = t[:-1]
    elif t.endswith("m"):
        t, mult = t[:-1], 60.0
    elif t.endswith("h"):
        t, mult = t[:-1], 3600.0
    try:
        seconds = float(t) * mult
    except ValueError:
        raise UsageError(f"'{text}' is not a window.", "Use e.g. 30s, 5m or 1h.") from None
    if not 10 <= seconds <= 3600:
        raise UsageError(f"A window of {text} is out of range.", "Use between 10s and 1h.")
    return seconds


# -- caches ------------------------------------------------------------------------------------
def binding_of(chain: Any) -> LimitInfo:
    """``LimitInfo`` from an ``EffectiveChain`` (its binding link)."""
    link = chain.binding
    if link is None:
        return LimitInfo(error="no token limit applies")
    ov = link.override
    return LimitInfo(
        tokens_per_minute=link.effective_tpm, token_quota=link.effective_quota,
        token_quota_period=link.limit.token_quota_period, scope=link.scope.label, policy=link.limit.policy,
        shared=link.shared, override_id=ov.id if ov else None,
        override_until=ov.expires.isoformat().replace("+00:00", "Z") if ov else None,
    )


def limits_lookup(limits_service: Any) -> Callable[[str, str], LimitInfo]:
    """``lookup(kind, name)`` over ``LimitsService.effective``; a vanished subject is an error row."""
    from aiconsole.domain.errors import AiconsoleError, NotFoundError

    def lookup(kind: str, name: str) -> LimitInfo:
        try:
            if kind == "product":
                chain = limits_service.effective(product=name)
            else:
                chain = limits_service.effective(subscription=name)
        except NotFoundError:
            return LimitInfo(error=f"{kind} not found")
        except AiconsoleError as exc:
            return LimitInfo(error=exc.message[:120])
        return binding_of(chain)

    return lookup


class LimitCache:
    """Binding limits by (kind, name), read in the background a few at a time and kept a while."""

    def __init__(self, lookup: Callable[[str, str], LimitInfo], *, ttl: float = LIMIT_TTL,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.lookup = lookup
        self.ttl = ttl
        self.monotonic = monotonic
        self._data: dict[tuple[str, str], tuple[float, LimitInfo]] = {}
        self._lock = threading.Lock()

    def get(self, kind: str, name: str) -> LimitInfo | None:
        with self._lock:
            hit = self._data.get((kind, name))
        return hit[1] if hit else None

    def invalidate(self, kind: str | None = None, name: str | None = None) -> None:
        with self._lock:
            if kind is None:
                self._data.clear()
            else:
                self._data.pop((kind, name or ""), None)

    def stale(self, kind: str, name: str) -> bool:
        with self._lock:
            hit = self._data.get((kind, name))
        return hit is None or self.monotonic() - hit[0] > self.ttl

    def refresh(self, wanted: Iterable[tuple[str, str]], *, limit: int = LIMIT_LOOKUPS_PER_POLL) -> int:
        """Read up to ``limit`` missing or stale entries, in the order given; returns how many."""
        todo = [w for w in dict.fromkeys(wanted) if self.stale(*w)][:limit]
        if not todo:
            return 0
        with ThreadPoolExecutor(min(LOOKUP_CONCURRENCY, len(todo)), thread_name_prefix="limits") as pool:
            results = list(pool.map(lambda w: self.lookup(*w), todo))
        now = self.monotonic()
        with self._lock:
            for w, info in zip(todo, results):
                self._data[w] = (now, info)
        return len(todo)


@dataclass(frozen=True)
class SubscriptionFacts:
    owner: str
    product: str
    state: str
    display_name: str = ""


class SubscriptionDirectory:
    """Owner, product and state per subscription: the whole list, read rarely (pages of 100)."""

    def __init__(self, loader: Callable[[], Iterable[Any]], *, ttl: float = DIRECTORY_TTL,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.loader = loader
        self.ttl = ttl
        self.monotonic = monotonic
        self._facts: dict[str, SubscriptionFacts] = {}
        self._loaded_at: float | None = None
        self.error: str | None = None

    @property
    def loaded(self) -> bool:
        return self._loaded_at is not None

    def get(self, sid: str) -> SubscriptionFacts | None:
        return self._facts.get(sid)

    def refresh_if_due(self) -> None:
        if self._loaded_at is not None and self.monotonic() - self._loaded_at < self.ttl:
            return
        from aiconsole.domain.errors import AiconsoleError

        try:
            facts = {}
            for sub in self.loader():
                product = sub.scope.id if getattr(sub.scope.kind, "value", sub.scope.kind) == "product" else ""
                state = getattr(sub.state, "value", str(sub.state))
                facts[sub.name] = SubscriptionFacts(sub.owner, product or "", state, sub.display_name or "")
        except AiconsoleError as exc:
            self.error = exc.message
            self._loaded_at = self.monotonic()  # do not hammer a failing API; retry after the TTL
            return
        self._facts = facts
        self.error = None
        self._loaded_at = self.monotonic()


def attach(rows: list[TopRow], limits: LimitCache | None, directory: SubscriptionDirectory | None) -> None:
    """Fill owner/product/state and the binding limit from the caches (no I/O)."""
    for row in rows:
        if row.by == "subscription" and directory is not None and directory.loaded:
            facts = directory.get(row.key)
            if facts is None:
                row.gone = row.key not in ("(no subscription)",)
            else:
                row.owner, row.state = facts.owner, facts.state
                row.product = facts.product or row.product
        if limits is not None and row.by in ("subscription", "product"):
            row.limit = limits.get(row.by, row.key)
            classify_with_limits(row)


def wanted_limits(rows: list[TopRow]) -> list[tuple[str, str]]:
    """Which limits to read first: refused rows, then the busiest."""
    ordered = sort_rows([r for r in rows if r.by in ("subscription", "product") and not r.key.startswith("(")])
    return [(r.by, r.key) for r in ordered]


@dataclass
class TopReport:
    snapshot: TrafficSnapshot
    rows: list[TopRow]
    headline: Headline
    by: str


class BackendSaturation:
    """Which backends behind an API answered 429 themselves or are tripped, for ``:429``.

    A backend 429 is the model deployment saying it is saturated, not the gateway's token limit;
    naming the deployment (and whether its breaker is open) tells on-call where to look. Read
    from ``BackendsService`` only when a backend 429 is on screen, at most every ``ttl`` seconds
    (the report costs management calls); a failed read keeps the last answer.
    """

    def __init__(self, service: Any, *, ttl: float = 15.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.service = service
        self.ttl = ttl
        self.clock = clock
        self._report: Any = None
        self._routes: dict[str, list[str]] | None = None
        self._read_at = float("-inf")

    def _current(self) -> Any:
        from aiconsole.domain.errors import AiconsoleError
        from aiconsole.telemetry.port import TelemetryError

        if self.clock() - self._read_at >= self.ttl:
            self._read_at = self.clock()
            try:
                if self._routes is None:
                    self._routes = self.service.api_routes()
                self._report = self.service.report(self._routes)
            except (AiconsoleError, TelemetryError):
                pass
        return self._report

    def names(self, api: str) -> list[str]:
        report = self._current()
        if report is None:
            return []
        return [r.info.name + (" (tripped)" if r.health.tripped else "") for r in report.saturated(api)]

    def annotate(self, rows: list[TopRow]) -> None:
        """Put the saturated deployments of each backend-429 cause in its ``policy``."""
        for row in rows:
            for cause in row.causes:
                if cause.reason == BACKEND_429 and cause.scope.startswith("api:"):
                    names = self.names(cause.scope[4:])
                    if names:
                        cause.policy = ", ".join(names)


class TriageService:
    """One poll = one sample + joins. Blocking: call from a worker thread or the CLI."""

    def __init__(self, source: Any, *, limits: LimitCache | None = None,
                 directory: SubscriptionDirectory | None = None, lookups_per_poll: int = LIMIT_LOOKUPS_PER_POLL,
                 backends: BackendSaturation | None = None) -> None:
        self.source = source
        self.limits = limits
        self.directory = directory
        self.lookups_per_poll = lookups_per_poll
        self.backends = backends

    @classmethod
    def for_context(cls, source: Any, ctx: Any, *, connection: Any = None, **kw: Any) -> "TriageService":
        """With ``connection``, backend 429s also name the saturated deployment (when its
        telemetry has backend health: the sandbox, or a gateway's Prometheus)."""
        from aiconsole.services.backends import BackendsService, health_reader_for
        from aiconsole.services.limits import LimitsService
        from aiconsole.services.subscriptions import SubscriptionService

        limits = LimitCache(limits_lookup(LimitsService(ctx)))
        subs = SubscriptionService(ctx)
        directory = SubscriptionDirectory(lambda: subs.list())
        reader = health_reader_for(connection) if connection is not None else None
        if reader is not None:
            kw.setdefault("backends", BackendSaturation(BackendsService(ctx, reader)))
        return cls(source, limits=limits, directory=directory, **kw)

    def report(self, snapshot: TrafficSnapshot, by: str, *, lookups: int | None = None) -> TopReport:
        rows = aggregate(snapshot, by)
        if self.directory is not None and by == "subscription":
            self.directory.refresh_if_due()
        if self.limits is not None:
            self.limits.refresh(wanted_limits(rows), limit=self.lookups_per_poll if lookups is None else lookups)
        attach(rows, self.limits, self.directory)
        if self.backends is not None:
            self.backends.annotate(rows)
        return TopReport(snapshot, rows, headline([r for r in rows if r.by == "subscription"] if by == "subscription" else rows,
                                                  snapshot.window_seconds), by)

    def poll(self, window_seconds: float, by: str = "subscription", *, lookups: int | None = None) -> TopReport:
        return self.report(self.source.sample(window_seconds), by, lookups=lookups)


# -- probes -------------------------------------------------------------------------------------
def probe_subscription(ctx: Any, connection: Any, sid: str, *, slot: str = "primary", api: str | None = None,
                       model: str | None = None, gateway_url: str | None = None) -> Any:
    """Probe ``sid`` through the gateway: find an API it may call, its key and the header names
    its limits use, then send one one-token request. Spends tokens; never logs the key."""
    from aiconsole.domain.errors import NotFoundError, UsageError
    from aiconsole.domain.models import ScopeKind
    from aiconsole.services.limits import LimitsService
    from aiconsole.services.subscriptions import SubscriptionService
    from aiconsole.telemetry.probe import ProbeTarget, header_names_from_limits, send_probe

    if slot not in ("primary", "secondary"):
        raise UsageError(f"Unknown key slot '{slot}'.", "Use primary or secondary.")
    subs = SubscriptionService(ctx)
    sub = subs.get(sid)
    info = getattr(connection, "sandbox_info", None) or {}
    catalogue = {a["id"]: a for a in info.get("apis", []) if isinstance(a, dict) and "id" in a}
    backend = ctx.backend
    if sub.scope.kind is ScopeKind.product:
        reachable = [a.name for a in backend.list_product_apis(sub.scope.id)]
    elif sub.scope.kind is ScopeKind.api:
        reachable = [sub.scope.id]
    else:
        reachable = [a.name for a in backend.list_apis()]
    if api is None:
        if not reachable:
            raise NotFoundError(f"Subscription {sid} cannot call any API; there is nothing to probe.")
        api = next((a for a in reachable if a in catalogue), reachable[0])
    entry = catalogue.get(api, {})
    path = entry.get("path")
    kind = entry.get("kind")
    if path is None:
        found = backend.get_api(api)
        path = getattr(found, "path", None) or api
        kind = kind or ("azure-openai" if "openai" in (path or "") else "openai")
    models = entry.get("deployments") or entry.get("models") or []
    model = model or (models[0] if models else None)
    if not model:
        raise UsageError(f"Which deployment or model should the probe call on API '{api}'?", "Pass --model NAME.")
    gateway = gateway_url or info.get("gateway_url") or f"https://{connection.service_name}.azure-api.net"
    names: dict[str, str] = {}
    try:
        chain = LimitsService(ctx).effective(subscription=sid)
        names = header_names_from_limits(link.limit for link in chain.links if link.api in (None, api))
    except Exception:  # noqa: BLE001 - the probe still reads the standard headers
        names = {}
    keys = subs.keys(sid)
    return send_probe(ProbeTarget(gateway, api, path, kind or "openai", model), keys.key(slot),
                      subscription=sid, slot=slot, header_names=names)
