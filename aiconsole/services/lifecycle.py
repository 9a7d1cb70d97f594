"""Subscription lifecycle: issue, change state and details, delete, and the expiry sweep.

Every write here reads the subscription fresh (or takes the ETag the caller read) and sends it
as ``If-Match``, so a concurrent change comes back as a 412 and nothing is overwritten. Every
write goes through ``ServiceContext.write`` so read-only and production guards apply and the
journal gets an entry whatever happens — with key fingerprints, never keys.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiconsole.domain.errors import (
    ConflictError,
    NotFoundError,
    PreconditionFailedError,
    UsageError,
)
from aiconsole.domain.models import KeyPair, Subscription, SubscriptionState, User
from aiconsole.domain.secrets import fingerprint
from aiconsole.services.context import ServiceContext
from aiconsole.services.durations import utcnow
from aiconsole.services.subscriptions import odata_quote, subscription_row

#: states a subscription can be created in (APIM's own default is ``submitted``)
CREATE_STATES = ("active", "submitted")
#: states in which an expired subscription still lets traffic through (the sweep acts on these)
LIVE_STATES = ("active",)
#: states that are over: nothing to sweep
ENDED_STATES = ("cancelled", "expired", "rejected")


@dataclass(frozen=True)
class ScopeChoice:
    """What a new subscription grants: one product, one API, or all APIs."""

    kind: str  # "product" | "api" | "all_apis"
    id: str | None = None

    @property
    def label(self) -> str:
        return {"product": f"product:{self.id}", "api": f"api:{self.id}"}.get(self.kind, "all-apis")


def new_sid() -> str:
    """A fresh subscription id shaped like the ones APIM's portal generates (24 hex)."""
    return secrets.token_hex(12)


def parse_state(value: str, *, allowed: tuple[str, ...] | None = None) -> str:
    """Validate a state name given by a person; ``allowed`` narrows the set (create)."""
    valid = allowed or tuple(s.value for s in SubscriptionState)
    norm = (value or "").strip().lower()
    if norm not in valid:
        raise UsageError(f"'{value}' is not a subscription state here.", f"Use one of: {', '.join(valid)}.")
    return norm


def diff_fields(before: Subscription, after: Subscription) -> dict[str, list[Any]]:
    """``{"state": ["active", "suspended"], ...}`` for the fields people change; for journals and previews."""
    out: dict[str, list[Any]] = {}
    a, b = subscription_row(before), subscription_row(after)
    for name in ("display_name", "state", "expiration_date", "state_comment"):
        if a.get(name) != b.get(name):
            out[name] = [_jsonable(a.get(name)), _jsonable(b.get(name))]
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


