"""``aiconsole subs``: list, show, create, change, delete subscriptions, and the expiry sweep.

Writes read the subscription fresh and send its ETag (``If-Match``); a concurrent change
fails with exit 1 and a clear message instead of being overwritten. Every write accepts
``--yes`` (no question asked), ``--confirm SERVICE`` (production profiles) and ``--reason``.
Bulk changes (``subs set --filter EXPR``) print a dry-run table with ``--dry-run`` and resume
after an interruption when the same command is run again.
"""

from __future__ import annotations

import argparse
import sys

LIST_COLUMNS = ["name", "display_name", "state", "scope", "owner", "created_date", "expiration_date"]
EXPIRING_COLUMNS = ["name", "display_name", "state", "status", "scope", "owner", "expiration_date"]
BULK_COLUMNS = ["name", "display_name", "state", "scope", "owner", "change"]
RESULT_COLUMNS = ["name", "result", "state_before", "state_after", "attempts", "error"]


def _write_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--yes", action="store_true", help="do it without asking")
    p.add_argument("--confirm", metavar="SERVICE", help="the service name, required on production profiles")
    p.add_argument("--reason", metavar="TEXT", help="reason or ticket, recorded in the audit journal")


def _bulk_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dry-run", action="store_true", help="with --filter: print what would change, change nothing")
    p.add_argument("--concurrency", type=int, default=8, choices=range(1, 33), metavar="N",
                   help="with --filter: parallel requests (8; 1-32)")
    p.add_argument("--max-writes-per-second", type=float, default=10.0, metavar="R",
                   help="with --filter: ARM write budget (10/s after a burst of 200; 0 = only honour 429)")
    p.add_argument("--restart", action="store_true", help="with --filter: discard an unfinished run instead of resuming")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("subs", help="list, show and change subscriptions")
    actions = p.add_subparsers(dest="subs_command", metavar="ACTION", required=True)

    ls = actions.add_parser("list", help="list subscriptions (json: name, display_name, state, scope, owner_id, ...)")
    ls.add_argument("--filter", metavar="TEXT", help="display name contains TEXT (server-side)")
    ls.add_argument("--state", metavar="STATE", help="active, suspended, submitted, rejected, cancelled or expired")
    ls.add_argument("--product", metavar="ID", help="only subscriptions to this product")
    ls.add_argument("--owner", metavar="USER_ID", help="only subscriptions owned by this user id")
    ls.set_defaults(handler=run_list)

    show = actions.add_parser("show", help="one subscription, with its product or API resolved")
    show.add_argument("sid", metavar="SID")
    show.set_defaults(handler=run_show)

    create = actions.add_parser("create", help="issue a subscription on a product, an API or all APIs")
    create.add_argument("--display-name", required=True, metavar="NAME")
    scope = create.add_mutually_exclusive_group(required=True)
    scope.add_argument("--product", metavar="ID", help="scope: this product")
    scope.add_argument("--api", metavar="ID", help="scope: this API")
    scope.add_argument("--all-apis", action="store_true", help="scope: every API")
    create.add_argument("--owner", metavar="USER_ID_OR_EMAIL", help="the user who owns it")
    create.add_argument("--state", default="submitted", choices=["active", "submitted"],
                        help="initial state (APIM's default: submitted)")
    create.add_argument("--expires", metavar="DATE", help="expiry date: YYYY-MM-DD, ISO date-time or +30d")
    create.add_argument("--id", dest="sid", metavar="SID", help="subscription id (generated when left out)")
    create.add_argument("--show-keys", action="store_true", help="print the keys in clear (for piping into a vault)")
    _write_flags(create)
    create.set_defaults(handler=run_create)

    st = actions.add_parser("set", help="change state, display name, expiry or state comment (one SID, or --filter)")
    st.add_argument("sid", metavar="SID", nargs="?")
    st.add_argument("--filter", dest="expr", metavar="EXPR",
                    help="bulk: product:ID owner:USER state:S name~TEXT (combine with spaces or commas)")
    st.add_argument("--state", metavar="STATE", help="active, suspended, submitted, rejected, cancelled or expired")
    st.add_argument("--display-name", metavar="NAME")
    st.add_argument("--expires", metavar="DATE|none", help="YYYY-MM-DD, ISO date-time, +30d, or none to clear")
    st.add_argument("--comment", metavar="TEXT", help="state comment (shown to the developer)")
    st.add_argument("--if-match", metavar="ETAG", help="only if the subscription still has this ETag")
    _write_flags(st)
    _bulk_flags(st)
    st.set_defaults(handler=run_set)

    rm = actions.add_parser("delete", help="delete a subscription (its keys stop working at once)")
    rm.add_argument("sid", metavar="SID")
    rm.add_argument("--if-match", metavar="ETAG", help="only if the subscription still has this ETag")
    _write_flags(rm)
    rm.set_defaults(handler=run_delete)

    ex = actions.add_parser("expiring", help="subscriptions past or near their expiry date (APIM does not enforce it)")
    ex.add_argument("--within", default="7d", metavar="DURATION", help="how far ahead to look (default 7d)")
    ex.add_argument("--suspend-expired", action="store_true", help="suspend the active ones that have expired")
    _write_flags(ex)
    ex.add_argument("--concurrency", type=int, default=8, metavar="N", help=argparse.SUPPRESS)
    ex.add_argument("--max-writes-per-second", type=float, default=10.0, metavar="R", help=argparse.SUPPRESS)
    ex.add_argument("--restart", action="store_true", help=argparse.SUPPRESS)
    ex.set_defaults(handler=run_expiring)


