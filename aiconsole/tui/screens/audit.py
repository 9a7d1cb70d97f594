"""``:audit`` — the audit journal of this machine: every write attempted, newest first.

Reading the journal is file I/O, so it happens in a worker; ``v`` verifies the hash chain and
says in the status line whether it is intact or which line was altered, removed or reordered.
Entries hold fingerprints and values only, and every field is sanitised before display.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message

from aiconsole.domain.text import sanitize
from aiconsole.tui.screens.base import ConsoleScreen
from aiconsole.tui.widgets.resource_table import ResourceTable
from aiconsole.tui.widgets.table_model import Column, Row

COLUMNS = [
    Column("time", "Time (UTC)", width=19, min_width=16),
    Column("result", "Result", width=9, min_width=8),
    Column("action", "Action", min_width=10, max_width=26),
    Column("target", "Target", min_width=12, max_width=40),
    Column("principal", "Who", min_width=8, max_width=20, priority=2),
    Column("reason", "Reason / error", min_width=10, max_width=60, priority=1),
]
RESULT_GLYPHS = {"ok": ("✓ ok", "ok"), "failed": ("✗ failed", "throttled"), "refused": ("⊘ refused", "warn"),
                 "dry-run": ("○ dry-run", "muted")}


def audit_row(number: int, entry: dict) -> Row[int]:
    result, style = RESULT_GLYPHS.get(str(entry.get("result")), (sanitize(entry.get("result")), "muted"))
    when = sanitize(entry.get("time", ""))[:19].replace("T", " ")
    detail = entry.get("error") or entry.get("reason") or entry.get("description") or ""
    cells = (
        when,
        result,
        sanitize(entry.get("action", ""), max_length=60),
        sanitize(entry.get("target", ""), max_length=200),
        sanitize(entry.get("principal", ""), max_length=80),
        sanitize(detail, max_length=300),
    )
    return Row(key=number, cells=cells, sort=(number, *cells[1:]), cell_styles={1: style}, data=entry)


class AuditScreen(ConsoleScreen):
    SCREEN_TITLE = "Audit journal"
    COMMAND = "audit"

    BINDINGS = [
        Binding("v", "verify", "Verify chain", id="audit.verify"),
        Binding("f5", "reload", "Reload", id="audit.reload"),
    ]

    DEFAULT_CSS = """
    AuditScreen #audit-table { height: 1fr; }
    """

    class Loaded(Message):
        def __init__(self, rows: list[Row[int]], verdict: str | None) -> None:
            super().__init__()
            self.rows, self.verdict = rows, verdict

    def compose_body(self) -> ComposeResult:
        yield ResourceTable(COLUMNS, id="audit-table")

    @property
    def table(self) -> ResourceTable:
        return self.query_one("#audit-table", ResourceTable)

    def focus_body(self) -> None:
        self.table.focus()

    def on_mount(self) -> None:
        self.table.placeholder = "reading the journal…"
        self.table.focus()
        self.load(verify=False)

    def action_reload(self) -> None:
        self.load(verify=False)

    def action_verify(self) -> None:
        self.load(verify=True)

    @work(thread=True, exclusive=True, exit_on_error=False, group="audit-load")
    def load(self, verify: bool) -> None:
        from aiconsole.audit.journal import AuditJournal

        journal = AuditJournal()
        rows = [audit_row(i, e) for i, e in enumerate(journal.entries(), start=1)]
        verdict = None
        if verify:
            result = journal.verify()
            verdict = ("✓ " if result.ok else "✗ ") + sanitize(result.message, max_length=200)
        self.post_message(self.Loaded(rows, verdict))

    def on_audit_screen_loaded(self, message: Loaded) -> None:
        table = self.table
        table.replace_rows(message.rows)
        table.set_sort(0, reverse=True)
        table.placeholder = "no writes recorded on this machine yet"
        self.mark_updated()
        status = f"{len(message.rows)} entries · newest first · v verifies the hash chain"
        if message.verdict:
            status = f"{message.verdict} · {len(message.rows)} entries"
        self.set_status(status)

    def filter_changed(self, text: str) -> None:
        self.table.set_filter(text)