def _same_instant(a: datetime | None, b: datetime | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs((a - b).total_seconds()) < 1


class LifecycleService:
    """Create, change, delete and sweep subscriptions through one ``ServiceContext``."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    @property
    def backend(self):
        return self.ctx.backend

    # -- lookups ---------------------------------------------------------------------------
    def resolve_scope(self, *, product: str | None = None, api: str | None = None,
                      all_apis: bool = False) -> ScopeChoice:
        """Check that the product or API exists; the message names the one that does not."""
        given = [x for x in (product, api, "all" if all_apis else None) if x]
        if len(given) != 1:
            raise UsageError("Give exactly one scope.", "Use --product ID, --api ID or --all-apis.")
        if product:
            try:
                return ScopeChoice("product", self.backend.get_product(product).name)
            except NotFoundError:
                raise NotFoundError(f"There is no product '{product}'.",
                                    "List products with `aiconsole products list` or pick one in the console.") from None
        if api:
            try:
                return ScopeChoice("api", self.backend.get_api(api).name)
            except NotFoundError:
                raise NotFoundError(f"There is no API '{api}'.",
                                    "List APIs with `aiconsole apis list` or pick one in the console.") from None
        return ScopeChoice("all_apis")

    def resolve_owner(self, who: str) -> User:
        """A user by id, by ARM id (``.../users/ID``) or by email (exactly one match)."""
        who = (who or "").strip()
        if not who:
            raise UsageError("The owner is empty.", "Give a user id or an email address.")
        if "@" in who:
            users = self.backend.list_users(odata_filter=f"email eq {odata_quote(who)}")
            matches = [u for u in users if (u.email or "").lower() == who.lower()] or users
            if len(matches) == 1:
                return matches[0]
            if not matches:
                raise NotFoundError(f"There is no user with the email '{who}'.",
                                    "Check the address or give the user id.")
            raise UsageError(f"More than one user has the email '{who}'.", "Give the user id instead.")
        uid = who.rstrip("/").rsplit("/", 1)[-1]
        try:
            return self.backend.get_user(uid)
        except NotFoundError:
            raise NotFoundError(f"There is no user '{uid}'.", "Check the id, or give the user's email.") from None

    def search_users(self, text: str, *, limit: int = 50) -> list[User]:
        """Users whose name or email contains ``text`` (for the owner picker)."""
        text = (text or "").strip()
        flt = None
        if text:
            q = odata_quote(text)
            flt = f"contains(firstName, {q}) or contains(lastName, {q}) or contains(email, {q})"
        try:
            users = self.backend.list_users(odata_filter=flt)
        except UsageError:
            users = self.backend.list_users()
        low = text.lower()
        if low:
            users = [u for u in users if low in f"{u.first_name} {u.last_name} {u.email} {u.name}".lower()] or users
        return users[:limit]

    def _arm_prefix(self) -> str:
        """The service's ARM id, so scope and owner are sent in the long form APIM documents."""
        try:
            return (self.backend.get_service().id or "").rstrip("/")
        except Exception:  # noqa: BLE001 - the short form works too; the long one is just canonical
            return ""

    # -- create ----------------------------------------------------------------------------
    def create(self, *, display_name: str, scope: ScopeChoice, owner: User | None = None, state: str = "submitted",
               expires: datetime | None = None, sid: str | None = None, reason: str | None = None,
               confirm_name: str | None = None, read_keys: bool = True) -> tuple[Subscription, KeyPair | None]:
        """Create a subscription and return it with its keys (``None`` if they cannot be read).

        ``create_or_update`` is a PUT that would silently replace an existing subscription, so
        a taken id is detected first and refused (409) instead of overwritten.
        """
        display_name = (display_name or "").strip()
        if not display_name:
            raise UsageError("The display name is empty.", "Give --display-name NAME.")
        state = parse_state(state, allowed=CREATE_STATES)
        sid = (sid or "").strip() or new_sid()
        if not all(c.isalnum() or c in "-_." for c in sid) or len(sid) > 256:
            raise UsageError(f"'{sid}' is not a valid subscription id.", "Use letters, digits, '-', '_' or '.'.")
        try:
            self.backend.get_subscription(sid)
        except NotFoundError:
            pass
        else:
            raise ConflictError(f"A subscription with the id '{sid}' already exists.",
                                "Pick another --id, or leave it out to get a generated one.")
        prefix = self._arm_prefix()
        scope_path = f"{prefix}/products/{scope.id}" if scope.kind == "product" else (
            f"{prefix}/apis/{scope.id}" if scope.kind == "api" else f"{prefix}/apis")
        owner_path = f"{prefix}/users/{owner.name}" if owner is not None else None
        target = f"subscription:{sid}"
        planned = {"display_name": display_name, "scope": scope.label, "owner": owner.name if owner else None,
                   "state": state, "expiration_date": _jsonable(expires)}
        keys: KeyPair | None = None
        with self.ctx.write("subs.create", target, reason=reason, confirm_name=confirm_name, before=None) as rec:
            rec.extra["planned"] = planned
            sub = self.backend.create_subscription(sid, display_name=display_name, scope_path=scope_path,
                                                   owner_id=owner_path, state=state, expiration_date=expires)
            after = subscription_row(sub)
            if read_keys:
                try:
                    keys = self.backend.list_secrets(sid)
                    after["key_fingerprints"] = keys.fingerprints()
                except Exception:  # noqa: BLE001 - created fine; the caller reports keys as unavailable
                    keys = None
            rec.after = {k: _jsonable(v) for k, v in after.items()}
        return sub, keys

    # -- change ----------------------------------------------------------------------------
    def plan_update(self, sub: Subscription, *, state: str | None = None, display_name: str | None = None,
                    expires: datetime | None = None, clear_expiry: bool = False,
                    comment: str | None = None) -> dict[str, Any]:
        """The SDK fields that would change (empty when nothing would)."""
        fields: dict[str, Any] = {}
        if state is not None:
            state = parse_state(state)
            if state != sub.state.value:
                fields["state"] = state
        if display_name is not None:
            if not display_name.strip():
                raise UsageError("The display name is empty.")
            if display_name != sub.display_name:
                fields["display_name"] = display_name
        if clear_expiry and expires is not None:
            raise UsageError("Give a date or 'none' for --expires, not both.")
        if clear_expiry and sub.expiration_date is not None:
            fields["expiration_date"] = None
        if expires is not None and not _same_instant(expires, sub.expiration_date):
            fields["expiration_date"] = expires
        if comment is not None and comment != (sub.state_comment or ""):
            fields["state_comment"] = comment
        return fields

    def update(self, sid: str, *, state: str | None = None, display_name: str | None = None,
               expires: datetime | None = None, clear_expiry: bool = False, comment: str | None = None,
               if_match: str | None = None, reason: str | None = None, confirm_name: str | None = None,
               action: str = "subs.set", current: Subscription | None = None
               ) -> tuple[Subscription, dict[str, list[Any]]]:
        """Change a subscription with ``If-Match``; returns it and what changed (empty: nothing to do).

        ``if_match`` is the ETag the caller decided on (the TUI's row, a script's read); without
        it the subscription is read fresh right before the write (``current`` passes a read the
        caller just made). Either way a concurrent change gives a ``PreconditionFailedError``
        and nothing is written.
        """
        if current is None:
            current = self.backend.get_subscription(sid)
        etag = if_match or current.etag or "*"
        if if_match and current.etag and _etag_norm(if_match) != _etag_norm(current.etag):
            # Checked here as well as by the server so the journal and the message say why.
            with self.ctx.write(action, f"subscription:{sid}", reason=reason, confirm_name=confirm_name,
                                before={"etag": if_match}) as rec:
                rec.extra["current_etag"] = current.etag
                raise PreconditionFailedError(
                    f"Subscription '{sid}' was changed by someone else since it was read; nothing was changed.",
                    "Reload it (`aiconsole subs show`), review the change, and try again.")
        fields = self.plan_update(current, state=state, display_name=display_name, expires=expires,
                                  clear_expiry=clear_expiry, comment=comment)
        if not fields:
            return current, {}
        before = {k: _jsonable(v) for k, v in subscription_row(current).items() if k in _CHANGEABLE}
        with self.ctx.write(action, f"subscription:{sid}", reason=reason, confirm_name=confirm_name,
                            before=before) as rec:
            try:
                updated = self._patch(sid, etag, fields)
            except PreconditionFailedError:
                raise PreconditionFailedError(
                    f"Subscription '{sid}' was changed by someone else since it was read; nothing was changed.",
                    "Reload it (`aiconsole subs show`), review the change, and try again.") from None
            changes = diff_fields(current, updated)
            rec.after = {k: _jsonable(v) for k, v in subscription_row(updated).items() if k in _CHANGEABLE}
        return updated, changes

    def _patch(self, sid: str, etag: str, fields: dict[str, Any]) -> Subscription:
        """PATCH through the port; clearing the expiry date needs an explicit JSON ``null``."""
        if "expiration_date" in fields and fields["expiration_date"] is None:
            fields = dict(fields)
            fields.pop("expiration_date")
            sub = _clear_expiry(self.backend, sid, etag)
            if not fields:
                return sub
            etag = sub.etag or etag
        return self.backend.update_subscription(sid, etag=etag, **fields)

    def delete(self, sid: str, *, if_match: str | None = None, reason: str | None = None,
               confirm_name: str | None = None) -> Subscription:
        """Delete with ``If-Match`` from a fresh read (or the caller's ETag); returns what was deleted."""
        current = self.backend.get_subscription(sid)
        etag = if_match or current.etag or "*"
        before = {k: _jsonable(v) for k, v in subscription_row(current).items()}
        with self.ctx.write("subs.delete", f"subscription:{sid}", reason=reason, confirm_name=confirm_name,
                            before=before) as rec:
            try:
                self.backend.delete_subscription(sid, etag=etag)
            except PreconditionFailedError:
                raise PreconditionFailedError(
                    f"Subscription '{sid}' was changed by someone else since it was read; it was not deleted.",
                    "Reload it, review the change, and try again.") from None
            rec.after = None
        return current

    # -- expiry sweep ----------------------------------------------------------------------
    def expiring(self, within: timedelta, *, now: datetime | None = None) -> list[dict[str, Any]]:
        """Subscriptions (not yet ended) whose expiry date is past or within ``within``, soonest first.

        APIM never enforces ``expirationDate``; this is how the console does.
        """
        now = now or utcnow()
        try:
            horizon = now + within
        except OverflowError:  # "within 1000000w": everything with an expiry date
            horizon = datetime.max.replace(tzinfo=now.tzinfo)
        rows = []
        for page in self.backend.iter_subscription_pages():
            for sub in page:
                if sub.expiration_date is None or sub.state.value in ENDED_STATES:
                    continue
                exp = sub.expiration_date
                if exp.tzinfo is None:
                    from datetime import timezone

                    exp = exp.replace(tzinfo=timezone.utc)
                if exp > horizon:
                    continue
                row = subscription_row(sub)
                row["status"] = "expired" if exp <= now else "expiring"
                row["expires_in_seconds"] = int((exp - now).total_seconds())
                rows.append(row)
        rows.sort(key=lambda r: r["expires_in_seconds"])
        return rows


_CHANGEABLE = ("display_name", "state", "expiration_date", "state_comment")


def _etag_norm(value: str) -> str:
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"')


def _clear_expiry(backend, sid: str, etag: str) -> Subscription:
    """Clear ``expirationDate`` (a PATCH with an explicit null; see the adapter)."""
    clear = getattr(backend, "clear_subscription_expiration", None)
    if not callable(clear):
        raise UsageError("This connection cannot clear an expiry date.")
    return clear(sid, etag=etag)


def created_json(sub: Subscription, keys: KeyPair | None, *, show_keys: bool) -> dict[str, Any]:
    """The JSON of ``subs create``: the ``subs list`` row plus keys (clear only with ``--show-keys``)."""
    row = subscription_row(sub)
    row["etag"] = sub.etag
    if keys is None:
        row["keys"] = None
    elif show_keys:
        row["keys"] = {"primary_key": keys.primary_key.get_secret_value(),
                       "secondary_key": keys.secondary_key.get_secret_value()}
    else:
        row["keys"] = {"primary_key": keys.masked()["primary_key"], "secondary_key": keys.masked()["secondary_key"]}
    row["key_fingerprints"] = keys.fingerprints() if keys is not None else None
    return row


__all__ = [
    "CREATE_STATES",
    "LifecycleService",
    "ScopeChoice",
    "created_json",
    "diff_fields",
    "fingerprint",
    "new_sid",
    "parse_state",
]
