"""The first screen: every subscription of the service in a virtualised table.

Pages are fetched in a thread worker and shown as they arrive (the first page long before the
last), rendered to rows in the worker (sanitising is work, too), and applied on the UI loop by
message. ``/`` filters locally as you type; ``s``/``S`` sort; ``enter`` opens the detail with
the keys; ``l`` is the door to effective limits once that screen is registered.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.worker import get_current_worker

from aiconsole.tui.memory import release_long_lived, settle_long_lived
from aiconsole.tui.rows.subscriptions import COLUMNS, subscription_row
from aiconsole.tui.screens.issue import LifecycleActions
from aiconsole.tui.widgets.resource_table import ResourceTable
from aiconsole.tui.widgets.table_model import Row


class SubscriptionsScreen(LifecycleActions):
    SCREEN_TITLE = "Subscriptions"
    COMMAND = "subs"

    BINDINGS = [
        Binding("f5", "reload", "Reload", show=False, id="subs.reload"),
        Binding("l", "limits", "Limits", show=False, id="subs.limits"),
    ]

    DEFAULT_CSS = """
    SubscriptionsScreen #subs-table { height: 1fr; }
    """

    class PageLoaded(Message):
        def __init__(self, rows: list[Row[str]], page: int) -> None:
            super().__init__()
            self.rows, self.page = rows, page

    class LoadFinished(Message):
        def __init__(self, error: BaseException | None, pages: int) -> None:
            super().__init__()
            self.error, self.pages = error, pages

    def __init__(self) -> None:
        super().__init__()
        self.loading_pages: int | None = None  # pages received so far while loading; None when idle
        self._seen: set[str] = set()
        self._failed = False

    def compose_body(self) -> ComposeResult:
        yield ResourceTable(COLUMNS, id="subs-table")

    @property
    def table(self) -> ResourceTable:
        return self.query_one("#subs-table", ResourceTable)

    def focus_body(self) -> None:
        self.table.focus()

    def on_mount(self) -> None:
        table = self.table
        table.placeholder = "loading subscriptions…"
        if self.filter_text:
            table.set_filter(self.filter_text)
        table.focus()
        self._update_status()
        self.action_reload()

    def on_unmount(self) -> None:
        # The rows leave with the screen (esc, :ctx, quit): let the collector reach them again.
        release_long_lived()

    # -- loading ---------------------------------------------------------------------------
    def action_reload(self) -> None:
        release_long_lived()
        self.loading_pages = 0
        self._seen = set()
        self._failed = False
        self._update_status()
        self.load_pages()

    @work(thread=True, exclusive=True, exit_on_error=False, group="subs-load")
    def load_pages(self) -> None:
        """Runs in a thread: fetch pages, render rows, post them; never touches widgets."""
        worker = get_current_worker()
        pages = 0
        try:
            service = self.app.hub.subscriptions()
            for page in service.iter_pages():
                if worker.is_cancelled:
                    return
                now = self.app.clock.now()
                pages += 1
                self.post_message(self.PageLoaded([subscription_row(s, now) for s in page], pages))
        except Exception as exc:  # noqa: BLE001 - reported as a sentence by the UI
            self.post_message(self.LoadFinished(exc, pages))
            return
        self.post_message(self.LoadFinished(None, pages))

    def on_subscriptions_screen_page_loaded(self, message: PageLoaded) -> None:
        self.loading_pages = message.page
        self._seen.update(row.key for row in message.rows)
        self.table.add_rows(message.rows)
        settle_long_lived()
        self.mark_updated()
        self._update_status()

    def on_subscriptions_screen_load_finished(self, message: LoadFinished) -> None:
        self.loading_pages = None
        table = self.table
        if message.error is not None:
            self._failed = True
            table.placeholder = "could not load subscriptions (f5 retries)"
            self.app.show_error(message.error, "Cannot list subscriptions")
        else:
            # A full reload: drop rows that no longer exist on the server.
            for key in [r.key for r in table.model.rows() if r.key not in self._seen]:
                table.remove_row(key)
            table.placeholder = "no subscriptions"
            self.mark_updated()
        self._update_status()

    # -- status ----------------------------------------------------------------------------
    def on_resource_table_view_changed(self, message: ResourceTable.ViewChanged) -> None:
        self._update_status()

    def filter_changed(self, text: str) -> None:
        table = self.table
        table.set_filter(text)
        if text and table.model.visible_count == 0 and len(table.model):
            table.placeholder = f"no subscription matches '{text}'"
        elif len(table.model):
            table.placeholder = "no subscriptions"
        self._update_status()

    def _update_status(self) -> None:
        try:
            table = self.table
        except Exception:  # noqa: BLE001 - not composed yet
            return
        model = table.model
        parts = [f"{model.count_label()} subscriptions"]
        if model.sort_column is not None:
            parts.append(f"sort {table.sort_label()}")
        if self.filter_text:
            parts.append(f"filter '{self.filter_text}'")
        marks = model.mark_count
        if marks:
            parts.append(f"{marks} marked")
        if self.loading_pages is not None:
            parts.append(f"loading… page {self.loading_pages + 1}")
        elif self._failed:
            parts.append("load failed")
        self.set_status(" · ".join(parts))

    # -- drill in --------------------------------------------------------------------------
    def on_resource_table_selected(self, message: ResourceTable.Selected) -> None:
        from aiconsole.tui.screens.subscription_detail import SubscriptionDetailScreen

        row = self.table.model.get(message.key)
        if row is not None:
            self.app.push_screen(SubscriptionDetailScreen(row.data.subscription()))

    def action_limits(self) -> None:
        key = self.table.cursor_key
        if key is not None:
            open_limits(self.app, str(key))


def open_limits(app, sid: str) -> None:
    """The hook for effective limits (issue #4): opens ``:limits SID`` once it is registered."""
    from aiconsole.tui.screens import resolve

    if resolve("limits") is None:
        app.notify("Effective limits are not part of this version yet.", severity="warning", markup=False)
        return
    app.run_command(f"limits {sid}")
