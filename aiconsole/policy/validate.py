"""Check limits the way APIM does, with messages a person understands.

Rules (Microsoft's policy reference for ``llm-token-limit``/``azure-openai-token-limit``,
``rate-limit-by-key``, ``quota-by-key``, ``rate-limit`` and ``quota``):

* token limits need ``counter-key`` and ``estimate-prompt-tokens`` (``true``/``false``), and a
  rate (``tokens-per-minute``), a quota (``token-quota`` with ``token-quota-period``), or both;
* ``token-quota-period`` is one of Hourly, Daily, Weekly, Monthly, Yearly;
* numbers are positive whole numbers; an expression or a ``{{named value}}`` cannot be
  checked before it runs, so it is a warning, not an error;
* every limit policy is allowed in the ``inbound`` section only;
* a policy document's sections are ``inbound``, ``backend``, ``outbound`` and ``on-error``.

Errors are problems APIM would reject; warnings are things a person should look at.
:func:`check_value` checks a single candidate value, for forms that validate as you type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aiconsole.policy.errors import LimitValidationError, line_col
from aiconsole.policy.limits import SECTIONS, TOKEN_LIMIT_POLICIES, Number, TokenLimit, as_document, find_limits
from aiconsole.policy.tree import Document
from aiconsole.policy.xmltext import Form

__all__ = ["Problem", "QUOTA_PERIODS", "check_value", "validate_limit", "validate_document", "raise_for_errors"]

QUOTA_PERIODS = ("Hourly", "Daily", "Weekly", "Monthly", "Yearly")
INT32_MAX = 2_147_483_647
INT64_MAX = 9_223_372_036_854_775_807

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One finding. ``line``/``column`` point at the limit (or section) concerned."""

    severity: Severity
    message: str
    policy: str | None = None
    attribute: str | None = None
    limit_index: int | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.message}"


# attributes each policy knows (others are reported as warnings: likely typos)
_TOKEN_ATTRS = {
    "counter-key",
    "tokens-per-minute",
    "token-quota",
    "token-quota-period",
    "estimate-prompt-tokens",
    "retry-after-header-name",
    "retry-after-variable-name",
    "remaining-quota-tokens-header-name",
    "remaining-quota-tokens-variable-name",
    "remaining-tokens-header-name",
    "remaining-tokens-variable-name",
    "tokens-consumed-header-name",
    "tokens-consumed-variable-name",
}
_RATE_ATTRS = {
    "calls",
    "renewal-period",
    "counter-key",
    "increment-condition",
    "increment-count",
    "retry-after-header-name",
    "retry-after-variable-name",
    "remaining-calls-header-name",
    "remaining-calls-variable-name",
    "total-calls-header-name",
}
_QUOTA_ATTRS = {"calls", "bandwidth", "renewal-period", "counter-key", "increment-condition", "increment-count", "first-period-start"}
KNOWN_ATTRIBUTES: dict[str, set[str]] = {
    "llm-token-limit": _TOKEN_ATTRS,
    "azure-openai-token-limit": _TOKEN_ATTRS,
    "rate-limit-by-key": _RATE_ATTRS,
    "rate-limit": _RATE_ATTRS - {"counter-key", "increment-condition", "increment-count"},
    "quota-by-key": _QUOTA_ATTRS,
    "quota": _QUOTA_ATTRS - {"counter-key", "increment-condition", "increment-count", "first-period-start"},
}
_NUMERIC = {
    "tokens-per-minute": INT32_MAX,
    "token-quota": INT64_MAX,
    "calls": INT32_MAX,
    "renewal-period": INT32_MAX,
    "bandwidth": INT64_MAX,
}


def _number_problem(name: str, value: str) -> tuple[Severity, str] | None:
    num = Number.parse(value)
    if num.kind == "number":
        assert num.value is not None
        if num.value <= 0 or value.startswith("+"):
            return "error", f"{name} must be a positive whole number, got '{value}'."
        if num.value > _NUMERIC[name]:
            return "error", f"{name} is too large: at most {_NUMERIC[name]:,}, got '{value}'."
        return None
    if num.kind == "expression":
        return "warning", f"{name} is an expression; its value can only be checked when the gateway runs it."
    if num.kind == "named-value":
        return "warning", f"{name} is the named value {value}; its number is only known at the gateway."
    if num.kind == "placeholder":
        return "error", f"{name} must be a positive whole number, got '{value}' (a template placeholder left unfilled)."
    return "error", f"{name} must be a positive whole number, got '{value}'."


