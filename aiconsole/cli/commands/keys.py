"""``aiconsole keys``: show (masked unless ``--reveal``) and rotate subscription keys."""

from __future__ import annotations

import argparse


def add_write_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--yes", action="store_true", help="do it without asking")
    p.add_argument("--confirm", metavar="SERVICE", help="the service name, required on production profiles")
    p.add_argument("--reason", metavar="TEXT", help="reason or ticket, recorded in the audit journal")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("keys", help="show and rotate subscription keys")
    actions = p.add_subparsers(dest="keys_command", metavar="ACTION", required=True)

    show = actions.add_parser("show", help="the two keys of a subscription, masked unless --reveal")
    show.add_argument("sid", metavar="SID")
    show.add_argument("--reveal", action="store_true", help="print the keys in clear")
    show.set_defaults(handler=run_show)

    rotate = actions.add_parser("rotate", help="regenerate one key slot (the old key stops working at once)")
    rotate.add_argument("sid", metavar="SID")
    rotate.add_argument("--slot", required=True, choices=["primary", "secondary"])
    add_write_flags(rotate)
    rotate.set_defaults(handler=run_rotate)


def _service(ctx):
    from aiconsole.services.subscriptions import SubscriptionService

    return SubscriptionService(ctx.services)


def run_show(ctx) -> int:
    keys = _service(ctx).keys(ctx.args.sid)
    ctx.emit(keys.revealed() if ctx.args.reveal else keys.masked())
    return 0


def run_rotate(ctx) -> int:
    a = ctx.args
    service = _service(ctx)
    sub = service.get(a.sid)  # fail early (404) before asking anything
    label = f"{sub.name} ({sub.display_name})" if sub.display_name else sub.name
    question = f"Regenerate the {a.slot} key of {label}; the current {a.slot} key stops working at once"
    ctx.services.confirm_hook = lambda _record: ctx.confirm(question, yes=a.yes)
    result = service.rotate(a.sid, a.slot, reason=a.reason, confirm_name=ctx.confirm_name)
    ctx.emit(result.as_json())
    return 0
