"""``aiconsole limits``: every token limit in force, one subscription's chain, edits and overrides.

Scopes are written ``global``, ``product:ID``, ``api:ID`` or ``operation:API/OP``. Every write
prints its diff first, asks (or takes ``--yes``), writes with If-Match, and is journaled.
"""

from __future__ import annotations

import argparse

from aiconsole.cli.commands.keys import add_write_flags

LIST_COLUMNS = ["scope", "policy", "counter_key", "tokens_per_minute", "token_quota", "token_quota_period", "overrides"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("limits", help="token limits: list, show a subscription's chain, set, override, undo")
    actions = p.add_subparsers(dest="limits_command", metavar="ACTION", required=True)

    ls = actions.add_parser("list", help="every limit in the service with its overrides")
    ls.set_defaults(handler=run_list)

    show = actions.add_parser("show", help="the effective chain of limits for a subscription or product")
    who = show.add_mutually_exclusive_group(required=True)
    who.add_argument("--subscription", metavar="SID")
    who.add_argument("--product", metavar="ID")
    show.set_defaults(handler=run_show)

    st = actions.add_parser("set", help="edit the limit at SCOPE (global, product:ID, api:ID, operation:API/OP)")
    st.add_argument("scope", metavar="SCOPE")
    st.add_argument("--tpm", type=_positive, metavar="N", help="tokens-per-minute")
    st.add_argument("--quota", type=_positive, metavar="N", help="token-quota (calls for quota-by-key)")
    st.add_argument("--period", choices=["Hourly", "Daily", "Weekly", "Monthly", "Yearly"], help="token-quota-period")
    st.add_argument("--policy", metavar="NAME", help="which limit policy, when the scope has several")
    st.add_argument("--index", type=int, metavar="I", help="which limit by index, when the scope has several")
    st.add_argument("--dry-run", action="store_true", help="print the diff and write nothing")
    add_write_flags(st)
    st.set_defaults(handler=run_set)

    ov = actions.add_parser("override", help="raise the binding limit for a while; the gateway reverts it itself")
    who = ov.add_mutually_exclusive_group(required=True)
    who.add_argument("--subscription", metavar="SID")
    who.add_argument("--product", metavar="ID")
    who.add_argument("--remove", metavar="ID", help="remove one override by id")
    ov.add_argument("--tpm", type=_positive, metavar="N")
    ov.add_argument("--quota", type=_positive, metavar="N")
    ov.add_argument("--until", metavar="WHEN", help="a duration (2h, 90m) or an ISO-8601 UTC instant")
    ov.add_argument("--dry-run", action="store_true", help="print the diff and write nothing")
    add_write_flags(ov)
    ov.set_defaults(handler=run_override)

    cl = actions.add_parser("cleanup", help="remove every expired override")
    cl.add_argument("--dry-run", action="store_true")
    add_write_flags(cl)
    cl.set_defaults(handler=run_cleanup)

    un = actions.add_parser("undo", help="put back the policy text the last limit write from here replaced")
    un.add_argument("--dry-run", action="store_true")
    add_write_flags(un)
    un.set_defaults(handler=run_undo)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} is not a positive whole number")
    return value


def _services(ctx):
    from aiconsole.services.limit_writes import LimitWriter
    from aiconsole.services.limits import LimitsService

    limits = LimitsService(ctx.services)
    return limits, LimitWriter(limits)


def run_list(ctx) -> int:
    limits, _ = _services(ctx)
    now = limits.now()
    rows = [sl.to_json(now) for sl in limits.list_limits()]
    if not ctx.json:
        for row in rows:
            row["overrides"] = [f"{o['id']} {o.get('subscription') or o.get('product')} "
                                f"{'active' if o['active'] else 'expired'}" for o in row["overrides"]]
    ctx.emit(rows, columns=LIST_COLUMNS)
    return 0


