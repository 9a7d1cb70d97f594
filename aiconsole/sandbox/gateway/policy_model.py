"""Compile one policy document's ``<inbound>`` section into steps the engine can run.

Steps are immutable dataclasses built once per ETag. Elements the sandbox does not simulate
(set-header, set-backend-service, authentication-managed-identity...) are skipped with a note
logged once; an element it does simulate but whose attributes are invalid (``tokens-per-minute=
"{tpm}"`` left by a template) is skipped the same way, so traffic keeps flowing and the log says
why the limit is not enforced.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiconsole.sandbox.gateway.conditions import Predicate, compile_condition
from aiconsole.sandbox.gateway.expressions import ValueFn, compile_value
from aiconsole.sandbox.gateway.lexer import ExpressionError
from aiconsole.sandbox.gateway.reporting import LogOnce

TOKEN_LIMIT_TAGS = ("llm-token-limit", "azure-openai-token-limit")
EMIT_METRIC_TAGS = ("llm-emit-token-metric", "azure-openai-emit-token-metric")
QUOTA_PERIODS = ("Hourly", "Daily", "Weekly", "Monthly", "Yearly")
DEFAULT_METRIC_NAMESPACE = "API Management"
# Elements that change nothing the sandbox simulates; skipped without a warning.
_QUIET = {
    "set-backend-service", "set-header", "set-variable", "authentication-managed-identity",
    "set-query-parameter", "rewrite-uri", "cors", "trace", "forward-request", "find-and-replace",
    "set-body", "set-method", "validate-jwt", "check-header", "mock-response", "include-fragment",
    "llm-content-safety", "azure-openai-semantic-cache-lookup", "llm-semantic-cache-lookup",
    "azure-openai-semantic-cache-store", "llm-semantic-cache-store", "emit-metric", "log-to-eventhub",
}


class Base:
    """``<base/>``: where the parent scope's steps go."""

    def __repr__(self) -> str:
        return "Base()"


BASE = Base()


@dataclass(frozen=True)
class Value:
    """A compiled attribute value plus its source text (the key used when it cannot be evaluated)."""

    source: str
    fn: ValueFn

    def __call__(self, request) -> str:  # noqa: ANN001 - RequestInfo
        return self.fn(request)


@dataclass(frozen=True)
class TokenLimit:
    tag: str
    scope: str
    counter_key: Value
    estimate_prompt_tokens: bool
    tokens_per_minute: int | None = None
    token_quota: int | None = None
    token_quota_period: str | None = None
    retry_after_header_name: str = "Retry-After"
    retry_after_variable_name: str | None = None
    remaining_tokens_header_name: str | None = None
    remaining_tokens_variable_name: str | None = None
    remaining_quota_tokens_header_name: str | None = None
    remaining_quota_tokens_variable_name: str | None = None
    tokens_consumed_header_name: str | None = None
    tokens_consumed_variable_name: str | None = None


@dataclass(frozen=True)
class RateLimitByKey:
    scope: str
    counter_key: Value
    calls: int
    renewal_period: int
    increment_condition: str | None = None  # "always", "success" or None (count every admitted call)
    increment_count: str = "1"  # an integer, or "total_tokens"
    retry_after_header_name: str = "Retry-After"
    retry_after_variable_name: str | None = None
    remaining_calls_header_name: str | None = None
    remaining_calls_variable_name: str | None = None
    total_calls_header_name: str | None = None


