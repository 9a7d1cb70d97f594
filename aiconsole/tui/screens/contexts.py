"""``:ctx`` — switch the console to another profile without restarting it (k9s's contexts).

Profiles come from config.toml; building a connection may touch the network (a sandbox
profile asks the sandbox for its ids), so it happens in a worker. ``enter`` switches for this
session; ``u`` also makes the profile the file's ``current`` one.
"""

from __future__ import annotations

from textual import work
from textual.binding import Binding

from aiconsole.domain.text import sanitize
from aiconsole.tui.screens.table_screen import TableScreen
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


class ContextsScreen(TableScreen):
    SCREEN_TITLE = "Profiles"
    COMMAND = "ctx"
    COLUMNS = COLUMNS
    TABLE_ID = "ctx-table"
    LOADING_TEXT = "reading config.toml…"
    EMPTY_TEXT = "no profiles yet: add one with `aiconsole profile add`"
    FAILED_TEXT = "the config file could not be read"
    ERROR_TITLE = "Cannot read the profiles"

    BINDINGS = [
        Binding("u", "use", "Use and remember", id="ctx.use"),
        Binding("f5", "reload", "Reload", show=False, id="ctx.reload"),
    ]

    def read(self) -> tuple[None, list[Row[str]]]:
        from aiconsole.config.profiles import profile_summaries

        return None, [profile_row(s) for s in profile_summaries()]

    def loaded(self, result: None, rows: list[Row[str]]) -> None:
        self.set_status(f"{len(rows)} profiles · ● in use · enter switch · u switch and remember")

    def failed(self) -> None:
        pass  # the notification says it; the status line keeps what it had

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
