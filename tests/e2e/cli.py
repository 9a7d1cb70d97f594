"""Running the real CLI in-process from end-to-end tests (same argv a script uses)."""

from __future__ import annotations

import json

from aiconsole.cli.main import main


def run(capsys, sandbox, *args):
    """``aiconsole --sandbox URL -o json ARGS``: (exit code, parsed json or None, stderr)."""
    capsys.readouterr()
    code = main(["--sandbox", sandbox["management_url"], "-o", "json", *args])
    out = capsys.readouterr()
    return code, (json.loads(out.out) if out.out.strip() else None), out.err


def create(capsys, sandbox, sid):
    """Issue an active subscription ``sid`` on the Azure OpenAI API through the CLI."""
    code, _, err = run(capsys, sandbox, "subs", "create", "--display-name", sid, "--api", "azure-openai",
                       "--state", "active", "--id", sid, "--yes")
    assert code == 0, err
