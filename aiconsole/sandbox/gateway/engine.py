"""Admission and accounting: what the stored policies decide for one request.

``admit`` runs before the backend: it resolves ``<choose>`` for this caller and instant, checks
every limit in chain order and, only if all pass, commits what is counted up-front (estimated
prompt tokens when ``estimate-prompt-tokens="true"``, calls without an increment condition).
``complete`` runs after the backend: it counts the real usage (the whole usage when prompt
tokens were not estimated, the difference otherwise), fills the policies' header and variable
names, and returns the token-metric emissions. Checking everything before committing anything
means a request refused by its product's limit does not eat its API's budget.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from aiconsole.sandbox.gateway import responses
from aiconsole.sandbox.gateway.chain import ChainCache, PolicyDoc
from aiconsole.sandbox.gateway.context import RequestInfo
from aiconsole.sandbox.gateway.counters import RollingCounter, WindowTotals
from aiconsole.sandbox.gateway.policy_model import (
    BASE,
    Choose,
    EmitTokenMetric,
    QuotaByKey,
    RateLimitByKey,
    TokenLimit,
)
from aiconsole.sandbox.gateway.reporting import LogOnce
from aiconsole.sandbox.gateway.windows import renewal_window, token_quota_window


class ClockLike(Protocol):
    def time(self) -> float: ...

    def now(self) -> datetime: ...


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Refusal:
    """A limit said no: the response to send and what caused it (for metrics and triage)."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    reason: str  # token-rate | token-quota | rate-limit | quota
    policy: str
    scope: str
    counter_key: str


@dataclass(frozen=True)
class TokenEmission:
    """One ``*-emit-token-metric`` firing: its namespace, dimension values and the usage."""

    namespace: str
    dimensions: tuple[tuple[str, str], ...]
    usage: Usage


@dataclass
class Admission:
    request: RequestInfo
    steps: tuple
    refusal: Refusal | None = None
    headers: dict[str, str] = field(default_factory=dict)
    reserved_rate: dict[str, int] = field(default_factory=dict)
    reserved_quota: dict[tuple, int] = field(default_factory=dict)


