"""``aiconsole auth posture``: how every API is guarded, layer by layer, with the finding in words.

Layers: ``subscription`` (key required, where it is accepted), ``jwt`` (validate-jwt /
validate-azure-ad-token in the effective chain) and ``backend`` (managed identity or a key from
a named value). Exit code 0 even when findings fail: this is a report, not a gate.
"""

from __future__ import annotations

import argparse

COLUMNS = ["api", "verdict", "subscription", "jwt", "backend", "finding"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("auth", help="authentication posture of every API (keys, JWT, backend credentials)")
    actions = p.add_subparsers(dest="auth_command", metavar="ACTION", required=True)
    posture = actions.add_parser("posture", help="one row per API: a verdict per layer and the finding")
    posture.add_argument("--api", metavar="ID", help="only this API")
    posture.set_defaults(handler=run_posture)


def run_posture(ctx) -> int:
    from aiconsole.domain.errors import NotFoundError
    from aiconsole.services.posture import PostureService

    rows = PostureService(ctx.services).assess()
    if ctx.args.api:
        rows = [r for r in rows if r.api.lower() == ctx.args.api.lower()]
        if not rows:
            raise NotFoundError(f"There is no API '{ctx.args.api}'.", "List them with `aiconsole auth posture`.")
    if ctx.json:
        ctx.emit([r.to_json() for r in rows])
        return 0
    table = []
    for r in rows:
        table.append({"api": r.api, "verdict": r.verdict, "subscription": r.layer("subscription").verdict,
                      "jwt": r.layer("jwt").verdict, "backend": r.layer("backend").verdict,
                      "finding": r.worst_layer.finding})
    ctx.emit(table, columns=COLUMNS)
    return 0
