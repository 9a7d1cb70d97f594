"""A screen that is one table read in a worker: ``:auth``, ``:usage``, ``:backends``, ``:ctx``.

The read (``read``) runs in a thread worker, never on the UI loop; its rows replace the table's
by key, so a reload keeps the cursor, sort and filter. A failure is one sentence (a
notification) and a placeholder saying ``f5`` retries; nothing half-loaded is shown. Subclasses
say what to read and what the status line says about it (``loaded``).
"""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.message import Message

from aiconsole.tui.screens.base import ConsoleScreen
from aiconsole.tui.widgets.resource_table import ResourceTable
from aiconsole.tui.widgets.table_model import Column, Row


class TableScreen(ConsoleScreen):
    COLUMNS: list[Column] = []
    TABLE_ID = "table"
    LOADING_TEXT = "reading…"
    EMPTY_TEXT = "nothing here"
    FAILED_TEXT = "could not read (f5 retries)"
    ERROR_TITLE = "Cannot read"

    DEFAULT_CSS = """
    TableScreen > ResourceTable { height: 1fr; }
    """

    class Loaded(Message):
        """What ``read`` returned (``result`` and its ``rows``), or the error it raised."""

        def __init__(self, result: Any = None, rows: list[Row[str]] | None = None,
                     error: BaseException | None = None) -> None:
            super().__init__()
            self.result, self.rows, self.error = result, rows, error

    def compose_body(self) -> ComposeResult:
        yield ResourceTable(self.COLUMNS, id=self.TABLE_ID)

    @property
    def table(self) -> ResourceTable:
        return self.query_one(f"#{self.TABLE_ID}", ResourceTable)

    def focus_body(self) -> None:
        self.table.focus()

    def on_mount(self) -> None:
        self.table.placeholder = self.LOADING_TEXT
        self.table.focus()
        self.action_reload()

    def action_reload(self) -> None:
        self.load()

    def filter_changed(self, text: str) -> None:
        self.table.set_filter(text)

    # -- the read ----------------------------------------------------------------------------
    def read(self, *args: Any) -> tuple[Any, list[Row[str]]]:
        """Blocking (runs in the worker): ``(result, rows)``. Override."""
        raise NotImplementedError

    @work(thread=True, exclusive=True, exit_on_error=False, group="table-load")
    def load(self, *args: Any) -> None:
        try:
            result, rows = self.read(*args)
        except Exception as exc:  # noqa: BLE001 - shown as one sentence
            self.post_message(self.Loaded(error=exc))
            return
        self.post_message(self.Loaded(result, rows))

    def on_table_screen_loaded(self, message: Loaded) -> None:
        table = self.table
        if message.error is not None:
            table.placeholder = self.FAILED_TEXT
            self.app.show_error(message.error, self.ERROR_TITLE)
            self.failed()
            return
        self.before_rows(message.result)
        table.replace_rows(message.rows or [])
        table.placeholder = self.EMPTY_TEXT
        self.mark_updated()
        self.loaded(message.result, message.rows or [])

    # -- hooks -------------------------------------------------------------------------------
    def before_rows(self, result: Any) -> None:
        """Called on the UI loop before the rows replace the table's (e.g. to clear it)."""

    def loaded(self, result: Any, rows: list[Row[str]]) -> None:
        """Called on the UI loop once the rows are shown (the status line, a detail pane)."""

    def failed(self) -> None:
        self.set_status("load failed")
