"""The ``aiconsole`` entry point.

Subcommands live one per module in ``aiconsole.cli.commands`` and are discovered with
``pkgutil`` so that adding a command never touches this file. Each module exposes
``register(subparsers)`` and must import nothing heavy at module level: ``--help``,
``--version`` and ``info`` never import Textual or an Azure SDK (a test checks it).

Exit codes: 0 ok, 1 the operation failed, 2 usage error, 3 refused.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from aiconsole import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aiconsole",
        description="A terminal console for AI gateways built on Azure API Management.",
        epilog="Run without a command to open the console. Exit codes: 0 ok, 1 failed, 2 usage, 3 refused.",
    )
    parser.add_argument("--version", action="version", version=f"aiconsole {__version__}")
    parser.add_argument(
        "--sandbox",
        metavar="URL",
        default=None,
        help="management_url of a running sandbox (env AICONSOLE_SANDBOX)",
    )
    parser.add_argument(
        "--profile",
        metavar="NAME",
        default=None,
        help="profile from the config file (env AICONSOLE_PROFILE)",
    )
    parser.add_argument(
        "-o",
        "--output",
        choices=["table", "json"],
        default=None,
        help="output format (default: table on a terminal, json otherwise)",
    )
    parser.add_argument("--theme", metavar="NAME", default=None, help="colour theme for the console")
    parser.add_argument("--debug", action="store_true", help="write a redacted debug log under the state directory")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from aiconsole.cli import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"aiconsole.cli.commands.{info.name}")
        module.register(sub)
    _accept_output_anywhere(sub)
    return parser


def _accept_output_anywhere(action: argparse._SubParsersAction) -> None:
    """Let ``-o json`` also follow the subcommand (``aiconsole subs list -o json``)."""
    for child in set(action.choices.values()):
        if not any("-o" in a.option_strings for a in child._actions):
            child.add_argument(
                "-o", "--output", choices=["table", "json"], default=argparse.SUPPRESS, help=argparse.SUPPRESS
            )
        for a in child._actions:
            if isinstance(a, argparse._SubParsersAction):
                _accept_output_anywhere(a)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.output is None:
        args.output = "table" if sys.stdout.isatty() else "json"
    import logging

    # Without a handler, library warnings (azure-core's "Incomplete download." on a dropped
    # connection) reach stderr raw through logging's last resort; errors are reported once, as a
    # sentence, by run_command, and --debug still records every library message in its log.
    logging.getLogger("azure").addHandler(logging.NullHandler())
    if args.debug:
        from aiconsole.cli.debuglog import enable_debug_log

        enable_debug_log()
    from aiconsole.cli.context import run_command

    return run_command(parser, args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
