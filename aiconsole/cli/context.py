"""What every CLI command shares: the connection, output, confirmation and error handling.

``run_command`` is the one place that turns domain errors into a sentence on stderr and an
exit code, so no command prints a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from functools import cached_property
from typing import Any

from aiconsole.domain.errors import AiconsoleError, RefusedError, UsageError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3


class CliContext:
    """Lazily-built collaborators for one CLI invocation."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    @property
    def json(self) -> bool:
        return self.args.output == "json"

    @cached_property
    def connection(self):
        from aiconsole.backends.connect import resolve_connection

        return resolve_connection(sandbox=self.args.sandbox, profile=self.args.profile)

    @cached_property
    def backend(self):
        """The management port for this invocation (imports the Azure SDK on first use)."""
        return self.connection.backend()

    @cached_property
    def services(self):
        """The ServiceContext for write-guarded use cases: profile flags, ``--confirm``/``--reason``,
        the signed-in principal for the journal, and ``--yes``/terminal confirmation."""
        from aiconsole.cli.guards import service_context

        return service_context(self)

    @property
    def confirm_name(self) -> str | None:
        return getattr(self.args, "confirm", None)

    @cached_property
    def journal(self):
        from aiconsole.audit.journal import AuditJournal

        return AuditJournal()

    def confirm(self, question: str, *, yes: bool) -> None:
        """Go on if ``--yes`` was given or the user says yes on a TTY; otherwise refuse (exit 3)."""
        if yes:
            return
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            raise RefusedError(f"Not confirmed, so nothing was done: {question}.", "Pass --yes to confirm.")
        sys.stderr.write(f"{question}? [y/N] ")
        sys.stderr.flush()
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            raise RefusedError("Nothing was changed.", "")

    def emit(self, data: Any, *, columns: list[str] | None = None, title: str | None = None) -> None:
        from aiconsole.cli.output import emit

        emit(data, json_mode=self.json, columns=columns, title=title)


def run_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    handler = getattr(args, "handler", None)
    try:
        if handler is None:
            from aiconsole.cli.tui_launch import open_console

            return open_console(args)
        return int(handler(CliContext(args)) or EXIT_OK)
    except AiconsoleError as exc:
        _print_error(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except BrokenPipeError:
        # Output piped into `head`: not an error for the user.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        except OSError:
            pass
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - a bug must still not print a traceback (nor a key)
        import logging

        logger = logging.getLogger("aiconsole")
        if logger.handlers:  # only --debug's redacted log; never Python's last-resort stderr handler
            logger.exception("unexpected error")
        sys.stderr.write(f"error: unexpected {type(exc).__name__}; nothing more is known.\n"
                         "  Run again with --debug and look at the debug log (aiconsole info shows where).\n")
        return EXIT_FAILED


def _print_error(exc: AiconsoleError) -> None:
    from aiconsole.domain.text import sanitize

    line = f"error: {sanitize(exc.message)}"
    if exc.hint:
        line += f"\n  {sanitize(exc.hint)}"
    if exc.request_id:
        line += f"\n  request id: {sanitize(exc.request_id)}"
    sys.stderr.write(line + "\n")


def usage(message: str, hint: str = "") -> UsageError:
    return UsageError(message, hint)