def _service(ctx):
    from aiconsole.services.subscriptions import SubscriptionService

    return SubscriptionService(ctx.services)


def _lifecycle(ctx):
    from aiconsole.services.lifecycle import LifecycleService

    return LifecycleService(ctx.services)


def run_list(ctx) -> int:
    from aiconsole.services.subscriptions import subscription_row

    a = ctx.args
    subs = _service(ctx).list(text=a.filter, state=a.state, product=a.product, owner=a.owner)
    ctx.emit([subscription_row(s) for s in subs], columns=LIST_COLUMNS)
    return 0


def run_show(ctx) -> int:
    ctx.emit(_service(ctx).describe(ctx.args.sid))
    return 0


def _label(sub) -> str:
    from aiconsole.domain.text import sanitize

    return f"{sub.name} ({sanitize(sub.display_name, max_length=60)})" if sub.display_name else sub.name


def run_create(ctx) -> int:
    from aiconsole.services.durations import parse_date
    from aiconsole.services.lifecycle import created_json

    a = ctx.args
    life = _lifecycle(ctx)
    expires = parse_date(a.expires) if a.expires else None
    scope = life.resolve_scope(product=a.product, api=a.api, all_apis=a.all_apis)
    owner = life.resolve_owner(a.owner) if a.owner else None
    question = f"Create subscription '{a.display_name}' on {scope.label}" + (f" for {owner.name}" if owner else "")
    ctx.services.confirm_hook = lambda _record: ctx.confirm(question, yes=a.yes)
    sub, keys = life.create(display_name=a.display_name, scope=scope, owner=owner, state=a.state, expires=expires,
                            sid=a.sid, reason=a.reason, confirm_name=ctx.confirm_name)
    ctx.emit(created_json(sub, keys, show_keys=a.show_keys))
    return 0


def _parse_expires(value: str | None):
    from aiconsole.services.durations import parse_date

    if value is None:
        return None, False
    if value.strip().lower() in ("none", "never", ""):
        return None, True
    return parse_date(value), False


def run_set(ctx) -> int:
    from aiconsole.domain.errors import UsageError

    a = ctx.args
    if a.expr:
        if a.sid:
            raise UsageError("Give a SID or --filter, not both.")
        if a.state is None or a.display_name is not None or a.expires is not None or a.if_match:
            raise UsageError("With --filter, give --state (and optionally --comment).",
                             "Display names, expiry dates and ETags are changed one subscription at a time.")
        return _run_bulk_set(ctx)
    if not a.sid:
        raise UsageError("Which subscription?", "Give a SID, or --filter EXPR for many.")
    if a.dry_run:
        raise UsageError("--dry-run goes with --filter.")
    if a.state is None and a.display_name is None and a.expires is None and a.comment is None:
        raise UsageError("Nothing to change.", "Give --state, --display-name, --expires or --comment.")
    expires, clear = _parse_expires(a.expires)
    life = _lifecycle(ctx)
    current = life.backend.get_subscription(a.sid)
    fields = life.plan_update(current, state=a.state, display_name=a.display_name, expires=expires,
                              clear_expiry=clear, comment=a.comment)
    if not fields and not a.if_match:
        from aiconsole.services.subscriptions import subscription_row

        row = subscription_row(current)
        row["etag"] = current.etag
        row["changes"] = {}
        ctx.emit(row)
        return 0
    what = ", ".join(f"{k} → {'(none)' if v is None else v}" for k, v in fields.items()) or "nothing"
    question = f"Change {_label(current)}: {what}"
    ctx.services.confirm_hook = lambda _record: ctx.confirm(question, yes=a.yes)
    updated, changes = life.update(a.sid, state=a.state, display_name=a.display_name, expires=expires,
                                   clear_expiry=clear, comment=a.comment, if_match=a.if_match or current.etag,
                                   reason=a.reason, confirm_name=ctx.confirm_name,
                                   current=None if a.if_match else current)
    from aiconsole.services.subscriptions import subscription_row

    row = subscription_row(updated)
    row["etag"] = updated.etag
    row["changes"] = changes
    ctx.emit(row)
    return 0


