"""Opening the full-screen console from the CLI (no subcommand, or ``aiconsole demo``)."""

from __future__ import annotations

import argparse


def open_console(args: argparse.Namespace, *, connection=None, sandbox_process=None) -> int:
    """Run the Textual app on ``connection`` (resolved from flags/profile when None)."""
    from aiconsole.backends.connect import resolve_connection

    if connection is None:
        connection = resolve_connection(sandbox=args.sandbox, profile=args.profile)
    from aiconsole.config.store import load_config
    from aiconsole.tui.app import AiConsoleApp

    config = load_config()  # theme and keymap; a broken file is reported (exit 2), never rewritten
    app = AiConsoleApp(connection=connection, theme_name=args.theme or config.theme, keymap=config.keymap)
    app.run()
    return app.return_code or 0
