"""``aiconsole sandbox``: serve a seeded local APIM on loopback until SIGINT/SIGTERM.

Prints exactly one JSON line on stdout when every app listens (``management_url``, ids, and
whatever the installed extensions add, e.g. ``gateway_url``), then logs only to stderr. Module
level imports stay at argparse: Starlette and uvicorn load only when the command runs.
"""

from __future__ import annotations

import argparse


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def _port(text: str) -> int:
    value = _non_negative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError("a port is at most 65535")
    return value


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("a rate is between 0 and 1")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def _instant(text: str) -> str:
    from aiconsole.sandbox.clock import parse_instant

    try:
        parse_instant(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an ISO 8601 instant") from None
    return text


def add_sandbox_arguments(p: argparse.ArgumentParser) -> None:
    """The sandbox's options; ``aiconsole demo`` can reuse them."""
    p.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=0, help="management API port (default 0: a free port)")
    p.add_argument("--seed", type=int, default=1, help="seed of the simulated world (default 1)")
    p.add_argument("--subscriptions", type=_non_negative_int, default=200, metavar="N",
                   help="number of subscriptions to seed (default 200)")
    p.add_argument("--clock-start", metavar="ISO", type=_instant, default=None,
                   help="start the sandbox clock at this UTC instant (e.g. 2026-01-05T09:00:00Z) so that "
                   "seeded dates are identical on every run; the clock then runs normally")
    p.add_argument("--hostile-names", action="store_true", default=False,
                   help="rename some seeded entities with terminal escape sequences, bidi overrides, control "
                   "characters and 10,000-character names (for testing that nothing reaches the screen raw)")
    faults = p.add_argument_group("faults (also settable at run time: POST {management_url}/_sandbox/faults)")
    faults.add_argument("--latency-ms", type=_non_negative_float, default=0.0, help="added latency per request")
    faults.add_argument("--error-rate", type=_rate, default=0.0, help="share of requests answered with a 500")
    faults.add_argument("--arm-throttle-rate", type=_rate, default=0.0,
                        help="share of management requests answered with an ARM 429")
    faults.add_argument("--retry-after", type=_non_negative_int, default=5, metavar="SECONDS",
                        help="Retry-After of injected 429s (default 5)")
    gateway = p.add_argument_group("gateway data plane and traffic (when installed)")
    gateway.add_argument("--traffic", action=argparse.BooleanOptionalAction, default=None,
                         help="simulated consumers calling the gateway")
    gateway.add_argument("--rps", type=_non_negative_float, default=None, help="simulated traffic rate (requests/s)")
    gateway.add_argument("--node-of", metavar="GATEWAY", default=None,
                         help="act as a node of this self-hosted gateway entity")
    gateway.add_argument("--node-token", metavar="TOKEN", default=None, help="the node's gateway access token")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sandbox",
        help="serve a seeded local API Management on loopback (prints one JSON line when ready)",
        description="Serve a seeded, in-memory API Management instance on loopback until SIGINT/SIGTERM. "
        "Prints one JSON line with its URLs and ids when ready.",
    )
    add_sandbox_arguments(p)
    p.set_defaults(handler=run)


def sandbox_options(args: argparse.Namespace) -> dict:
    return {
        "latency_ms": args.latency_ms,
        "error_rate": args.error_rate,
        "arm_throttle_rate": args.arm_throttle_rate,
        "retry_after_seconds": args.retry_after,
        "traffic": args.traffic,
        "rps": args.rps,
        "node_of": args.node_of,
        "node_token": args.node_token,
        "clock_start": args.clock_start,
        "hostile_names": getattr(args, "hostile_names", False),
    }


def run(ctx) -> int:
    import json
    import logging
    import sys

    from aiconsole.backends.urls import is_loopback_host
    from aiconsole.domain.errors import AiconsoleError, UsageError

    args = ctx.args
    if not is_loopback_host(args.host):
        raise UsageError(
            f"Refusing to serve on {args.host}: the sandbox listens on loopback addresses only.",
            "Use --host 127.0.0.1 (or ::1).",
        )
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="sandbox %(levelname)s %(name)s: %(message)s")

    from aiconsole.sandbox.server import SandboxError, build_sandbox

    try:
        sandbox = build_sandbox(
            seed=args.seed, subscriptions=args.subscriptions, host=args.host, port=args.port,
            options=sandbox_options(args),
        )
    except SandboxError as exc:
        raise AiconsoleError(str(exc)) from None

    def ready(info: dict) -> None:
        sys.stdout.write(json.dumps(info) + "\n")
        sys.stdout.flush()

    try:
        sandbox.serve_forever(ready)
    except SandboxError as exc:
        raise AiconsoleError(str(exc)) from None
    return 0
