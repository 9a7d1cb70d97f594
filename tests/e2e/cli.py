"""Running the real CLI in-process from end-to-end tests (same argv a script uses), and reading
back what it did: a subscription's keys on the server and its journal entries."""

from __future__ import annotations

import json

from aiconsole.cli.main import main
from aiconsole.domain.secrets import fingerprint
from tests.sandbox_fixture import sdk_client


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


def keys(sandbox, sid):
    """The keys the server holds for subscription ``sid`` (the SDK's listSecrets)."""
    k = sdk_client(sandbox).subscription.list_secrets(sandbox["resource_group"], sandbox["service_name"], sid)
    return {"primary": k.primary_key, "secondary": k.secondary_key}


def fps(sandbox, sid):
    """The fingerprints of those keys, per slot."""
    return {slot: fingerprint(v) for slot, v in keys(sandbox, sid).items()}


def journal(sid):
    """The audit journal's entries about subscription ``sid``."""
    from aiconsole.audit.journal import AuditJournal

    return [e for e in AuditJournal().entries() if e["target"] == f"subscription:{sid}"]
