"""Changing limits safely: plan → diff → write with If-Match → journal; 412 and undo.

Every change is a ``PolicyEdit``: the scope, the text and ETag it was computed from, the new
text, and the *function* that produced it. Keeping the function is what makes a 412 humane:
when someone else changed the policy in between, the same edit can be re-applied to the new
version (and shown as a fresh diff) instead of overwriting their change or starting over.

Undo re-applies the previous text of the last write made from this machine, itself with the
ETag that write returned, so an undo never clobbers a later change either.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from aiconsole.config import paths
from aiconsole.services import durations
from aiconsole.domain.errors import NotFoundError, PreconditionFailedError, UsageError
from aiconsole.domain.models import PolicyDocument, PolicyScope
from aiconsole.policy.diff import unified_diff
from aiconsole.policy.edit import set_attributes
from aiconsole.policy.limits import TOKEN_LIMIT_POLICIES
from aiconsole.policy.overrides import add_override, cleanup_expired, list_overrides, remove_override
from aiconsole.policy.validate import raise_for_errors, validate_document
from aiconsole.services.limits import LimitsService, ScopedLimit

Edit = Callable[[str, str], str]  # (text, form) -> new text

def parse_duration(text: str) -> timedelta:
    """``2h``, ``90m``, ``1h30m``, ``7d``, ``45s`` → a positive timedelta (``durations.parse_duration``)."""
    delta = durations.parse_duration(text)
    if delta <= timedelta(0):
        raise UsageError(f"'{text}' is not a positive duration.")
    return delta


def parse_until(text: str, now: datetime) -> datetime:
    """``--until``: a duration from now, or an ISO-8601 instant (UTC if no zone is given)."""
    text = (text or "").strip()
    if not text:
        raise UsageError("--until needs a value.", "Use a duration like 2h or an ISO-8601 UTC instant.")
    if text[0].isdigit() and ("-" in text or "T" in text):
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(f"'{text}' is not an ISO-8601 instant.", "Example: 2026-11-24T14:00:00Z") from None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        until = value.astimezone(timezone.utc)
    else:
        try:
            until = now + parse_duration(text)
        except OverflowError:
            raise UsageError(f"'{text}' is too far in the future.", "Use a duration like 2h or a UTC instant.") from None
    if until <= now:
        raise UsageError(f"{until.isoformat()} is not in the future.")
    return until.replace(microsecond=0)


@dataclass
class PolicyEdit:
    """A computed change to one policy document, not yet written."""

    action: str  # journal action, e.g. "limits.set"
    scope: PolicyScope
    before: str
    after: str
    etag: str | None
    fmt: str
    edit: Edit
    description: str
    summary_before: dict[str, Any]
    summary_after: dict[str, Any]
    override_id: str | None = None

    @property
    def diff(self) -> str:
        return unified_diff(self.before, self.after, label=f"{self.scope.label} policy")

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "scope": self.scope.label,
            "description": self.description,
            "before": self.summary_before,
            "after": self.summary_after,
            "override_id": self.override_id,
            "diff": self.diff,
        }


class PolicyConflictError(PreconditionFailedError):
    """412: the policy changed on the server since we read it. Carries both sides."""

    def __init__(self, edit: PolicyEdit, server: PolicyDocument | None) -> None:
        super().__init__(
            f"The {edit.scope.label} policy was changed by someone else since it was read; nothing was written.",
            "Review what changed on the server, then re-apply the edit to the new version or drop it.",
        )
        self.edit = edit
        self.server = server

    @property
    def server_diff(self) -> str:
        """What the other writer changed (our base → the server's current text)."""
        now = self.server.xml if self.server else ""
        return unified_diff(self.edit.before, now, label=f"{self.edit.scope.label} (server)")


def _raise_for_new_errors(before: str, after: str, fmt: str, what: str) -> None:
    """Refuse an edit that introduces an error; problems the document already had (a ``{tpm}``
    placeholder left by a template, say) are the author's and do not block unrelated edits."""
    old = {str(p) for p in validate_document(before, form=fmt) if p.severity == "error"} if before else set()
    raise_for_errors([p for p in validate_document(after, form=fmt) if str(p) not in old], what)


def _limit_summary(sl: ScopedLimit | None, text: str | None = None, fmt: str = "xml") -> dict[str, Any]:
    if sl is None:
        return {}
    lim = sl.limit
    return {
        "policy": lim.policy,
        "tokens_per_minute": lim.tokens_per_minute.to_json() if lim.tokens_per_minute else None,
        "token_quota": lim.token_quota.to_json() if lim.token_quota else None,
        "token_quota_period": lim.token_quota_period,
        "overrides": [o.id for o in sl.overrides],
    }


def _pick(scope: PolicyScope, limits: list[ScopedLimit], *, policy: str | None, index: int | None) -> ScopedLimit:
    """The one limit at ``scope`` an edit means, refusing (and naming them) when it is ambiguous."""
    cands = [sl for sl in limits if sl.limit.section == "inbound" or sl.limit.section is None]
    if policy:
        cands = [sl for sl in cands if sl.limit.policy == policy]
    if index is not None:
        cands = [sl for sl in cands if sl.limit.index == index]
    if not cands:
        what = f" {policy}" if policy else ""
        raise NotFoundError(f"There is no{what} limit in the {scope.label} policy.", "See `aiconsole limits list`.")
    if len(cands) > 1:
        names = "; ".join(f"--index {sl.limit.index} ({sl.limit.policy} at line {sl.limit.line})" for sl in cands)
        raise UsageError(f"The {scope.label} policy has {len(cands)} limits; say which one.", f"Pick with {names}.")
    return cands[0]


class LimitWriter:
    """Plans and applies limit edits for one service."""

    def __init__(self, limits: LimitsService, *, author: str | None = None) -> None:
        self.limits = limits
        self.ctx = limits.ctx
        self.author = author or self.ctx.principal or _local_user()

    # -- planning ---------------------------------------------------------------------------
    def _plan(self, action: str, scope: PolicyScope, edit: Edit, description: str, *,
              locate: Callable[[list[ScopedLimit]], ScopedLimit | None] | None = None,
              override_id: str | None = None) -> PolicyEdit:
        doc, found = self.limits.limits_at(scope)
        after = edit(doc.xml, doc.format)
        _raise_for_new_errors(doc.xml, after, doc.format, f"The edited {scope.label} policy")
        before_sl = locate(found) if locate else None
        after_found = LimitsService.limits_in(PolicyDocument(scope=scope, xml=after, format=doc.format, etag=None))
        after_sl = None
        if before_sl is not None:
            after_sl = next((s for s in after_found if s.limit.index == before_sl.limit.index), None)
        return PolicyEdit(action, scope, doc.xml, after, doc.etag, doc.format, edit, description,
                          _limit_summary(before_sl), _limit_summary(after_sl), override_id)

    def plan_set(self, scope: PolicyScope, *, tpm: int | None = None, quota: int | None = None,
                 period: str | None = None, policy: str | None = None, index: int | None = None) -> PolicyEdit:
        """Edit the one limit at ``scope`` (its base value when it carries overrides)."""
        if tpm is None and quota is None and period is None:
            raise UsageError("Nothing to change.", "Give --tpm, or --quota with --period.")
        _, found = self.limits.limits_at(scope)
        target = _pick(scope, found, policy=policy, index=index)
        changes: dict[str, str | None] = {}
        if target.limit.policy in TOKEN_LIMIT_POLICIES:
            if tpm is not None:
                changes["tokens-per-minute"] = str(tpm)
            if quota is not None:
                changes["token-quota"] = str(quota)
                if period is None and not target.limit.token_quota_period:
                    raise UsageError("A token quota needs a period.", "Add --period Hourly|Daily|Weekly|Monthly|Yearly.")
            if period is not None:
                changes["token-quota-period"] = period
        else:
            if tpm is not None or period is not None:
                raise UsageError(f"The {target.limit.policy} limit counts calls, not tokens.",
                                 "Use --quota N to change its calls.")
            changes["calls"] = str(quota)
        idx = target.limit.index
        parts = [f"{k}={v}" for k, v in changes.items()]
        return self._plan("limits.set", scope, lambda text, form: set_attributes(text, idx, changes, form=form),
                          f"Set {', '.join(parts)} on the {target.limit.policy} at {scope.label}",
                          locate=lambda ls: next((s for s in ls if s.limit.index == idx), None))

    def plan_override(self, *, subscription: str | None = None, product: str | None = None,
                      tpm: int | None = None, quota: int | None = None, until: datetime,
                      reason: str = "") -> PolicyEdit:
        """Raise the limit that binds a subscription (or product) until ``until``; the gateway reverts it."""
        if tpm is None and quota is None:
            raise UsageError("An override needs --tpm or --quota.")
        chain = self.limits.effective(subscription=subscription, product=product)
        binding = chain.binding
        if binding is None:
            raise NotFoundError(f"No token limit binds {chain.subject_kind} {chain.subject}; there is nothing to raise.")
        scope, idx = binding.scope, binding.limit.index
        now = self.limits.now()
        subject = chain.subject
        kind = chain.subject_kind

        chosen: list[str] = []  # the id of the first computation, so a re-apply after a 412 writes the same one

        def edit(text: str, form: str) -> str:
            added = add_override(
                text, idx, until=until, form=form,
                subscription=subject if kind == "subscription" else None,
                product=subject if kind == "product" else None,
                tokens_per_minute=tpm, token_quota=quota, author=self.author, reason=reason,
                override_id=chosen[0] if chosen else None, now=now,
            )
            chosen[:1] = [added.id]
            return added.text

        what = ", ".join(p for p in (f"tokens-per-minute={tpm}" if tpm else "", f"token-quota={quota}" if quota else "") if p)
        plan = self._plan(
            "limits.override", scope, edit,
            f"Raise {what} for {kind} {subject} at {scope.label} until {until.isoformat().replace('+00:00', 'Z')}",
            locate=lambda ls: next((s for s in ls if s.limit.index == idx), None),
        )
        plan.override_id = chosen[0]
        return plan

    def find_override(self, override_id: str) -> tuple[PolicyScope, ScopedLimit]:
        for sl in self.limits.list_limits():
            if any(o.id == override_id for o in sl.overrides):
                return sl.scope, sl
        raise NotFoundError(f"There is no override {override_id}.", "See `aiconsole limits list`.")

    def plan_remove_override(self, override_id: str) -> PolicyEdit:
        scope, sl = self.find_override(override_id)
        idx = sl.limit.index
        return self._plan("limits.override.remove", scope, lambda text, form: remove_override(text, override_id, form=form),
                          f"Remove override {override_id} from the {sl.limit.policy} at {scope.label}",
                          locate=lambda ls: next((s for s in ls if s.limit.index == idx), None),
                          override_id=override_id)

    def plan_cleanup(self) -> list[PolicyEdit]:
        """One edit per policy that holds expired overrides."""
        now = self.limits.now()
        plans = []
        by_scope: dict[str, PolicyScope] = {}
        for sl in self.limits.list_limits():
            if any(not o.active_at(now) for o in sl.overrides):
                by_scope[sl.scope.label] = sl.scope
        for scope in by_scope.values():
            doc = self.limits.read(scope)
            expired = [o.id for o in list_overrides(doc.xml, form=doc.format) if not o.active_at(now)]
            plans.append(self._plan("limits.cleanup", scope, lambda text, form: cleanup_expired(text, now, form=form)[0],
                                    f"Remove expired overrides {', '.join(expired)} at {scope.label}"))
        return plans

    # -- applying ---------------------------------------------------------------------------
    def apply(self, plan: PolicyEdit, *, reason: str | None = None, confirm_name: str | None = None) -> PolicyDocument:
        """Write ``plan.after`` with If-Match; journal it; remember it for undo."""
        if not plan.changed:
            raise UsageError("The edit changes nothing; nothing was written.")
        with self.ctx.write(plan.action, f"policy:{plan.scope.label}", reason=reason, confirm_name=confirm_name,
                            before=plan.summary_before) as record:
            record.extra["description"] = plan.description
            if plan.override_id:
                record.extra["override_id"] = plan.override_id
            try:
                written = self.ctx.backend.put_policy(plan.scope, plan.after, etag=plan.etag or "*", fmt=plan.fmt)
            except PreconditionFailedError:
                raise PolicyConflictError(plan, self.limits.read(plan.scope)) from None
            record.after = plan.summary_after
            record.request_id = getattr(self.ctx.backend, "last_request_id", None)
        _save_undo(plan, written.etag)
        return written

    def reapply(self, plan: PolicyEdit) -> PolicyEdit:
        """The same edit, computed again on the server's current version (after a 412)."""
        return self._plan(plan.action, plan.scope, plan.edit, plan.description, override_id=plan.override_id)

    def plan_undo(self) -> PolicyEdit:
        """Put back the text the last write replaced, conditional on nothing having changed since."""
        last = _load_undo()
        if last is None:
            raise NotFoundError("There is no write to undo from this machine.")
        scope = PolicyScope.model_validate(last["scope"])
        current = self.limits.read(scope)
        if current is None or current.etag != last["etag_after"]:
            raise PolicyConflictError(
                PolicyEdit("limits.undo", scope, last["after"], last["before"], last["etag_after"], last["fmt"],
                           lambda _t, _f: last["before"], "Undo the last limit change", {}, {}),
                current,
            )
        previous = last["before"]
        return PolicyEdit("limits.undo", scope, current.xml, previous, current.etag, current.format,
                          lambda _t, _f: previous, f"Undo: {last['description']}", {}, {})


def _undo_path():
    return paths.state_dir() / "limits-undo.json"


def _save_undo(plan: PolicyEdit, etag_after: str | None) -> None:
    """Policy text holds no secrets (keys live elsewhere), so keeping it for undo is safe."""
    path = _undo_path()
    paths.ensure_private_dir(path.parent)
    tmp = path.with_suffix(".tmp")
    data = {"scope": plan.scope.model_dump(), "before": plan.before, "after": plan.after, "fmt": plan.fmt,
            "etag_after": etag_after, "description": plan.description}
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _load_undo() -> dict[str, Any] | None:
    try:
        return json.loads(_undo_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _local_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001
        return "unknown"