@dataclass(frozen=True)
class QuotaByKey:
    scope: str
    counter_key: Value
    renewal_period: int
    calls: int | None = None
    bandwidth_kb: int | None = None
    increment_condition: str | None = None
    first_period_start: datetime = datetime(1, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class EmitTokenMetric:
    tag: str
    scope: str
    namespace: str
    dimensions: tuple[tuple[str, Value], ...]


@dataclass(frozen=True)
class When:
    condition_source: str
    predicate: Predicate | None  # None: outside the grammar, always false
    steps: tuple


@dataclass(frozen=True)
class Choose:
    scope: str
    whens: tuple[When, ...]
    otherwise: tuple = field(default_factory=tuple)


Step = TokenLimit | RateLimitByKey | QuotaByKey | EmitTokenMetric | Choose | Base


class _BadElement(ValueError):
    pass


def _int(el: ET.Element, name: str, *, required: bool = False, minimum: int = 0) -> int | None:
    raw = el.get(name)
    if raw is None:
        if required:
            raise _BadElement(f"<{el.tag}> needs {name}")
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        raise _BadElement(f"<{el.tag}> {name}={raw!r} is not a number") from None
    if value < minimum:
        raise _BadElement(f"<{el.tag}> {name}={raw!r} is below {minimum}")
    return value


def _bool(el: ET.Element, name: str) -> bool:
    raw = el.get(name)
    if raw is None:
        raise _BadElement(f"<{el.tag}> needs {name}")
    if raw.strip().lower() not in ("true", "false"):
        raise _BadElement(f"<{el.tag}> {name}={raw!r} is not true or false")
    return raw.strip().lower() == "true"


def _increment_condition(raw: str | None) -> str | None:
    """Map the usual increment-condition expressions onto what the sandbox can evaluate."""
    if raw is None:
        return None
    compact = raw.replace(" ", "")
    if re.search(r"StatusCode>=200&&context\.Response\.StatusCode<(300|400)", compact) or "StatusCode==200" in compact:
        return "success"
    if compact.lower() in ("true", "@(true)"):
        return "always"
    raise _BadElement(f"increment-condition {raw!r} is not simulated")


class Compiler:
    """Turns an ``<inbound>`` element into steps; reports problems through ``LogOnce``."""

    def __init__(self, reporter: LogOnce) -> None:
        self.reporter = reporter

    def _value(self, el: ET.Element, name: str, scope: str) -> Value:
        raw = el.get(name)
        if raw is None:
            raise _BadElement(f"<{el.tag}> needs {name}")
        try:
            return Value(raw, compile_value(raw))
        except ExpressionError as exc:
            self.reporter.warn(
                f"policy at {scope}: <{el.tag}> {name}={raw!r} is outside the supported expressions ({exc}); "
                "its text is used as a literal key"
            )
            return Value(raw, lambda r, literal=raw: literal)

    def compile_section(self, section: ET.Element | None, scope: str) -> tuple:
        if section is None:
            return (BASE,)
        return self._steps(list(section), scope)

    def _steps(self, elements: list[ET.Element], scope: str) -> tuple:
        steps: list = []
        for el in elements:
            if not isinstance(el.tag, str):
                continue  # comments / processing instructions
            try:
                step = self._step(el, scope)
            except _BadElement as exc:
                self.reporter.warn(f"policy at {scope}: {exc}; element ignored")
                continue
            if step is not None:
                steps.append(step)
        return tuple(steps)

    def _step(self, el: ET.Element, scope: str):
        tag = el.tag
        if tag == "base":
            return BASE
        if tag in TOKEN_LIMIT_TAGS:
            return self._token_limit(el, scope)
        if tag == "rate-limit-by-key":
            return RateLimitByKey(
                scope=scope,
                counter_key=self._value(el, "counter-key", scope),
                calls=_int(el, "calls", required=True, minimum=1) or 1,
                renewal_period=_int(el, "renewal-period", required=True, minimum=1) or 60,
                increment_condition=_increment_condition(el.get("increment-condition")),
                increment_count=self._increment_count(el.get("increment-count")),
                retry_after_header_name=el.get("retry-after-header-name") or "Retry-After",
                retry_after_variable_name=el.get("retry-after-variable-name"),
                remaining_calls_header_name=el.get("remaining-calls-header-name"),
                remaining_calls_variable_name=el.get("remaining-calls-variable-name"),
                total_calls_header_name=el.get("total-calls-header-name"),
            )
        if tag == "quota-by-key":
            calls = _int(el, "calls", minimum=1)
            bandwidth = _int(el, "bandwidth", minimum=1)
            if calls is None and bandwidth is None:
                raise _BadElement("<quota-by-key> needs calls or bandwidth")
            start = el.get("first-period-start")
            first = datetime(1, 1, 1, tzinfo=UTC)
            if start:
                try:
                    first = datetime.fromisoformat(start.replace("Z", "+00:00"))
                    first = first if first.tzinfo else first.replace(tzinfo=UTC)
                except ValueError:
                    raise _BadElement(f"<quota-by-key> first-period-start={start!r} is not a date") from None
            return QuotaByKey(
                scope=scope,
                counter_key=self._value(el, "counter-key", scope),
                renewal_period=_int(el, "renewal-period", required=True, minimum=1) or 3600,
                calls=calls,
                bandwidth_kb=bandwidth,
                increment_condition=_increment_condition(el.get("increment-condition")),
                first_period_start=first,
            )
        if tag in EMIT_METRIC_TAGS:
            dims = []
            for d in el.findall("dimension"):
                name = d.get("name")
                if not name:
                    raise _BadElement(f"<{tag}> has a dimension without a name")
                value = d.get("value")
                if value is None:
                    dims.append((name, self._default_dimension(name, scope)))
                else:
                    dims.append((name, self._value(d, "value", scope)))
            return EmitTokenMetric(
                tag=tag, scope=scope, namespace=el.get("namespace") or DEFAULT_METRIC_NAMESPACE, dimensions=tuple(dims)
            )
        if tag == "choose":
            return self._choose(el, scope)
        if tag not in _QUIET:
            self.reporter.warn(f"policy at {scope}: <{tag}> is not simulated by the sandbox gateway; skipped")
        return None

    def _default_dimension(self, name: str, scope: str) -> Value:
        """Dimensions APIM fills itself when ``value`` is omitted (API ID, Subscription ID, ...)."""
        defaults = {
            "api id": "@(context.Api.Id)",
            "operation id": "@(context.Operation.Id)",
            "product id": "@(context.Product.Id)",
            "subscription id": "@(context.Subscription.Id)",
            "user id": "@(context.User.Id)",
            "client ip": "@(context.Request.IpAddress)",
            "location": "@(context.Deployment.Region)",
            "gateway id": "@(context.Deployment.ServiceName)",
        }
        source = defaults.get(name.lower())
        if source is None:
            raise _BadElement(f"dimension {name!r} has no value and no default")
        return Value(source, compile_value(source))

    @staticmethod
    def _increment_count(raw: str | None) -> str:
        if raw is None:
            return "1"
        if raw.strip().isdigit():
            return raw.strip()
        if "usage.total_tokens" in raw:
            return "total_tokens"
        raise _BadElement(f"increment-count {raw!r} is not simulated")

    def _token_limit(self, el: ET.Element, scope: str) -> TokenLimit:
        tpm = _int(el, "tokens-per-minute", minimum=0)
        quota = _int(el, "token-quota", minimum=0)
        period = el.get("token-quota-period")
        if quota is not None:
            if period is None:
                raise _BadElement(f"<{el.tag}> token-quota needs token-quota-period")
            matched = [p for p in QUOTA_PERIODS if p.lower() == period.strip().lower()]
            if not matched:
                raise _BadElement(f"<{el.tag}> token-quota-period={period!r} is not one of {', '.join(QUOTA_PERIODS)}")
            period = matched[0]
        if tpm is None and quota is None:
            raise _BadElement(f"<{el.tag}> needs tokens-per-minute or token-quota")
        return TokenLimit(
            tag=el.tag,
            scope=scope,
            counter_key=self._value(el, "counter-key", scope),
            estimate_prompt_tokens=_bool(el, "estimate-prompt-tokens"),
            tokens_per_minute=tpm,
            token_quota=quota,
            token_quota_period=period if quota is not None else None,
            retry_after_header_name=el.get("retry-after-header-name") or "Retry-After",
            retry_after_variable_name=el.get("retry-after-variable-name"),
            remaining_tokens_header_name=el.get("remaining-tokens-header-name"),
            remaining_tokens_variable_name=el.get("remaining-tokens-variable-name"),
            remaining_quota_tokens_header_name=el.get("remaining-quota-tokens-header-name"),
            remaining_quota_tokens_variable_name=el.get("remaining-quota-tokens-variable-name"),
            tokens_consumed_header_name=el.get("tokens-consumed-header-name"),
            tokens_consumed_variable_name=el.get("tokens-consumed-variable-name"),
        )

    def _choose(self, el: ET.Element, scope: str) -> Choose:
        whens: list[When] = []
        otherwise: tuple = ()
        for child in el:
            if not isinstance(child.tag, str):
                continue
            if child.tag == "when":
                source = child.get("condition") or ""
                try:
                    predicate: Predicate | None = compile_condition(source)
                except ExpressionError as exc:
                    self.reporter.warn(
                        f"policy at {scope}: condition {source!r} is outside the supported grammar ({exc}); treated as false"
                    )
                    predicate = None
                whens.append(When(source, predicate, self._steps(list(child), scope)))
            elif child.tag == "otherwise":
                otherwise = self._steps(list(child), scope)
        return Choose(scope=scope, whens=tuple(whens), otherwise=otherwise)


def inbound_of(root: ET.Element) -> ET.Element | None:
    """The ``<inbound>`` section; a limit elsewhere is ignored, as APIM allows it only there."""
    return root.find("inbound")
