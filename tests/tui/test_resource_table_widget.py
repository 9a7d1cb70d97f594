"""The ResourceTable widget over 100,000 rows: only visible lines are rendered, the cursor,
filter, in-place updates and truncation behave, and the layout fits 80 columns."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from aiconsole.tui.theming import state_variable_defaults
from aiconsole.tui.widgets.resource_table import ResourceTable
from aiconsole.tui.widgets.table_model import Column, Row

pytestmark = pytest.mark.anyio

COLUMNS = [
    Column("name", "Name", min_width=8, max_width=20),
    Column("desc", "Description", min_width=30, max_width=60),
    Column("state", "State", width=10, min_width=10),
    Column("extra", "Extra", min_width=28, max_width=30, priority=5),
]


class Host(App):
    def get_theme_variable_defaults(self) -> dict[str, str]:
        return state_variable_defaults(self.current_theme)

    def compose(self) -> ComposeResult:
        yield ResourceTable(COLUMNS, id="t")


def _rows(n: int):
    for i in range(n):
        desc = f"a description that is rather long {i % 7}" * (3 if i == 0 else 1)
        yield Row(i, (f"sub-{i:06d}", desc, "● active", "x" * 40),
                  sort=(i, i % 7, "active", ""), cell_styles={2: "ok"})


def _line(table: ResourceTable, y: int) -> str:
    return table.render_line(y).text


async def test_hundred_thousand_rows_render_only_what_is_visible():
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(ResourceTable)
        table.focus()
        table.add_rows(_rows(100_000))
        table.sync_now()
        await pilot.pause()
        assert table.model.count_label() == "100,000 of 100,000"
        assert len(list(table.children)) == 0, "no widget per row"
        assert table.virtual_size.height == 100_001
        header = _line(table, 0)
        assert "Name" in header and "State" in header
        assert "Extra" not in header, "the lowest-priority column gives way at 80 columns"
        assert "…" in _line(table, 1), "long cells are truncated with an ellipsis"
        width = table.scrollable_content_region.width
        assert width >= 78
        assert all(len(_line(table, y)) == width for y in range(0, 22))

        await pilot.press("end")
        assert table.cursor == 99_999
        await pilot.pause()
        assert "sub-099999" in _line(table, table.body_height)

        await pilot.press("pageup")
        assert table.cursor == 99_999 - table.body_height

        table.set_filter("sub-04242")
        assert table.model.visible_count == 10  # sub-042420 … sub-042429
        await pilot.pause()
        assert "sub-042420" in _line(table, 1)

        table.update_row(Row(42421, ("sub-042421", "renamed in place", "‖ suspended", ""),
                             sort=(42421, 0, "suspended", ""), cell_styles={2: "warn"}))
        table.sync_now()
        await pilot.pause()
        assert "renamed in place" in _line(table, 2)
        assert "‖ suspend…" in _line(table, 2)  # the fixed-width column truncates


async def test_cursor_stays_on_its_row_when_the_view_is_resorted():
    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(ResourceTable)
        table.focus()
        table.add_rows(_rows(50))
        table.sync_now()
        await pilot.pause()
        assert "Extra" in _line(table, 0), "wide terminals show every column"
        table.move_cursor_to_key(13)
        await pilot.press("S")  # sort by the first column, descending
        assert table.cursor_key == 13
        assert table.cursor == 36
        assert "▼" in _line(table, 0)


async def test_empty_table_shows_its_placeholder():
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(ResourceTable)
        table.placeholder = "loading subscriptions…"
        await pilot.pause()
        assert "loading subscriptions…" in _line(table, 1)
        await pilot.press("enter", "down", "space")  # nothing to act on: no error
        assert table.cursor_key is None


async def test_replace_rows_updates_in_place_and_drops_vanished_rows():
    async with Host().run_test(size=(80, 10)) as pilot:
        table = pilot.app.query_one(ResourceTable)
        table.add_rows([Row(key=k, cells=(k, "", "", "")) for k in ("a", "b", "c")])
        table.sync_now()
        assert table.move_cursor_to_key("c")
        table.replace_rows([Row(key=k, cells=(k + "2", "", "", "")) for k in ("c", "d", "a")])
        table.sync_now()
        assert sorted(r.key for r in table.model.rows()) == ["a", "c", "d"]
        assert table.model.get("c").cells[0] == "c2"
        assert table.cursor_key == "c"