class PolicyEngine:
    """Evaluates policy chains against shared counters; one per sandbox gateway."""

    def __init__(self, clock: ClockLike, *, reporter: LogOnce | None = None, tpm_mode: str = "sliding") -> None:
        self.clock = clock
        self.reporter = reporter or LogOnce()
        self.chains = ChainCache(self.reporter)
        self.token_rate = RollingCounter(60, mode=tpm_mode)
        self.token_quota = WindowTotals()
        self.call_quota = WindowTotals()
        self._call_rates: dict[int, RollingCounter] = {}
        self._limits: dict[tuple[str, str, str], int] = {}  # (counter key, window, scope) -> limit
        self._lock = threading.Lock()

    # ---- chain resolution -------------------------------------------------------------
    def resolve(self, steps: Iterable, request: RequestInfo) -> tuple:
        """Flatten ``<choose>`` for this request: the first true ``<when>``, else ``<otherwise>``."""
        out: list = []
        for step in steps:
            if step is BASE:
                continue
            if isinstance(step, Choose):
                chosen = step.otherwise
                for when in step.whens:
                    if when.predicate is None:
                        continue
                    try:
                        matched = bool(when.predicate(request))
                    except Exception as exc:  # a comparison the grammar let through but the data cannot
                        self.reporter.warn(f"policy at {step.scope}: condition {when.condition_source!r} failed ({exc}); treated as false")
                        matched = False
                    if matched:
                        chosen = when.steps
                        break
                out.extend(self.resolve(chosen, request))
            else:
                out.append(step)
        return tuple(out)

    def _key(self, step, request: RequestInfo) -> str:  # noqa: ANN001
        try:
            return step.counter_key(request)
        except Exception as exc:
            self.reporter.warn(f"policy at {step.scope}: counter-key {step.counter_key.source!r} failed ({exc})")
            return step.counter_key.source

    def _call_rate(self, window: int) -> RollingCounter:
        with self._lock:
            counter = self._call_rates.get(window)
            if counter is None:
                counter = self._call_rates[window] = RollingCounter(window)
            return counter

    def _remember_limit(self, key: str, kind: str, scope: str, limit: int) -> None:
        with self._lock:
            if len(self._limits) > 50_000:
                self._limits.clear()
            self._limits[(key, kind, scope)] = limit

    # ---- before the backend -----------------------------------------------------------
    def admit(self, docs: Sequence[PolicyDoc | None], request: RequestInfo, prompt_estimate: int) -> Admission:
        """Check every limit; raise ``BrokenPolicy`` if a stored document cannot be read."""
        steps = self.resolve(self.chains.steps_for(docs), request)
        admission = Admission(request=request, steps=steps)
        now_ts = self.clock.time()
        now = request.now
        estimate_keys: set[str] = set()
        estimate_quota: set[tuple] = set()
        rate_adds: dict[tuple[int, str], int] = {}
        quota_adds: dict[tuple, tuple[float, int]] = {}
        for step in steps:
            if isinstance(step, TokenLimit):
                refusal = self._check_tokens(step, request, prompt_estimate, now_ts, now)
                if refusal:
                    admission.refusal = refusal
                    return admission
                key = self._key(step, request)
                if step.estimate_prompt_tokens:
                    if step.tokens_per_minute is not None:
                        estimate_keys.add(key)
                    if step.token_quota is not None:
                        start, _ = token_quota_window(step.token_quota_period or "Daily", now)
                        estimate_quota.add((key, step.token_quota_period, start.timestamp()))
            elif isinstance(step, RateLimitByKey):
                key = self._key(step, request)
                check = self._call_rate(step.renewal_period).check(key, step.calls, 0, now_ts)
                if not check.allowed:
                    headers = {step.retry_after_header_name: str(check.retry_after)}
                    if step.remaining_calls_header_name:
                        headers[step.remaining_calls_header_name] = "0"
                    if step.total_calls_header_name:
                        headers[step.total_calls_header_name] = str(step.calls)
                    if step.retry_after_variable_name:
                        request.variables[step.retry_after_variable_name] = check.retry_after
                    admission.refusal = Refusal(
                        429, responses.rate_limit_exceeded(check.retry_after), headers,
                        "rate-limit", "rate-limit-by-key", step.scope, key,
                    )
                    return admission
                if step.increment_condition is None and step.increment_count != "total_tokens":
                    rate_adds[(step.renewal_period, key)] = int(step.increment_count)
            elif isinstance(step, QuotaByKey):
                key = self._key(step, request)
                start, end = renewal_window(step.first_period_start, step.renewal_period, now)
                qkey = ("calls", key, step.renewal_period)
                if step.calls is not None and self.call_quota.used(qkey, start.timestamp()) >= step.calls:
                    admission.refusal = Refusal(
                        403, responses.call_quota_exceeded((end - now).total_seconds()),
                        {"Retry-After": str(max(1, math.ceil((end - now).total_seconds())))},
                        "quota", "quota-by-key", step.scope, key,
                    )
                    return admission
                bkey = ("kb", key, step.renewal_period)
                if step.bandwidth_kb is not None and self.call_quota.used(bkey, start.timestamp()) >= step.bandwidth_kb:
                    admission.refusal = Refusal(
                        403, responses.call_quota_exceeded((end - now).total_seconds(), bandwidth=True),
                        {"Retry-After": str(max(1, math.ceil((end - now).total_seconds())))},
                        "quota", "quota-by-key", step.scope, key,
                    )
                    return admission
                if step.increment_condition is None and step.calls is not None:
                    quota_adds[qkey] = (start.timestamp(), 1)
        # Everything passed: commit what is counted before the backend, once per counter key.
        for key in estimate_keys:
            self.token_rate.add(key, prompt_estimate, now_ts)
            admission.reserved_rate[key] = prompt_estimate
        for key, period, start_ts in estimate_quota:
            self.token_quota.add((key, period), prompt_estimate, start_ts)
            admission.reserved_quota[(key, period)] = prompt_estimate
        for (window, key), amount in rate_adds.items():
            self._call_rate(window).add(key, amount, now_ts)
        for qkey, (start_ts, amount) in quota_adds.items():
            self.call_quota.add(qkey, amount, start_ts)
        return admission

    def _check_tokens(self, step: TokenLimit, request: RequestInfo, prompt: int, now_ts: float, now: datetime) -> Refusal | None:
        key = self._key(step, request)
        need = prompt if step.estimate_prompt_tokens else 0
        if step.tokens_per_minute is not None:
            self._remember_limit(key, "tokens-per-minute", step.scope, step.tokens_per_minute)
            check = self.token_rate.check(key, step.tokens_per_minute, need, now_ts)
            if not check.allowed:
                headers = {step.retry_after_header_name: str(check.retry_after)}
                if step.remaining_tokens_header_name:
                    headers[step.remaining_tokens_header_name] = "0"
                self._set_vars(request, step, retry_after=check.retry_after, remaining=0)
                return Refusal(429, responses.token_rate_exceeded(check.retry_after), headers,
                               "token-rate", step.tag, step.scope, key)
        if step.token_quota is not None and step.token_quota_period:
            self._remember_limit(key, step.token_quota_period, step.scope, step.token_quota)
            start, end = token_quota_window(step.token_quota_period, now)
            used = self.token_quota.used((key, step.token_quota_period), start.timestamp())
            if used > step.token_quota - max(need, 1):
                seconds = (end - now).total_seconds()
                retry = max(1, math.ceil(seconds))
                headers = {step.retry_after_header_name: str(retry)}
                if step.remaining_quota_tokens_header_name:
                    headers[step.remaining_quota_tokens_header_name] = "0"
                self._set_vars(request, step, retry_after=retry, remaining_quota=0)
                return Refusal(403, responses.token_quota_exceeded(seconds), headers,
                               "token-quota", step.tag, step.scope, key)
        return None

    @staticmethod
    def _set_vars(request: RequestInfo, step: TokenLimit, *, retry_after: int | None = None,
                  remaining: int | None = None, remaining_quota: int | None = None, consumed: int | None = None) -> None:
        pairs = (
            (step.retry_after_variable_name, retry_after),
            (step.remaining_tokens_variable_name, remaining),
            (step.remaining_quota_tokens_variable_name, remaining_quota),
            (step.tokens_consumed_variable_name, consumed),
        )
        for name, value in pairs:
            if name and value is not None:
                request.variables[name] = value

    # ---- after the backend ------------------------------------------------------------
    def complete(self, admission: Admission, status: int, usage: Usage | None, response_bytes: int = 0) -> list[TokenEmission]:
        """Count what the backend used; fill ``admission.headers``; return metric emissions."""
        request = admission.request
        now_ts = self.clock.time()
        now = request.now
        success = 200 <= status < 400
        tokens = usage.total_tokens if (usage is not None and success) else None
        counted_rate: set[str] = set()
        counted_quota: set[tuple] = set()
        counted_calls: set[tuple] = set()
        emissions: list[TokenEmission] = []
        for step in admission.steps:
            if isinstance(step, TokenLimit):
                key = self._key(step, request)
                if step.tokens_per_minute is not None and key not in counted_rate and tokens is not None:
                    counted_rate.add(key)
                    self.token_rate.add(key, tokens - admission.reserved_rate.get(key, 0), now_ts)
                quota_start = None
                if step.token_quota is not None and step.token_quota_period:
                    quota_start, _ = token_quota_window(step.token_quota_period, now)
                    qk = (key, step.token_quota_period)
                    if qk not in counted_quota and tokens is not None:
                        counted_quota.add(qk)
                        self.token_quota.add(qk, tokens - admission.reserved_quota.get(qk, 0), quota_start.timestamp())
                remaining = remaining_quota = None
                if step.tokens_per_minute is not None:
                    remaining = max(0, step.tokens_per_minute - self.token_rate.used(key, now_ts))
                    if step.remaining_tokens_header_name:
                        admission.headers[step.remaining_tokens_header_name] = str(remaining)
                if quota_start is not None and step.token_quota is not None:
                    used = self.token_quota.used((key, step.token_quota_period), quota_start.timestamp())
                    remaining_quota = max(0, step.token_quota - used)
                    if step.remaining_quota_tokens_header_name:
                        admission.headers[step.remaining_quota_tokens_header_name] = str(remaining_quota)
                if step.tokens_consumed_header_name and tokens is not None:
                    admission.headers[step.tokens_consumed_header_name] = str(tokens)
                self._set_vars(request, step, remaining=remaining, remaining_quota=remaining_quota, consumed=tokens)
            elif isinstance(step, RateLimitByKey):
                key = self._key(step, request)
                counter = self._call_rate(step.renewal_period)
                ck = ("rate", step.renewal_period, key)
                if ck not in counted_calls:
                    counted_calls.add(ck)
                    amount = 0
                    if step.increment_count == "total_tokens":
                        if step.increment_condition is None or success:
                            amount = tokens or 0
                    elif step.increment_condition == "success" and success or step.increment_condition == "always":
                        amount = int(step.increment_count)
                    counter.add(key, amount, now_ts)
                remaining_calls = max(0, step.calls - counter.used(key, now_ts))
                if step.remaining_calls_header_name:
                    admission.headers[step.remaining_calls_header_name] = str(remaining_calls)
                if step.remaining_calls_variable_name:
                    request.variables[step.remaining_calls_variable_name] = remaining_calls
                if step.total_calls_header_name:
                    admission.headers[step.total_calls_header_name] = str(step.calls)
            elif isinstance(step, QuotaByKey):
                key = self._key(step, request)
                start, _ = renewal_window(step.first_period_start, step.renewal_period, now)
                if step.calls is not None and step.increment_condition is not None:
                    qkey = ("calls", key, step.renewal_period)
                    if qkey not in counted_calls and (success or step.increment_condition == "always"):
                        counted_calls.add(qkey)
                        self.call_quota.add(qkey, 1, start.timestamp())
                if step.bandwidth_kb is not None:
                    bkey = ("kb", key, step.renewal_period)
                    if bkey not in counted_calls:
                        counted_calls.add(bkey)
                        self.call_quota.add(bkey, math.ceil(response_bytes / 1024), start.timestamp())
            elif isinstance(step, EmitTokenMetric) and usage is not None and success:
                dims = []
                for name, value in step.dimensions:
                    try:
                        dims.append((name, value(request)))
                    except Exception as exc:
                        self.reporter.warn(f"policy at {step.scope}: dimension {name!r} failed ({exc})")
                        dims.append((name, ""))
                emissions.append(TokenEmission(step.namespace, tuple(dims), usage))
        return emissions

    # ---- for metrics ------------------------------------------------------------------
    def remaining_snapshot(self) -> list[tuple[str, str, str, int, int]]:
        """``(counter key, window, scope, limit, remaining)`` for every limit seen, at this instant.

        One counter key can be limited at several scopes (product and API, say): each gets its
        own row, so a reader can tell which limit binds (the smallest remaining).
        """
        now_ts = self.clock.time()
        now = self.clock.now()
        with self._lock:
            limits = list(self._limits.items())
        out = []
        for (key, kind, scope), limit in limits:
            if kind == "tokens-per-minute":
                used = self.token_rate.used(key, now_ts)
            else:
                start, _ = token_quota_window(kind, now)
                used = self.token_quota.used((key, kind), start.timestamp())
            out.append((key, kind, scope, limit, max(0, limit - used)))
        return out
