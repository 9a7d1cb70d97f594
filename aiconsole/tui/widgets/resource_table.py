"""``ResourceTable``: a virtualised, keyed table for lists far larger than the screen.

It paints only the lines in view through Textual's Line API (``ScrollView.render_line``), so a
repaint costs the same at 100 rows and at 100,000 — no widget per row, no DataTable. The rows,
their order, the filter and the marks live in a plain ``TableModel``; changes are applied to
the model at once and the (possibly expensive) view recomputation and repaint are coalesced, so
a burst of pages or keystrokes costs one recompute.

Line 0 of the viewport is the column header and never scrolls; rows start on line 1.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from aiconsole.tui.widgets.table_model import Column, Row, TableModel, layout

STATES = ("ok", "warn", "throttled", "expired", "stale", "muted")
GAP = 1
GUTTER = 2  # cursor glyph + mark glyph
CURSOR_GLYPH = "▸"
MARK_GLYPH = "✓"
SYNC_INTERVAL = 0.15  # seconds: at most this often recompute the view while data streams in


class ResourceTable(ScrollView, can_focus=True, inherit_bindings=False):
    """A keyed, sortable, filterable table that renders only what is visible."""

    HELP_GROUP = "table"

    BINDINGS = [
        Binding("down,j", "cursor_down", "Down", show=False, id="table.down"),
        Binding("up,k", "cursor_up", "Up", show=False, id="table.up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="table.page_down"),
        Binding("pageup", "page_up", "Page up", show=False, id="table.page_up"),
        Binding("home,g", "first", "First row", show=False, id="table.first"),
        Binding("end,G", "last", "Last row", show=False, id="table.last"),
        Binding("enter", "select", "Open", id="table.select"),
        Binding("space", "toggle_mark", "Mark", show=False, id="table.mark"),
        Binding("s", "cycle_sort", "Sort", id="table.sort"),
        Binding("S", "reverse_sort", "Reverse sort", show=False, id="table.reverse_sort"),
    ]

    COMPONENT_CLASSES = {
        "resource-table--header",
        "resource-table--cursor",
        "resource-table--cursor-blurred",
        "resource-table--marked",
        "resource-table--placeholder",
        *(f"resource-table--{state}" for state in STATES),
    }

    DEFAULT_CSS = """
    ResourceTable {
        height: 1fr;
        background: $surface;
        scrollbar-size-vertical: 1;
        scrollbar-size-horizontal: 0;
        overflow-x: hidden;
    }
    ResourceTable > .resource-table--header { text-style: bold; color: $text-primary; background: $panel; }
    ResourceTable > .resource-table--cursor { background: $block-cursor-background; color: $block-cursor-foreground; text-style: bold; }
    ResourceTable > .resource-table--cursor-blurred { background: $block-cursor-blurred-background; text-style: bold; }
    ResourceTable > .resource-table--marked { text-style: bold; color: $accent; }
    ResourceTable > .resource-table--placeholder { color: $text-muted; text-style: italic; }
    ResourceTable > .resource-table--ok { color: $aic-ok; }
    ResourceTable > .resource-table--warn { color: $aic-warn; }
    ResourceTable > .resource-table--throttled { color: $aic-throttled; text-style: bold; }
    ResourceTable > .resource-table--expired { color: $aic-expired; }
    ResourceTable > .resource-table--stale { color: $aic-stale; }
    ResourceTable > .resource-table--muted { color: $aic-muted; }
    """

    cursor: reactive[int] = reactive(0, always_update=True, repaint=False)
    #: shown on the first row line when the view is empty ("loading…", "no match")
    placeholder: reactive[str] = reactive("", repaint=True)

    # -- messages --------------------------------------------------------------------------
    class CursorMoved(Message):
        """The highlighted row changed (``key`` is None when the view is empty)."""

        def __init__(self, table: "ResourceTable", key: Hashable | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> "ResourceTable":
            return self.table

    class Selected(Message):
        """``enter`` on a row."""

        def __init__(self, table: "ResourceTable", key: Hashable) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> "ResourceTable":
            return self.table

    class ViewChanged(Message):
        """Rows, filter or sort changed: counts and sort labels may need updating."""

        def __init__(self, table: "ResourceTable") -> None:
            super().__init__()
            self.table = table

        @property
        def control(self) -> "ResourceTable":
            return self.table

    def __init__(self, columns: Sequence[Column], *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.model: TableModel[Any] = TableModel(columns)
        self._cursor_key: Hashable | None = None
        self._line_cache: LRUCache[tuple, Strip] = LRUCache(1024)
        self._widths: list[int] = []
        self._layout_key: tuple | None = None
        self._sync_pending = False
        self._last_sync = 0.0
        self._synced_revision = -1

    # -- data API --------------------------------------------------------------------------
    @property
    def columns(self) -> list[Column]:
        return self.model.columns

    def add_rows(self, rows: Iterable[Row[Any]]) -> None:
        """Add or replace rows (by key); the view and the screen update shortly after."""
        self.model.upsert_many(rows)
        self._schedule_sync()

    def update_row(self, row: Row[Any]) -> None:
        """Replace one row in place (same key keeps its position)."""
        self.model.upsert(row)
        self._schedule_sync()

    def replace_rows(self, rows: Iterable[Row[Any]]) -> None:
        """Make the table hold exactly ``rows``: update in place by key, add new ones, drop the
        rest. Refreshing views use this so the cursor, sort and filter survive a reload."""
        rows = list(rows)
        fresh = {row.key for row in rows}
        for key in [r.key for r in self.model.rows() if r.key not in fresh]:
            self.model.remove(key)
        self.model.upsert_many(rows)
        self._schedule_sync()

    def remove_row(self, key: Hashable) -> None:
        self.model.remove(key)
        self._schedule_sync()

    def clear(self) -> None:
        self.model.clear()
        self._cursor_key = None
        self.sync_now()

    def set_filter(self, text: str | None = None, predicate: Callable[[Row[Any]], bool] | None = None) -> None:
        """Filter as the user types: applied at once (the narrowing path is cheap)."""
        self.model.set_filter(text, predicate)
        self.sync_now()

    def set_sort(self, column: int | str | None, reverse: bool = False) -> None:
        if isinstance(column, str):
            column = next(i for i, c in enumerate(self.columns) if c.key == column)
        self.model.set_sort(column, reverse)
        self.sync_now()

    @property
    def cursor_key(self) -> Hashable | None:
        return self.model.key_at(self.cursor)

    @property
    def cursor_row(self) -> Row[Any] | None:
        return self.model.row_at(self.cursor)

    def move_cursor_to_key(self, key: Hashable) -> bool:
        index = self.model.index_of(key)
        if index is None:
            return False
        self.cursor = index
        return True

    # -- coalescing ------------------------------------------------------------------------
    def _schedule_sync(self) -> None:
        """Recompute at most every SYNC_INTERVAL while rows stream in; the first batch at once."""
        if self._sync_pending:
            return
        self._sync_pending = True
        wait = self._last_sync + SYNC_INTERVAL - time.monotonic()
        if wait <= 0 or not self.is_mounted:
            self.call_later(self._run_pending_sync)
        else:
            self.set_timer(wait, self._run_pending_sync)

    def _run_pending_sync(self) -> None:
        self._sync_pending = False
        self.sync_now()

    def sync_now(self) -> None:
        """Recompute the view (if stale), keep the cursor on its row, repaint, tell the screen."""
        self._last_sync = time.monotonic()
        model = self.model
        view = model.view  # recompute here, not in render_line
        if model.revision == self._synced_revision:
            return
        self._synced_revision = model.revision
        index = None
        if self._cursor_key is not None:
            index = model.index_of(self._cursor_key)
        if index is None:
            index = min(self.cursor, max(0, len(view) - 1))
        self._line_cache.clear()
        self._update_virtual_size()
        self.cursor = index
        self.refresh()
        self.post_message(self.ViewChanged(self))

    # -- geometry --------------------------------------------------------------------------
    def _update_virtual_size(self) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width, self.model.visible_count + 1)

    def on_resize(self, event: events.Resize) -> None:
        self._line_cache.clear()
        self._update_virtual_size()
        self._scroll_cursor_into_view()

    @property
    def body_height(self) -> int:
        """Rows that fit under the header."""
        return max(1, self.scrollable_content_region.height - 1)

    def _column_widths(self, width: int) -> list[int]:
        key = (width, tuple(self.model.measured))
        if key != self._layout_key:
            self._widths = layout(self.columns, self.model.measured, max(1, width - GUTTER), gap=GAP)
            self._layout_key = key
            self._line_cache.clear()
        return self._widths

    # -- cursor ----------------------------------------------------------------------------
    def validate_cursor(self, value: int) -> int:
        count = self.model.visible_count
        return 0 if count == 0 else max(0, min(value, count - 1))

    def watch_cursor(self, old: int, new: int) -> None:
        key = self.model.key_at(new)
        changed = key != self._cursor_key
        self._cursor_key = key
        self._scroll_cursor_into_view()
        self.refresh()
        if changed or old != new:
            self.post_message(self.CursorMoved(self, key))

    def _scroll_cursor_into_view(self) -> None:
        top = round(self.scroll_offset.y)
        height = self.body_height
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)

    def action_cursor_down(self) -> None:
        self.cursor += 1

    def action_cursor_up(self) -> None:
        self.cursor -= 1

    def action_page_down(self) -> None:
        self.cursor += self.body_height

    def action_page_up(self) -> None:
        self.cursor -= self.body_height

    def action_first(self) -> None:
        self.cursor = 0

    def action_last(self) -> None:
        self.cursor = self.model.visible_count - 1

    def action_select(self) -> None:
        key = self.cursor_key
        if key is not None:
            self.post_message(self.Selected(self, key))

    def action_toggle_mark(self) -> None:
        key = self.cursor_key
        if key is not None:
            self.model.toggle_mark(key)
            self._line_cache.clear()
            self.cursor += 1
            self.post_message(self.ViewChanged(self))

    def action_cycle_sort(self) -> None:
        self.model.cycle_sort()
        self.sync_now()

    def action_reverse_sort(self) -> None:
        self.model.reverse_sort()
        self.sync_now()

    def on_click(self, event: events.Click) -> None:
        if event.y >= 1:
            self.cursor = round(self.scroll_offset.y) + event.y - 1
            if event.chain >= 2:
                self.action_select()

    def on_focus(self) -> None:
        self._line_cache.clear()
        self.refresh()

    def on_blur(self) -> None:
        self._line_cache.clear()
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._line_cache.clear()

    # -- painting --------------------------------------------------------------------------
    def sort_label(self) -> str:
        """``created ▼`` or ``unsorted``: for the screen's status line."""
        col = self.model.sort_column
        if col is None:
            return "unsorted"
        return f"{self.columns[col].title.lower()} {'▼' if self.model.sort_reverse else '▲'}"

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        widths = self._column_widths(width)
        base = self.rich_style
        if y == 0:
            return self._render_header(widths, width, base)
        index = round(self.scroll_offset.y) + y - 1
        model = self.model
        row = model.row_at(index)
        if row is None:
            if index == 0 and self.placeholder:
                style = base + self.get_component_rich_style("resource-table--placeholder")
                return Strip([Segment(_fit(" " * GUTTER + self.placeholder, width), style)], width)
            return Strip.blank(width, base)
        is_cursor = index == self.cursor
        marked = model.is_marked(row.key)
        cache_key = (row.key, model.revision, width, is_cursor, marked, self.has_focus)
        cached = self._line_cache.get(cache_key)
        if cached is not None:
            return cached
        strip = self._render_row(row, widths, width, base, is_cursor, marked)
        self._line_cache[cache_key] = strip
        return strip

    def _render_header(self, widths: list[int], width: int, base: Style) -> Strip:
        style = base + self.get_component_rich_style("resource-table--header")
        segments = [Segment(" " * GUTTER, style)]
        sort_col = self.model.sort_column
        first = True
        for i, (col, w) in enumerate(zip(self.columns, widths)):
            if not w:
                continue
            if not first:
                segments.append(Segment(" " * GAP, style))
            first = False
            title = col.title
            if i == sort_col:
                title = f"{title}{'▼' if self.model.sort_reverse else '▲'}"
            segments.append(Segment(_fit(title, w, col.align), style))
        return Strip(segments).adjust_cell_length(width, style)

    def _render_row(self, row: Row[Any], widths: list[int], width: int, base: Style, is_cursor: bool,
                    marked: bool) -> Strip:
        row_style = base
        if row.style:
            row_style = row_style + self.get_component_rich_style(f"resource-table--{row.style}")
        if marked:
            row_style = row_style + self.get_component_rich_style("resource-table--marked")
        cursor_style: Style | None = None
        if is_cursor:
            cursor_style = self.get_component_rich_style(
                "resource-table--cursor" if self.has_focus else "resource-table--cursor-blurred"
            )
        plain = base + cursor_style if cursor_style else base
        gutter = (CURSOR_GLYPH if is_cursor else " ") + (MARK_GLYPH if marked else " ")
        segments = [Segment(gutter, plain + self.get_component_rich_style("resource-table--marked") if marked else plain)]
        first = True
        for i, w in enumerate(widths):
            if not w:
                continue
            if not first:
                segments.append(Segment(" " * GAP, plain))
            first = False
            cell_state = row.cell_styles.get(i)
            style = row_style
            if cell_state:
                style = style + self.get_component_rich_style(f"resource-table--{cell_state}")
            if cursor_style is not None:
                # The cursor bar wins over state colours (which can be illegible on it); the state
                # glyphs still say what each state is.
                style = style + cursor_style
            cell = row.cells[i] if i < len(row.cells) else ""
            segments.append(Segment(_fit(cell, w, self.columns[i].align), style))
        return Strip(segments).adjust_cell_length(width, plain)


def _fit(text: str, width: int, align: str = "left") -> str:
    """Exactly ``width`` cells: truncated with … or padded (cell-aware for wide characters)."""
    from rich.cells import cell_len, set_cell_size

    length = cell_len(text)
    if length > width:
        return set_cell_size(text, width - 1) + "…" if width > 1 else "…"[:width]
    pad = " " * (width - length)
    return pad + text if align == "right" else text + pad
