"""``aiconsole subs``: list and show subscriptions."""

from __future__ import annotations

import argparse

LIST_COLUMNS = ["name", "display_name", "state", "scope", "owner", "created_date", "expiration_date"]


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


def _service(ctx):
    from aiconsole.services.subscriptions import SubscriptionService

    return SubscriptionService(ctx.services)


def run_list(ctx) -> int:
    from aiconsole.services.subscriptions import subscription_row

    a = ctx.args
    subs = _service(ctx).list(text=a.filter, state=a.state, product=a.product, owner=a.owner)
    ctx.emit([subscription_row(s) for s in subs], columns=LIST_COLUMNS)
    return 0


def run_show(ctx) -> int:
    ctx.emit(_service(ctx).describe(ctx.args.sid))
    return 0
