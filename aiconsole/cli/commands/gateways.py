"""``aiconsole gateways``: self-hosted gateways, their access tokens and key rotation (J4).

Headless twins of the ``:gw`` view. Node URLs and the metrics URL come from a self-hosted
profile when there is one, or from ``--node``/``--metrics``. Tokens print masked unless
``--reveal``; ``--token-file`` writes the ready-to-paste ``GatewayKey <token>`` value to a
file only the user can read, which keeps it out of terminals and shell history.
"""

from __future__ import annotations

import argparse

from aiconsole.cli.commands.keys import add_write_flags

SLOT_CHOICES = ["primary", "secondary"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gateways", help="self-hosted gateways: health, token expiry, tokens and keys")
    actions = p.add_subparsers(dest="gateways_command", metavar="ACTION", required=True)

    ls = actions.add_parser("list", help="every gateway with its APIs, node health and token state")
    _add_target_flags(ls)
    ls.add_argument("--no-verify", action="store_true", help="do not ask ARM whether known tokens still work")
    ls.add_argument("--rate-window", metavar="SECONDS", type=float, default=0.0,
                    help="scrape metrics twice this far apart to report request and error rates (default 0: totals)")
    ls.set_defaults(handler=run_list)

    tok = actions.add_parser("token", help="mint an access token for a gateway (masked unless --reveal)")
    tok.add_argument("gateway", metavar="GW")
    tok.add_argument("--slot", choices=SLOT_CHOICES, default="primary", help="key slot to sign with (default primary)")
    tok.add_argument("--expiry", metavar="WHEN", default="30d",
                     help="lifetime (30d, 12h) or UTC instant; at most 30 days (default 30d)")
    _add_secret_flags(tok)
    add_write_flags(tok)
    tok.set_defaults(handler=run_token)

    regen = actions.add_parser("regenerate-key", help="regenerate a key slot: every token minted from it dies")
    regen.add_argument("gateway", metavar="GW")
    regen.add_argument("--slot", choices=SLOT_CHOICES, required=True)
    add_write_flags(regen)
    regen.set_defaults(handler=run_regenerate)

    exp = actions.add_parser("expiring", help="gateways whose token is dead, unknown or expires soon")
    exp.add_argument("--within", metavar="DURATION", default="7d", help="window (default 7d)")
    exp.add_argument("--no-verify", action="store_true", help="do not ask ARM whether known tokens still work")
    exp.add_argument("--exit-code", action="store_true", help="exit 1 when any gateway is listed (for monitoring)")
    exp.set_defaults(handler=run_expiring)

    rot = actions.add_parser("rotate", help="guided rotation: mint from the other slot, deploy, regenerate the old one")
    rot.add_argument("gateway", metavar="GW")
    rot.add_argument("--from-slot", choices=SLOT_CHOICES,
                     help="slot the nodes use now (default: as the nodes report, else from the ledger)")
    rot.add_argument("--expiry", metavar="WHEN", default="30d", help="lifetime of the new token (default 30d)")
    rot.add_argument("--node", metavar="URL", action="append", default=[], help="node URL to check (repeatable)")
    rot.add_argument("--deployed", action="store_true",
                     help="the new token is deployed: check the nodes and regenerate the old slot")
    rot.add_argument("--wait", metavar="SECONDS", type=float, default=120.0,
                     help="how long to wait for the nodes to report healthy (default 120)")
    _add_secret_flags(rot)
    add_write_flags(rot)
    rot.set_defaults(handler=run_rotate)

    chk = actions.add_parser("check-token", help="verify a deployed token (read from stdin) and track its expiry")
    chk.add_argument("gateway", metavar="GW")
    chk.add_argument("--no-record", action="store_true", help="verify only; do not add it to the ledger")
    chk.set_defaults(handler=run_check_token)


def _add_target_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gateway", metavar="GW", help="only this gateway")
    p.add_argument("--node", metavar="[GW=]URL", action="append", default=[],
                   help="a node's data-plane URL to probe (repeatable; bare URL needs --gateway)")
    p.add_argument("--metrics", metavar="[GW=]URL", action="append", default=[],
                   help="Prometheus URL of a gateway's collector (bare URL needs --gateway)")


def _add_secret_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reveal", action="store_true", help="print the token in clear")
    p.add_argument("--token-file", metavar="PATH",
                   help="write `GatewayKey <token>` to PATH (mode 0600) instead of printing it")


# --------------------------------------------------------------------------- helpers


def _service(ctx):
    from aiconsole.services.gateways import GatewayService

    return GatewayService(ctx.services)


def _targets(ctx, gateway: str | None = None):
    """Profile targets, overridden by flags; returns (targets, focus gateway)."""
    from aiconsole.services.gateways import GatewayTargets, parse_target, targets_from_connection

    targets, focus = targets_from_connection(ctx.connection)
    only = gateway or getattr(ctx.args, "gateway", None) or focus
    flag_nodes: dict[str, list[str]] = {}
    for text in getattr(ctx.args, "node", []) or []:
        gw, url = parse_target(text, default_gateway=only)
        flag_nodes.setdefault(gw, []).append(url)
    for gw, urls in flag_nodes.items():
        targets.setdefault(gw, GatewayTargets()).nodes = urls
    for text in getattr(ctx.args, "metrics", []) or []:
        gw, url = parse_target(text, default_gateway=only, what="metrics URL")
        targets.setdefault(gw, GatewayTargets()).metrics_url = url
    return targets, only


def _write_token_file(path: str, auth_value: str) -> str:
    import os

    from aiconsole.domain.errors import UsageError

    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        raise UsageError(f"Cannot write the token file {path}: {exc.strerror}.") from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(auth_value + "\n")
    os.chmod(path, 0o600)
    return path


def _token_output(ctx, token) -> dict:
    """Masked JSON unless --reveal; with --token-file the secret goes to the file only."""
    data = token.as_json(reveal=bool(ctx.args.reveal))
    if ctx.args.token_file:
        data["token_file"] = _write_token_file(ctx.args.token_file, token.auth_value(reveal=True))
    return data


def _short(data: dict) -> dict:
    """For table output: the multi-line Kubernetes snippet prints after the record."""
    return {k: v for k, v in data.items() if k != "kubernetes_secret"}


def _emit_token(ctx, data: dict) -> None:
    if ctx.json:
        ctx.emit(data)
        return
    import sys

    ctx.emit(_short(data))
    sys.stdout.write("\nKubernetes secret:\n" + data["kubernetes_secret"])


def _list_rows(rows) -> list[dict]:
    from aiconsole.services.gateway_tokens import STATE_GLYPHS

    out = []
    for r in rows:
        healthy = sum(1 for n in r.nodes if n.healthy)
        latencies = [n.latency_ms for n in r.nodes if n.latency_ms is not None]
        nodes = f"{healthy}/{len(r.nodes)} ok" if r.nodes else "-"
        if latencies:
            nodes += f" {max(latencies):.0f}ms"
        out.append({
            "name": r.name,
            "location": r.gateway.location,
            "apis": len(r.apis),
            "nodes": nodes,
            "token": f"{STATE_GLYPHS[r.token_state]} {r.token_state}",
            "slot": r.token.slot if r.token else "",
            "expires": r.token.expires if r.token else None,
        })
    return out


# --------------------------------------------------------------------------- commands


def run_list(ctx) -> int:
    targets, only = _targets(ctx)
    service = _service(ctx)
    rows = service.overview(targets, verify=not ctx.args.no_verify, only=ctx.args.gateway)
    window = max(0.0, min(ctx.args.rate_window, 300.0))
    if window and any(t.metrics_url for t in targets.values()):
        import time

        time.sleep(window)  # the user asked for a sampling window: rates need two scrapes
        # Only the second scrape: the nodes were probed a moment ago by overview().
        rows = [service.refresh_live(r, t, probe=False) if (t := targets.get(r.name)) and t.metrics_url else r
                for r in rows]
    if ctx.json:
        ctx.emit([r.as_json() for r in rows])
    else:
        ctx.emit(_list_rows(rows))
    return 0


def run_token(ctx) -> int:
    from aiconsole.services.gateways import parse_expiry, utcnow

    a = ctx.args
    service = _service(ctx)
    expires = parse_expiry(a.expiry, utcnow())  # bad input fails before any question
    service.get(a.gateway)
    question = f"mint a token for gateway {a.gateway} from its {a.slot} key, valid until {expires:%Y-%m-%d %H:%M} UTC"
    ctx.services.confirm_hook = lambda _record: ctx.confirm(question, yes=a.yes)
    token = service.mint(a.gateway, a.slot, expires, reason=a.reason, confirm_name=ctx.confirm_name)
    _emit_token(ctx, _token_output(ctx, token))
    return 0


def regeneration_question(gateway: str, slot: str, known) -> str:
    """The confirmation names the consequence and every token the console knows it kills."""
    text = f"regenerate the {slot} key of gateway {gateway}, which invalidates EVERY token minted from it at once"
    if known:
        listed = "; ".join(f"{r.fingerprint} minted {r.minted:%Y-%m-%d}, expires {r.expires:%Y-%m-%d}" for r in known)
        text += f" (tokens this console minted from it: {listed})"
    else:
        text += " (this console knows no live token from it; tokens minted elsewhere die too)"
    return text


def run_regenerate(ctx) -> int:
    a = ctx.args
    service = _service(ctx)
    service.get(a.gateway)
    question = regeneration_question(a.gateway, a.slot, service.known_tokens_from_slot(a.gateway, a.slot))
    ctx.services.confirm_hook = lambda _record: ctx.confirm(question, yes=a.yes)
    ctx.emit(service.regenerate(a.gateway, a.slot, reason=a.reason, confirm_name=ctx.confirm_name).as_json())
    return 0


def run_expiring(ctx) -> int:
    from aiconsole.services.durations import parse_duration

    window = parse_duration(ctx.args.within, what="window")
    targets, _ = _targets(ctx)
    rows = _service(ctx).expiring(window, targets, verify=not ctx.args.no_verify)
    if ctx.json:
        ctx.emit([r.as_json() for r in rows])
    else:
        ctx.emit(_list_rows(rows))
    return 1 if (ctx.args.exit_code and rows) else 0


def run_check_token(ctx) -> int:
    import sys

    from pydantic import SecretStr

    from aiconsole.domain.errors import UsageError

    if sys.stdin.isatty():
        sys.stderr.write("Paste the token (or `GatewayKey <token>`), then press Enter: ")
        sys.stderr.flush()
    text = sys.stdin.readline().strip()
    if not text:
        raise UsageError("No token on standard input; nothing was recorded.",
                         "Pipe it in: `aiconsole gateways check-token GW < token.txt`.")
    result = _service(ctx).check_token(ctx.args.gateway, SecretStr(text), record=not ctx.args.no_record)
    ctx.emit(result.as_json())
    return 0


def run_rotate(ctx) -> int:
    """Headless J4. Without --deployed it mints and stops (or asks on a terminal); with it, it
    waits for the nodes and regenerates the old slot. Interrupted runs resume from the saved phase."""
    import sys

    from aiconsole.domain.errors import UsageError
    from aiconsole.services.gateway_rotation import GatewayRotation, unhealthy_error
    from aiconsole.services.gateways import parse_expiry, utcnow

    a = ctx.args
    service = _service(ctx)
    service.get(a.gateway)
    targets, _ = _targets(ctx, gateway=a.gateway)
    nodes = list(a.node) or (targets.get(a.gateway).nodes if a.gateway in targets else [])
    rotation = GatewayRotation(service, a.gateway)
    out: dict = {"gateway": a.gateway}

    deployed = a.deployed
    if rotation.phase == "new" and deployed:
        raise UsageError(f"No rotation of '{a.gateway}' is in progress, so nothing can have been deployed.",
                         "Run without --deployed first: it mints the new token for you to deploy.")
    if rotation.phase == "new" or (rotation.phase == "minted" and not deployed):
        if not (a.reveal or a.token_file):
            raise UsageError("The new token has to go somewhere: pass --token-file PATH (or --reveal).",
                             "Nothing was minted.")
        expires = parse_expiry(a.expiry, utcnow())
        observed = None if a.from_slot or rotation.state else rotation.observe(nodes)
        old, new = rotation.plan(a.from_slot, observed)
        question = (f"mint a token for gateway {a.gateway} from its {new} key (the nodes use {old} now), "
                    f"valid until {expires:%Y-%m-%d %H:%M} UTC")
        ctx.services.confirm_hook = lambda _record: ctx.confirm(question, yes=a.yes)
        token = rotation.mint(from_slot=a.from_slot, expiry=a.expiry, reason=a.reason,
                              confirm_name=ctx.confirm_name, nodes=nodes, observed=observed)
        out["token"] = _token_output(ctx, token)
        interactive = sys.stdin.isatty() and sys.stderr.isatty()
        if not deployed and interactive:
            sys.stderr.write(f"Deploy the new token to every node of {a.gateway}; then answer y to continue. Deployed? [y/N] ")
            sys.stderr.flush()
            deployed = sys.stdin.readline().strip().lower() in ("y", "yes")
        if not deployed:
            out.update(phase="minted", old_slot=old, new_slot=new,
                       next=f"Deploy the token, then run `aiconsole gateways rotate {a.gateway} --deployed`.")
            ctx.emit(out)
            return 0
    old, new = rotation.state.old_slot, rotation.state.new_slot
    nodes = nodes or list(rotation.state.nodes)
    rotation.mark_deployed()
    attempts = max(1, int(a.wait // 2) + 1)
    waited = rotation.wait_healthy(nodes, attempts=attempts, interval=2.0)
    if not waited.healthy:
        raise unhealthy_error(waited.nodes, old)
    question = regeneration_question(a.gateway, old, service.known_tokens_from_slot(a.gateway, old))
    ctx.services.confirm_hook = lambda _record: ctx.confirm(question, yes=a.yes)
    result, after = rotation.finish(reason=a.reason, confirm_name=ctx.confirm_name, nodes=nodes)
    out.update(phase="done", old_slot=old, new_slot=new, regenerated=result.as_json(),
               nodes=[n.as_json() for n in after])
    ctx.emit(out)
    if any(not n.healthy for n in after):
        from aiconsole.domain.errors import AiconsoleError

        bad = ", ".join(n.url for n in after if not n.healthy)
        raise AiconsoleError(f"The {old} key was regenerated, but these nodes now report unhealthy: {bad}.",
                             f"They still ran a token from the {old} key: deploy the new token to them now.")
    return 0
