"""``aiconsole backends list``: single backends and pools, breaker rules, recent 429s/5xx, tripped."""

from __future__ import annotations

import argparse

COLUMNS = ["name", "type", "state", "members", "breaker", "429", "5xx", "trip"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backends", help="backends and pools with circuit breakers and their recent failures")
    actions = p.add_subparsers(dest="backends_command", metavar="ACTION", required=True)
    ls = actions.add_parser("list", help="every backend: members, priority, weight, breaker rules, health")
    ls.set_defaults(handler=run_list)


def run_list(ctx) -> int:
    import sys

    from aiconsole.services.backends import BackendsService, health_reader_for

    report = BackendsService(ctx.services, health_reader_for(ctx.connection)).report()
    if ctx.json:
        ctx.emit(report.to_json())
        return 0
    rows = []
    for r in report.rows:
        h = r.health
        rows.append({
            "name": r.info.name, "type": r.info.kind, "state": r.state,
            "members": ", ".join(f"{m.backend} p{m.priority if m.priority is not None else '-'}"
                                 f" w{m.weight if m.weight is not None else '-'}" for m in r.info.members),
            "breaker": "; ".join(f"{x.condition} → {x.trip_duration}{' (Retry-After)' if x.accept_retry_after else ''}"
                                 for x in r.info.rules),
            "429": h.throttled if h else None, "5xx": h.errors_5xx if h else None,
            "trip": f"{round(h.seconds_left)}s" if h and h.tripped else "",
        })
    ctx.emit(rows, columns=COLUMNS)
    if report.telemetry_note:
        sys.stderr.write(report.telemetry_note + "\n")
    return 0
