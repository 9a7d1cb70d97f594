"""Use cases on subscriptions and their keys: list, show, reveal, rotate one slot.

Both the CLI and the TUI call these; the TUI from thread workers. Keys stay ``SecretStr``
until a caller explicitly reveals them; the journal only ever sees fingerprints.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aiconsole.domain.errors import NotFoundError, UsageError
from aiconsole.domain.models import KeyPair, ScopeKind, Slot, Subscription, SubscriptionState
from aiconsole.domain.secrets import fingerprint
from aiconsole.services.context import ServiceContext

SLOTS: tuple[Slot, ...] = ("primary", "secondary")


def odata_quote(value: str) -> str:
    """An OData string literal: single quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def build_filter(*, text: str | None = None, state: str | None = None, product: str | None = None,
                 owner: str | None = None) -> str | None:
    """The server-side ``$filter`` for the documented subscription fields (see the spec's table)."""
    clauses = []
    if text:
        clauses.append(f"contains(displayName, {odata_quote(text)})")
    if state:
        try:
            state = SubscriptionState(state.lower()).value
        except ValueError:
            valid = ", ".join(s.value for s in SubscriptionState)
            raise UsageError(f"'{state}' is not a subscription state.", f"Use one of: {valid}.") from None
        clauses.append(f"state eq {odata_quote(state)}")
    if product:
        clauses.append(f"productId eq {odata_quote(product)}")
    if owner:
        clauses.append(f"userId eq {odata_quote(owner)}")
    return " and ".join(clauses) or None


def parse_slot(value: str) -> Slot:
    value = (value or "").lower()
    if value not in SLOTS:
        raise UsageError(f"'{value}' is not a key slot.", "Use primary or secondary.")
    return value  # type: ignore[return-value]


@dataclass
class RotateResult:
    name: str
    slot: Slot
    fingerprint_before: str
    fingerprint_after: str

    def as_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "slot": self.slot,
            "fingerprint_before": self.fingerprint_before,
            "fingerprint_after": self.fingerprint_after,
        }


def subscription_row(sub: Subscription) -> dict[str, Any]:
    """The JSON shape of ``subs list`` (a contract: scripts rely on these names)."""
    return {
        "name": sub.name,
        "display_name": sub.display_name,
        "state": sub.state.value,
        "scope": sub.scope.label,
        "owner_id": sub.owner_id,
        "owner": sub.owner or None,
        "created_date": sub.created_date,
        "start_date": sub.start_date,
        "expiration_date": sub.expiration_date,
        "state_comment": sub.state_comment,
    }


class SubscriptionService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    @property
    def backend(self):
        return self.ctx.backend

    def iter_pages(self, *, text: str | None = None, state: str | None = None, product: str | None = None,
                   owner: str | None = None) -> Iterator[list[Subscription]]:
        """Pages of subscriptions as they arrive (first page first, before the rest is fetched)."""
        return self.backend.iter_subscription_pages(
            odata_filter=build_filter(text=text, state=state, product=product, owner=owner)
        )

    def list(self, **filters: str | None) -> list[Subscription]:
        out: list[Subscription] = []
        for page in self.iter_pages(**filters):
            out.extend(page)
        return out

    def get(self, sid: str) -> Subscription:
        return self.backend.get_subscription(sid)

    def describe(self, sid: str) -> dict[str, Any]:
        """``subs show``: the row plus the product or API its scope names, resolved."""
        sub = self.get(sid)
        row = subscription_row(sub)
        row["product"] = None
        row["api"] = None
        if sub.scope.kind is ScopeKind.product and sub.scope.id:
            try:
                p = self.backend.get_product(sub.scope.id)
                row["product"] = {"name": p.name, "display_name": p.display_name, "state": p.state}
            except NotFoundError:
                row["product"] = {"name": sub.scope.id, "display_name": None, "state": "missing"}
        elif sub.scope.kind is ScopeKind.api and sub.scope.id:
            try:
                a = self.backend.get_api(sub.scope.id)
                row["api"] = {"name": a.name, "display_name": a.display_name, "path": a.path}
            except NotFoundError:
                row["api"] = {"name": sub.scope.id, "display_name": None, "path": None}
        row["etag"] = sub.etag
        return row

    def keys(self, sid: str) -> KeyPair:
        return self.backend.list_secrets(sid)

    def rotate(self, sid: str, slot: Slot, *, reason: str | None = None, confirm_name: str | None = None) -> RotateResult:
        """Regenerate one slot. The old value stops working at once (APIM has no grace period)."""
        slot = parse_slot(slot)
        before = self.keys(sid)
        fp_before = fingerprint(before.key(slot))
        with self.ctx.write(
            "keys.rotate", f"subscription:{sid}", reason=reason, confirm_name=confirm_name,
            before={"slot": slot, "fingerprint": fp_before},
        ) as record:
            record.make(self.backend.regenerate_key, sid, slot)
            after = self.keys(sid)
            fp_after = fingerprint(after.key(slot))
            record.after = {"slot": slot, "fingerprint": fp_after}
        return RotateResult(sid, slot, fp_before, fp_after)