def run_show(ctx) -> int:
    limits, _ = _services(ctx)
    chain = limits.effective(subscription=ctx.args.subscription, product=ctx.args.product)
    data = chain.to_json()
    if ctx.json:
        ctx.emit(data)
        return 0
    rows = []
    for link in data["chain"]:
        rows.append({
            "binds": "◀ binds" if link["binds"] else "",
            "scope": link["scope"],
            "policy": link["policy"],
            "tpm": link["effective_tokens_per_minute"],
            "quota": link["effective_token_quota"],
            "period": link["token_quota_period"],
            "shared": link["shared"],
            "override": (link["override"] or {}).get("id"),
        })
    ctx.emit(rows, title=f"{chain.subject_kind} {chain.subject}: {len(rows)} limits apply")
    return 0


def _write(ctx, plan, *, dry_run: bool, writer) -> int:
    """Show the diff; unless a dry run, confirm and write; a 412 shows both sides."""
    import sys

    from aiconsole.services.limit_writes import PolicyConflictError

    a = ctx.args
    if not ctx.json:
        sys.stdout.write(plan.description + "\n" + plan.diff + "\n")
    if dry_run:
        if ctx.json:
            ctx.emit({**plan.to_json(), "written": False, "dry_run": True})
        return 0
    ctx.services.confirm_hook = lambda _record: ctx.confirm(plan.description, yes=a.yes)
    try:
        written = writer.apply(plan, reason=a.reason, confirm_name=ctx.confirm_name)
    except PolicyConflictError as conflict:
        sys.stderr.write("Changed on the server since it was read:\n" + conflict.server_diff + "\n")
        sys.stderr.write("The edit that was not written:\n" + plan.diff + "\n")
        raise
    if ctx.json:
        ctx.emit({**plan.to_json(), "written": True, "etag": written.etag})
    else:
        sys.stdout.write("written.\n")
    return 0


def run_set(ctx) -> int:
    from aiconsole.domain.models import PolicyScope

    a = ctx.args
    _, writer = _services(ctx)
    plan = writer.plan_set(PolicyScope.parse(a.scope), tpm=a.tpm, quota=a.quota, period=a.period,
                           policy=a.policy, index=a.index)
    return _write(ctx, plan, dry_run=a.dry_run, writer=writer)


def run_override(ctx) -> int:
    from aiconsole.domain.errors import UsageError
    from aiconsole.services.limit_writes import parse_until

    a = ctx.args
    limits, writer = _services(ctx)
    if a.remove:
        if a.tpm or a.quota or a.until:
            raise UsageError("--remove takes only the override id.")
        plan = writer.plan_remove_override(a.remove)
        return _write(ctx, plan, dry_run=a.dry_run, writer=writer)
    if not (a.tpm or a.quota):
        raise UsageError("An override needs --tpm N or --quota N.")
    if not a.until:
        raise UsageError("An override needs --until (a duration like 2h, or an ISO-8601 UTC instant).")
    until = parse_until(a.until, limits.now())
    plan = writer.plan_override(subscription=a.subscription, product=a.product, tpm=a.tpm, quota=a.quota,
                                until=until, reason=a.reason or "")
    return _write(ctx, plan, dry_run=a.dry_run, writer=writer)


def run_cleanup(ctx) -> int:
    import sys

    a = ctx.args
    _, writer = _services(ctx)
    plans = writer.plan_cleanup()
    if not plans:
        ctx.emit([] if ctx.json else "No expired overrides.")
        return 0
    results = []
    for plan in plans:
        if not ctx.json:
            sys.stdout.write(plan.description + "\n" + plan.diff + "\n")
        if a.dry_run:
            results.append({**plan.to_json(), "written": False, "dry_run": True})
            continue
        ctx.services.confirm_hook = lambda _record, p=plan: ctx.confirm(p.description, yes=a.yes)
        written = writer.apply(plan, reason=a.reason, confirm_name=ctx.confirm_name)
        results.append({**plan.to_json(), "written": True, "etag": written.etag})
    if ctx.json:
        ctx.emit(results)
    return 0


def run_undo(ctx) -> int:
    a = ctx.args
    _, writer = _services(ctx)
    plan = writer.plan_undo()
    return _write(ctx, plan, dry_run=a.dry_run, writer=writer)