def run_delete(ctx) -> int:
    a = ctx.args
    life = _lifecycle(ctx)
    current = life.backend.get_subscription(a.sid)
    question = f"Delete {_label(current)}; its keys stop working at once"
    ctx.services.confirm_hook = lambda _record: ctx.confirm(question, yes=a.yes)
    deleted = life.delete(a.sid, if_match=a.if_match or current.etag, reason=a.reason,
                          confirm_name=ctx.confirm_name)
    ctx.emit({"name": deleted.name, "deleted": True})
    return 0


def run_expiring(ctx) -> int:
    from aiconsole.services.durations import parse_duration

    a = ctx.args
    rows = _lifecycle(ctx).expiring(parse_duration(a.within))
    if not a.suspend_expired:
        ctx.emit(rows, columns=EXPIRING_COLUMNS)
        return 0
    names = sorted(r["name"] for r in rows if r["status"] == "expired" and r["state"] == "active")
    return run_bulk(ctx, "set", state="suspended", comment="expired", selection="expired:" + ",".join(names),
                    items=lambda: names, dry_run=False)


def _run_bulk_set(ctx) -> int:
    a = ctx.args
    return run_bulk(ctx, "set", state=a.state, comment=a.comment, expr=a.expr, dry_run=a.dry_run)


# --------------------------------------------------------------------------- bulk (shared with keys)


def run_bulk(ctx, kind: str, *, state: str | None = None, slot: str | None = None, comment: str | None = None,
             expr: str | None = None, selection: str | None = None, items=None, dry_run: bool = False) -> int:
    """Select, preview or run a bulk action; prints per-item results; exit 1 if any item failed."""
    from aiconsole.services import bulk

    a = ctx.args
    svc = ctx.services
    if kind == "set":
        action = bulk.SetStateAction(svc, state, comment=comment, reason=a.reason, confirm_name=ctx.confirm_name)
        verb = f"set the state to {action.state} on"
    else:
        action = bulk.RotateSlotAction(svc, slot, reason=a.reason, confirm_name=ctx.confirm_name)
        verb = f"regenerate the {slot} key of"
    selected = None
    if expr is not None:
        parsed = bulk.parse_filter(expr)
        selection = "filter:" + parsed.text

        def items():  # noqa: F811 - the filter's selection, resolved only for a new run
            nonlocal selected
            selected = selected if selected is not None else bulk.select(svc, parsed)
            return [s.name for s in selected]

        if dry_run:
            selected = bulk.select(svc, parsed)
            ctx.emit(bulk.preview_rows(action, selected), columns=BULK_COLUMNS)
            return 0
    assert selection is not None and items is not None
    budget = bulk.WriteBudget(rate=getattr(a, "max_writes_per_second", 10.0))
    runner = bulk.BulkRunner(svc, action, concurrency=getattr(a, "concurrency", 8), budget=budget,
                             on_progress=_progress_printer())
    svc.check_writable(verb, "subscriptions", confirm_name=ctx.confirm_name)
    names, prior = runner.open(selection, items, restart=getattr(a, "restart", False))
    if not names:
        ctx.emit([], columns=RESULT_COLUMNS)
        return 0
    left = len(names) - (len(prior.finished) if prior else 0)
    resumed = f" (resuming: {len(names) - left} already done)" if prior else ""
    ctx.confirm(f"{verb[0].upper()}{verb[1:]} {left} subscription(s){resumed}", yes=a.yes)
    results = runner.run(names, prior)
    columns = RESULT_COLUMNS if kind == "set" else ["name", "result", "slot", "fingerprint_before",
                                                    "fingerprint_after", "attempts", "error"]
    ctx.emit([r.as_json() for r in results], columns=columns)
    failed = sum(r.result == "failed" for r in results)
    if failed:
        sys.stderr.write(f"{failed} of {len(results)} failed; run the same command again to retry them.\n")
        return 1
    return 0


def _progress_printer():
    """A one-line progress bar on stderr, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        return None

    def show(p) -> None:
        width = 30
        filled = int(width * p.done / p.total) if p.total else width
        extra = f"  throttled {p.throttled}" if p.throttled else ""
        sys.stderr.write(f"\r[{'#' * filled}{'-' * (width - filled)}] {p.done}/{p.total}  ok {p.ok}"
                         f"  failed {p.failed}{extra}")
        if p.done >= p.total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show
