"""APIM policy documents: find limits, validate them, edit them byte-exactly, override them.

Pure code: no I/O, no Textual, no Azure SDK. Works on the policy text in either form APIM
offers (``xml``, escaped and well-formed, or ``rawxml``, as people write it) without a full
XML parse. Every edit returns new text that differs from the old only where it means to.

The functions the services call::

    find_limits(text, form=None) -> list[TokenLimit]        # what limits are there
    validate_document(text) / validate_limit(limit) -> list[Problem]
    check_value(policy, attribute, value) -> Problem | None # validate as you type
    set_attribute(text, limit, name, value) -> str          # limit = index or TokenLimit
    set_attributes(text, limit, {name: value_or_None}) -> str
    remove_attribute(text, limit, name) -> str
    add_limit(text, policy, {name: value}) -> str
    remove_limit(text, limit) -> str
    add_override(text, limit, until=..., subscription=... | product=...,
                 tokens_per_minute=..., token_quota=..., author=..., reason=...) -> OverrideAdded
    list_overrides(text) -> list[Override]
    remove_override(text, override_id) -> str
    cleanup_expired(text, now) -> (str, list[Override])
    unified_diff(before, after, label=...) -> str

Errors are :class:`PolicyError` subclasses (a :class:`~aiconsole.domain.errors.ValidationError`):
:class:`PolicySyntaxError` carries ``line`` and ``column``.
"""

from __future__ import annotations

from aiconsole.policy.blocks import OverrideCondition, build_condition, parse_condition
from aiconsole.policy.diff import unified_diff
from aiconsole.policy.edit import add_limit, remove_attribute, remove_limit, set_attribute, set_attributes
from aiconsole.policy.errors import (
    LimitNotFoundError,
    LimitValidationError,
    PolicyError,
    PolicySyntaxError,
    StaleLimitError,
)
from aiconsole.policy.limits import (
    LIMIT_POLICIES,
    SECTIONS,
    TOKEN_LIMIT_POLICIES,
    LimitAttribute,
    Number,
    TokenLimit,
    find_limits,
    get_limit,
)
from aiconsole.policy.overrides import (
    Override,
    OverrideAdded,
    add_override,
    cleanup_expired,
    list_overrides,
    remove_override,
)
from aiconsole.policy.tree import Document, parse
from aiconsole.policy.validate import QUOTA_PERIODS, Problem, check_value, raise_for_errors, validate_document, validate_limit
from aiconsole.policy.xmltext import Form, detect_form

__all__ = [
    "LIMIT_POLICIES",
    "QUOTA_PERIODS",
    "SECTIONS",
    "TOKEN_LIMIT_POLICIES",
    "Document",
    "Form",
    "LimitAttribute",
    "LimitNotFoundError",
    "LimitValidationError",
    "Number",
    "Override",
    "OverrideAdded",
    "OverrideCondition",
    "PolicyError",
    "PolicySyntaxError",
    "Problem",
    "StaleLimitError",
    "TokenLimit",
    "add_limit",
    "add_override",
    "build_condition",
    "check_value",
    "cleanup_expired",
    "detect_form",
    "find_limits",
    "get_limit",
    "list_overrides",
    "parse",
    "parse_condition",
    "raise_for_errors",
    "remove_attribute",
    "remove_limit",
    "remove_override",
    "set_attribute",
    "set_attributes",
    "unified_diff",
    "validate_document",
    "validate_limit",
]
