"""``:ctx`` — switch the console to another profile without restarting it (k9s's contexts).

Profiles come from config.toml; building a connection may touch the network (a sandbox
profile asks the sandbox for its ids), so it happens in a worker. ``enter`` switches for this
session; ``u`` also makes the profile the file's ``current`` one.
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
    Column("mark", "", width=2, min_width=2),
    Column("name", "Profile", min_width=8, max_width=24),
    Column("kind", "Kind", width=11, min_width=8),
    Column("target", "Target", min_width=12, max_width=60),
    Column("flags", "Flags", min_width=9, max_width=22, priority=1),
]


def profile_row(summary: dict) -> Row[str]:
    flags = " ".join(f for f, on in (("READ-ONLY", summary.get("read_only")),
                                     ("PRODUCTION", summary.get("production"))) if on)
    cells = (
        "●" if summary.get("in_effect") else ("○" if summary.get("current") else ""),
        sanitize(summary["name"], max_length=64),
        sanitize(summary.get("kind", ""), max_length=20),
        sanitize(summary.get("target", ""), max_length=200),
        flags,
    )
    style = "warn" if summary.get("production") else None
    return Row(key=summary["name"], cells=cells, style=style, data=summary)


class ContextsScreen(ConsoleScreen):
    SCREEN_TITLE = "Profiles"
    COMMAND = "ctx"

    BINDINGS = [
        Binding("u", "use", "Use and remember", id="ctx.use"),
        Binding("f5", "reload", "Reload", show=False, id="ctx.reload"),
    ]

    DEFAULT_CSS = """
    ContextsScreen #ctx-table { height: 1fr; }
    """

    class Loaded(Message):
        def __init__(self, rows: list[Row[str]] | None, error: BaseException | None = None) -> None:
            super().__init__()
            self.rows, self.error = rows, error

    def compose_body(self) -> ComposeResult:
        yield ResourceTable(COLUMNS, id="ctx-table")

    @property
    def table(self) -> ResourceTable:
        return self.query_one("#ctx-table", ResourceTable)

    def focus_body(self) -> None:
        self.table.focus()

    def on_mount(self) -> None:
        self.table.placeholder = "reading config.toml…"
        self.table.focus()
        self.action_reload()

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="ctx-load")
    def load(self) -> None:
        from aiconsole.config.profiles import profile_summaries

        try:
            rows = [profile_row(s) for s in profile_summaries()]
        except Exception as exc:  # noqa: BLE001
            self.post_message(self.Loaded(None, exc))
            return
        self.post_message(self.Loaded(rows))

    def on_contexts_screen_loaded(self, message: Loaded) -> None:
        table = self.table
        if message.error is not None:
            table.placeholder = "the config file could not be read"
            self.app.show_error(message.error, "Cannot read the profiles")
            return
        table.replace_rows(message.rows)
        table.placeholder = "no profiles yet: add one with `aiconsole profile add`"
        self.set_status(f"{len(message.rows)} profiles · ● in use · enter switch · u switch and remember")
        self.mark_updated()

    def filter_changed(self, text: str) -> None:
        self.table.set_filter(text)

    def on_resource_table_selected(self, message: ResourceTable.Selected) -> None:
        self.switch(str(message.key), remember=False)

    def action_use(self) -> None:
        key = self.table.cursor_key
        if key is not None:
            self.switch(str(key), remember=True)

    @work(thread=True, exclusive=True, exit_on_error=False, group="ctx-switch")
    def switch(self, name: str, remember: bool) -> None:
        from aiconsole.config.profiles import connection_for_profile, use_profile

        try:
            connection = connection_for_profile(name)
            if remember:
                use_profile(name)
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.app.show_error, exc, f"Cannot switch to '{name}'")
            return
        self.app.call_from_thread(self.app.switch_connection, connection)