def check_value(policy: str, attribute: str, value: str) -> Problem | None:
    """Check one attribute value on its own; None if it is fine.

    Used by edit forms while the user types and by the edit functions before they write.
    """
    if attribute in _NUMERIC:
        found = _number_problem(attribute, value)
        if found is None:
            return None
        return Problem(found[0], found[1], policy=policy, attribute=attribute)
    if attribute == "token-quota-period":
        if value in QUOTA_PERIODS:
            return None
        hint = next((p for p in QUOTA_PERIODS if p.lower() == value.strip().lower()), None)
        extra = f" Did you mean '{hint}'?" if hint else ""
        return Problem(
            "error",
            f"token-quota-period must be one of {', '.join(QUOTA_PERIODS)}, got '{value}'.{extra}",
            policy=policy,
            attribute=attribute,
        )
    if attribute == "estimate-prompt-tokens":
        if value in ("true", "false"):
            return None
        if value.strip().lower() in ("true", "false") or value.startswith(("@(", "@{")):
            return Problem("warning", f"estimate-prompt-tokens is usually written true or false, got '{value}'.", policy, attribute)
        return Problem("error", f"estimate-prompt-tokens must be true or false, got '{value}'.", policy=policy, attribute=attribute)
    if attribute == "counter-key":
        if not value.strip():
            return Problem("error", "counter-key must not be empty.", policy=policy, attribute=attribute)
        return None
    if attribute.endswith(("-header-name", "-variable-name")) and not value.strip():
        return Problem("error", f"{attribute} must not be empty.", policy=policy, attribute=attribute)
    return None


def validate_limit(limit: TokenLimit) -> list[Problem]:
    """Every problem with one limit (attributes, required ones, and where it sits)."""
    problems: list[Problem] = []

    def add(severity: Severity, message: str, attribute: str | None = None) -> None:
        problems.append(
            Problem(severity, message, limit.policy, attribute, limit.index, limit.line, limit.column)
        )

    policy = limit.policy
    has = {a.name for a in limit.attributes}
    seen: set[str] = set()
    for attr in limit.attributes:
        if attr.name in seen:
            add("error", f"attribute {attr.name} appears twice on {policy}.", attr.name)
        seen.add(attr.name)
        found = check_value(policy, attr.name, attr.value)
        if found is not None:
            add(found.severity, found.message, attr.name)
        known = KNOWN_ATTRIBUTES.get(policy)
        if known is not None and attr.name not in known:
            add("warning", f"{policy} has no attribute {attr.name} (a typo?).", attr.name)

    if policy in TOKEN_LIMIT_POLICIES:
        if "counter-key" not in has:
            add("error", f"{policy} needs a counter-key, for example counter-key=\"@(context.Subscription.Id)\".", "counter-key")
        if "estimate-prompt-tokens" not in has:
            add("error", f"{policy} needs estimate-prompt-tokens=\"true\" or \"false\".", "estimate-prompt-tokens")
        if "tokens-per-minute" not in has and "token-quota" not in has:
            add("error", f"{policy} needs tokens-per-minute, or token-quota with token-quota-period, or both.")
        if "token-quota" in has and "token-quota-period" not in has:
            add("error", "token-quota needs token-quota-period (Hourly, Daily, Weekly, Monthly or Yearly).", "token-quota-period")
        if "token-quota-period" in has and "token-quota" not in has:
            add("error", "token-quota-period is set but token-quota is missing.", "token-quota")
    elif policy in ("rate-limit-by-key", "rate-limit"):
        for req in ("calls", "renewal-period") + (("counter-key",) if policy == "rate-limit-by-key" else ()):
            if req not in has:
                add("error", f"{policy} needs {req}.", req)
    elif policy in ("quota-by-key", "quota"):
        for req in ("renewal-period",) + (("counter-key",) if policy == "quota-by-key" else ()):
            if req not in has:
                add("error", f"{policy} needs {req}.", req)
        if "calls" not in has and "bandwidth" not in has:
            add("error", f"{policy} needs calls, bandwidth, or both.")

    if limit.section is None:
        if limit.path[:1] != ("fragment",):  # a fragment's place is decided where it is included
            add("error", f"{policy} must be inside the inbound section.")
    elif limit.section != "inbound":
        add("error", f"{policy} is only allowed in the inbound section, found in {limit.section}.")
    return problems


def validate_document(source: str | Document, *, form: Form | None = None) -> list[Problem]:
    """Structure (root and section names) plus every limit, in document order.

    Raises :class:`~aiconsole.policy.errors.PolicySyntaxError` if the text is malformed;
    everything else is reported as problems, not raised.
    """
    doc = as_document(source)
    problems: list[Problem] = []
    root = doc.root
    if root is None:
        problems.append(Problem("error", "the document has no <policies> element."))
    elif root.name == "policies":
        seen: set[str] = set()
        for section in root.children:
            line, col = line_col(doc.text, section.span.start)
            if section.name not in SECTIONS:
                problems.append(
                    Problem(
                        "error",
                        f"<{section.name}> is not a policy section; use inbound, backend, outbound or on-error.",
                        line=line,
                        column=col,
                    )
                )
            elif section.name in seen:
                problems.append(Problem("error", f"the {section.name} section appears twice.", line=line, column=col))
            seen.add(section.name)
    elif root.name != "fragment":
        line, col = line_col(doc.text, root.span.start)
        problems.append(Problem("error", f"the root element is <{root.name}>, expected <policies>.", line=line, column=col))
    for limit in find_limits(doc, form=form, include_override_copies=True):
        problems.extend(validate_limit(limit))
    return problems


def raise_for_errors(problems: list[Problem], what: str = "The policy") -> None:
    """Raise :class:`LimitValidationError` if any problem is an error (warnings pass)."""
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        first = errors[0].message
        more = f" ({len(errors) - 1} more)" if len(errors) > 1 else ""
        raise LimitValidationError(
            f"{what} is not valid: {first}{more}",
            "Fix the values and try again.",
            details=[str(p) for p in errors],
        )
