"""``aiconsole audit``: verify the journal's hash chain and list what was done.

``verify`` exits 0 when the chain is intact and 1 naming the first bad line, so it can run
from cron or CI. ``list`` filters by time (ISO date/time or a duration such as ``24h``),
action and result.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="verify and list the audit journal")
    actions = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)

    verify = actions.add_parser("verify", help="check the hash chain (exit 0 intact, 1 naming the first bad line)")
    verify.add_argument("--file", metavar="PATH", help="a journal other than the default one")
    verify.set_defaults(handler=run_verify)

    ls = actions.add_parser("list", help="list journal entries, oldest first")
    ls.add_argument("--since", metavar="WHEN", help="ISO date/time (2026-11-24T08:00Z) or a duration back from now (24h, 7d)")
    ls.add_argument("--action", metavar="A", help="an action (keys.rotate), a prefix (keys) or a glob (limits.*)")
    ls.add_argument("--result", choices=["ok", "failed", "refused", "dry-run"])
    ls.add_argument("--last", type=int, metavar="N", help="only the last N matching entries")
    ls.add_argument("--file", metavar="PATH", help="a journal other than the default one")
    ls.set_defaults(handler=run_list)


def _journal(ctx):
    from pathlib import Path

    from aiconsole.audit.journal import AuditJournal

    return AuditJournal(Path(ctx.args.file)) if ctx.args.file else AuditJournal()


def run_verify(ctx) -> int:
    import sys

    journal = _journal(ctx)
    result = journal.verify()
    data = {
        "ok": result.ok,
        "path": str(journal.path),
        "entries": result.count,
        "bad_line": result.bad_line,
        "tampered": result.tampered,
        "message": result.message,
        "problems": [{"line": n, "message": m} for n, m in result.problems],
    }
    if ctx.json:
        ctx.emit(data)
    elif result.ok:
        ctx.emit(f"{journal.path}: {result.message}")
    else:
        from aiconsole.domain.text import sanitize

        sys.stderr.write(f"error: {journal.path}: line {result.bad_line} is bad.\n")
        for _, message in result.problems:
            sys.stderr.write(f"  {sanitize(message)}\n")
    return 0 if result.ok else 1


def _since(text: str):
    from datetime import datetime, timezone

    from aiconsole.domain.errors import UsageError
    from aiconsole.services.durations import parse_duration

    raw = text.strip()
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        try:
            return datetime.now(timezone.utc) - parse_duration(raw)
        except UsageError:
            raise UsageError(f"'{text}' is neither an ISO date/time nor a duration.",
                             "Use for example 2026-11-24, 2026-11-24T08:00Z, 90m or 7d.") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _entry_time(entry):
    from datetime import datetime

    try:
        return datetime.fromisoformat(str(entry.get("time", "")).replace("Z", "+00:00"))
    except ValueError:
        return None


def _action_matches(pattern: str, action: str) -> bool:
    from fnmatch import fnmatchcase

    if any(c in pattern for c in "*?["):
        return fnmatchcase(action, pattern)
    return action == pattern or action.startswith(pattern + ".")


def run_list(ctx) -> int:
    a = ctx.args
    since = _since(a.since) if a.since else None
    rows = []
    for entry in _journal(ctx).entries():
        if since is not None:
            when = _entry_time(entry)
            if when is None or when < since:
                continue
        if a.action and not _action_matches(a.action, str(entry.get("action", ""))):
            continue
        if a.result and entry.get("result") != a.result:
            continue
        rows.append(entry)
    if a.last is not None:
        rows = rows[-a.last:] if a.last > 0 else []
    if ctx.json:
        ctx.emit(rows)
    else:
        ctx.emit(rows, columns=["time", "profile", "principal", "action", "target", "result", "reason", "error"])
    return 0
