"""``aiconsole probe SID``: one small request through the gateway with the subscription's key,
printing the limit headers the gateway sent back. It spends tokens (a one-token completion)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("probe", help="send one small request with a subscription's key and show its limit headers",
                       description="Send one chat completion (max_tokens=1) through the gateway with SID's key and "
                       "print the limit headers it returns. This spends tokens from the subscription's budget.")
    p.add_argument("sid", metavar="SID", help="subscription id (name)")
    p.add_argument("--slot", choices=("primary", "secondary"), default="primary", help="which key to use")
    p.add_argument("--api", metavar="ID", default=None, help="which API to call (default: the first it may call)")
    p.add_argument("--model", metavar="NAME", default=None, help="deployment or model (default: the API's first)")
    p.add_argument("--gateway-url", metavar="URL", default=None,
                   help="gateway base URL (default: the sandbox's, or https://SERVICE.azure-api.net)")
    p.set_defaults(handler=run)


def run(ctx) -> int:
    from aiconsole.services.triage import probe_subscription

    args = ctx.args
    result = probe_subscription(ctx.services, ctx.connection, args.sid, slot=args.slot, api=args.api,
                                model=args.model, gateway_url=args.gateway_url)
    data = result.as_json()
    if ctx.json:
        ctx.emit(data)
    else:
        headers = data.pop("headers")
        ctx.emit({**data, **{f"header {k}": v for k, v in headers.items()}})
    return 0 if result.status < 400 else 1
