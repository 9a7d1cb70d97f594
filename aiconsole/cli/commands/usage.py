"""``aiconsole usage``: tokens, requests and refusals per subscription, product or owner, with cost.

``--from``/``--to`` take a date (UTC; ``--to 2026-11-30`` includes that day) or an ISO instant.
Prices per 1,000 tokens come from the profile's ``prices`` or ``--price PRODUCT=USD_PER_1K``
(``PRODUCT=PROMPT/COMPLETION`` for two rates); ``-o csv`` for spreadsheets.
"""

from __future__ import annotations

import argparse

COLUMNS = ["key", "product", "owner", "prompt_tokens", "completion_tokens", "total_tokens", "requests", "refused", "cost"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("usage", help="token usage per subscription, product or owner over a period (cross-charging)")
    p.add_argument("--from", dest="start", metavar="DATE", required=True, help="start (2026-11-01 or ISO instant, UTC)")
    p.add_argument("--to", dest="end", metavar="DATE", help="end (default: now; a date includes that whole day)")
    p.add_argument("--by", choices=["subscription", "product", "owner"], default="subscription")
    p.add_argument("--price", action="append", default=[], metavar="PRODUCT=USD_PER_1K",
                   help="price per 1,000 tokens for a product (repeatable; overrides the profile)")
    p.add_argument("-o", "--output", choices=["table", "json", "csv"], default=argparse.SUPPRESS,
                   help="output format (csv only for this command)")
    p.set_defaults(handler=run)


def run(ctx) -> int:
    import sys

    from aiconsole.services.usage import UsageService, iso, parse_price, parse_when, prices_from_profile, reader_for

    a = ctx.args
    prices = prices_from_profile(ctx.connection.extra)
    prices.update(dict(parse_price(t) for t in a.price))
    now = ctx.services.now()
    start = parse_when(a.start)
    end = parse_when(a.end, end_of_day=True) if a.end else now
    reader = reader_for(ctx.connection)
    try:
        report = UsageService(ctx.backend, reader, prices).report(start, end, a.by)
    finally:
        reader.close()
    if a.output == "csv":
        sys.stdout.write(report.to_csv())
    elif ctx.json:
        ctx.emit(report.to_json())
    else:
        rows = [r.to_json() for r in report.rows]
        ctx.emit(rows, columns=COLUMNS, title=f"usage by {a.by}, {iso(report.start)} to {iso(report.end)}")
        totals = report.totals
        sys.stdout.write(f"total: {totals['total_tokens']:,} tokens, {totals['requests']:,} requests"
                         + (f", {totals['refused']:,} refused" if totals["refused"] is not None else "")
                         + (f", cost {totals['cost']:.2f}" if totals["cost"] is not None else "") + "\n")
    for note in report.notes:
        sys.stderr.write(note + "\n")
    return 0
