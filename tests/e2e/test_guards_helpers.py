"""The CLI guard helpers: flags reach the service-layer guards, refusals are journaled, no
question is asked for a write the profile refuses anyway. (No server: the write body is a stub.)"""

from __future__ import annotations

import argparse
from types import SimpleNamespace

import pytest

from aiconsole.audit.journal import AuditJournal
from aiconsole.backends.connect import Connection
from aiconsole.cli.guards import add_write_options, service_context
from aiconsole.domain.errors import ReadOnlyError, RefusedError


def _ctx(argv: list[str], *, read_only=False, production=False, asked: list | None = None):
    parser = argparse.ArgumentParser()
    add_write_options(parser)
    args = parser.parse_args(argv)
    conn = Connection(kind="sandbox", management_url="http://127.0.0.1:1", subscription_id="s", resource_group="rg",
                      service_name="apim-prod", label="t", profile="p", read_only=read_only, production=production)

    def confirm(question, *, yes):
        if asked is not None:
            asked.append(question)
        if not yes:
            raise RefusedError(f"Refusing to {question} without confirmation.", "Pass --yes to confirm.")

    return SimpleNamespace(args=args, connection=conn, backend=object(), journal=AuditJournal(), confirm=confirm)


def _write(sc, **kw):
    with sc.write("keys.rotate", "subscription:a", **kw) as rec:
        rec.after = {"fingerprint": "abcd1234"}


def test_flags_exist():
    parser = argparse.ArgumentParser()
    add_write_options(parser)
    args = parser.parse_args(["--yes", "--confirm", "apim-prod", "--reason", "INC-1"])
    assert (args.yes, args.confirm, args.reason) == (True, "apim-prod", "INC-1")


def test_read_only_refuses_before_asking_and_journals():
    asked: list = []
    sc = service_context(_ctx(["--yes"], read_only=True, asked=asked))
    with pytest.raises(ReadOnlyError, match="read-only"):
        _write(sc)
    assert asked == []
    assert [e["result"] for e in AuditJournal().entries()] == ["refused"]


def test_production_takes_confirm_and_reason_from_the_flags():
    sc = service_context(_ctx(["--yes", "--confirm", "apim-prod", "--reason", "INC-9"], production=True))
    _write(sc)
    entry = AuditJournal().entries()[-1]
    assert entry["result"] == "ok" and entry["reason"] == "INC-9" and entry["profile"] == "p"


@pytest.mark.parametrize("argv", [["--yes"], ["--yes", "--confirm", "apim-test"], ["--confirm", "apim-prod"]])
def test_production_refusals(argv):
    sc = service_context(_ctx(argv, production=True))
    with pytest.raises(RefusedError):
        _write(sc)
    assert AuditJournal().entries()[-1]["result"] == "refused"


def test_sandbox_principal_is_the_local_user():
    sc = service_context(_ctx(["--yes"]))
    assert sc.principal is None
    _write(sc)
    assert AuditJournal().entries()[-1]["principal"]
