"""The CLI side of the write guards: ``--yes``, ``--confirm SERVICE_NAME``, ``--reason``.

The guards themselves live in the service layer (``ServiceContext.check_writable``): a read-only
profile refuses every write, a production profile refuses a write whose confirmation does not
name the service. This module only carries the user's flags there:

* ``add_write_options(parser)`` adds the three flags to a write command;
* ``service_context(ctx)`` builds the ``ServiceContext`` for the invocation's connection, with
  the principal from the token's claims, ``--confirm``/``--reason`` as defaults for every write,
  and a confirmation hook that honours ``--yes`` (or asks on a terminal, after the guards pass,
  so a read-only profile never asks a question it will refuse anyway).

Every refusal goes through ``ServiceContext.write`` and is journaled with result ``refused``.
"""

from __future__ import annotations

import argparse
import functools
from typing import Any


def add_write_options(parser: argparse.ArgumentParser) -> None:
    """``--yes``, ``--confirm NAME`` and ``--reason TEXT`` for a command that changes something."""
    group = parser.add_argument_group("write safety")
    group.add_argument("--yes", action="store_true", help="do it without asking")
    group.add_argument(
        "--confirm", metavar="SERVICE_NAME",
        help="the API Management service name; required (with --yes) on production profiles",
    )
    group.add_argument("--reason", metavar="TEXT", help="reason or ticket, recorded in the audit journal")


def confirm_name(ctx) -> str | None:
    return getattr(ctx.args, "confirm", None)


def service_context(ctx, *, question: str | None = None) -> Any:
    """The ServiceContext for this CLI invocation, guards and journal included.

    ``question`` is what a terminal user is asked when ``--yes`` is missing; by default it is
    built from each write's action and target.
    """
    from aiconsole.backends.credentials import principal_for
    from aiconsole.services.context import ServiceContext

    args = ctx.args
    connection = ctx.connection
    backend = ctx.backend
    yes = bool(getattr(args, "yes", False))

    def confirm_hook(record) -> None:
        ctx.confirm(question or f"{record.action} {record.target}", yes=yes)

    context = _cli_service_context_class().from_connection(
        connection,
        backend=backend,
        journal=ctx.journal,
        principal=principal_for(connection, backend),
        confirm_hook=confirm_hook,
    )
    context.default_confirm = confirm_name(ctx)
    context.default_reason = getattr(args, "reason", None)
    assert isinstance(context, ServiceContext)
    return context


@functools.cache
def _cli_service_context_class():
    """Built on first use so importing this module (for add_write_options) stays argparse-only."""
    from dataclasses import dataclass

    from aiconsole.services.context import ServiceContext

    @dataclass
    class CliServiceContext(ServiceContext):
        """A ServiceContext whose writes default to the command line's ``--confirm`` and ``--reason``."""

        default_confirm: str | None = None
        default_reason: str | None = None

        def check_writable(self, action: str, target: str, *, confirm_name: str | None = None) -> None:
            super().check_writable(action, target, confirm_name=confirm_name if confirm_name is not None else self.default_confirm)

        def write(self, action: str, target: str, *, reason: str | None = None, confirm_name: str | None = None,
                  before: Any = None):
            return super().write(
                action, target, reason=reason if reason is not None else self.default_reason,
                confirm_name=confirm_name if confirm_name is not None else self.default_confirm, before=before,
            )

    return CliServiceContext
