"""Named values and backends as the console reasons about them: never with a secret inside.

A named value's *value* is never kept here (a plain named value's GET answers it in clear,
which is exactly the problem ``:auth`` flags): only whether it is secret, whether it comes from
Key Vault, and whether it holds a value at all. Backend credentials keep header/query *names*
and ``{{named-value}}`` references; a literal value is replaced by ``LITERAL``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

LITERAL = "(literal value)"
_REF = re.compile(r"\{\{\s*([A-Za-z0-9._-]+)\s*\}\}")


def named_value_refs(text: str | None) -> list[str]:
    """The ``{{name}}`` references in a policy or credential value, in order."""
    return _REF.findall(text or "")


def redact_credential(value: Any) -> str:
    """A credential value as it may be shown: its named-value references, or ``LITERAL``."""
    refs = named_value_refs(str(value))
    return " ".join("{{" + r + "}}" for r in refs) if refs else LITERAL


@dataclass(frozen=True)
class NamedValueInfo:
    name: str
    display_name: str
    secret: bool
    key_vault: str | None = None  # the secret identifier URL, when the value lives in Key Vault
    has_plain_value: bool = False  # GET answered a value in clear (not secret, not Key Vault)
    tags: tuple[str, ...] = ()

    @property
    def storage(self) -> str:
        """``keyvault`` | ``secret`` | ``plain``: how the value is kept, from safest to worst."""
        if self.key_vault:
            return "keyvault"
        return "secret" if self.secret else "plain"


@dataclass(frozen=True)
class PoolMember:
    backend: str  # short backend id
    priority: int | None = None
    weight: int | None = None


@dataclass(frozen=True)
class BreakerRule:
    name: str
    count: int | None = None
    percentage: int | None = None
    interval: str | None = None
    status_ranges: tuple[tuple[int, int], ...] = ()
    error_reasons: tuple[str, ...] = ()
    trip_duration: str | None = None
    accept_retry_after: bool = False

    @property
    def condition(self) -> str:
        """``3 × 429, 500-599 in PT1M``: the failure condition in one phrase."""
        codes = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in self.status_ranges) or "any failure"
        if self.error_reasons:
            codes += " or " + ", ".join(self.error_reasons)
        amount = f"{self.count} ×" if self.count is not None else (f"{self.percentage}% of" if self.percentage else "")
        return f"{amount} {codes} in {self.interval or '?'}".strip()


@dataclass(frozen=True)
class BackendInfo:
    name: str
    kind: str = "Single"  # Single | Pool
    title: str | None = None
    description: str | None = None
    url: str | None = None
    protocol: str | None = None
    resource_id: str | None = None
    members: tuple[PoolMember, ...] = ()
    rules: tuple[BreakerRule, ...] = ()
    credential_headers: dict[str, str] = field(default_factory=dict)  # header -> refs or LITERAL
    credential_query: dict[str, str] = field(default_factory=dict)
    authorization_scheme: str | None = None
    authorization_value: str | None = None  # refs or LITERAL

    @property
    def is_pool(self) -> bool:
        return self.kind.lower() == "pool"


def _last(path: str | None) -> str:
    return (path or "").rstrip("/").rsplit("/", 1)[-1]


def named_value_from_json(item: dict[str, Any]) -> NamedValueInfo:
    p = item.get("properties") or {}
    vault = (p.get("keyVault") or {}).get("secretIdentifier")
    return NamedValueInfo(name=item.get("name") or "", display_name=p.get("displayName") or item.get("name") or "",
                          secret=bool(p.get("secret")), key_vault=vault,
                          has_plain_value=p.get("value") not in (None, "") and not p.get("secret") and not vault,
                          tags=tuple(p.get("tags") or ()))


def backend_from_json(item: dict[str, Any]) -> BackendInfo:
    p = item.get("properties") or {}
    members = tuple(PoolMember(_last(s.get("id")), s.get("priority"), s.get("weight"))
                    for s in ((p.get("pool") or {}).get("services") or []) if isinstance(s, dict))
    rules = []
    for r in ((p.get("circuitBreaker") or {}).get("rules") or []):
        c = r.get("failureCondition") or {}
        rules.append(BreakerRule(
            name=r.get("name") or "", count=c.get("count"), percentage=c.get("percentage"), interval=c.get("interval"),
            status_ranges=tuple((int(x.get("min") or 0), int(x.get("max") or 0)) for x in (c.get("statusCodeRanges") or [])),
            error_reasons=tuple(c.get("errorReasons") or ()), trip_duration=r.get("tripDuration"),
            accept_retry_after=bool(r.get("acceptRetryAfter")),
        ))
    creds = p.get("credentials") or {}
    auth = creds.get("authorization") or {}
    kind = p.get("type") or ("Pool" if members else "Single")
    return BackendInfo(
        name=item.get("name") or "", kind=kind, title=p.get("title"), description=p.get("description"),
        url=p.get("url"), protocol=p.get("protocol"), resource_id=p.get("resourceId"), members=members,
        rules=tuple(rules),
        credential_headers={k: " ".join(redact_credential(v) for v in (vals or [])) for k, vals in (creds.get("header") or {}).items()},
        credential_query={k: " ".join(redact_credential(v) for v in (vals or [])) for k, vals in (creds.get("query") or {}).items()},
        authorization_scheme=auth.get("scheme"),
        authorization_value=redact_credential(auth.get("parameter")) if auth.get("parameter") else None,
    )
