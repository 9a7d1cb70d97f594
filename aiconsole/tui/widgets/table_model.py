"""The data behind a ``ResourceTable``: keyed rows, sort, filter and marks, in plain Python.

It lives apart from the widget so that it can be property-tested against a reference list and
so that the expensive parts (filtering and sorting 100,000 rows) happen when the data or the
query changes — never while a line is being painted. Nothing here imports Textual.

Semantics (the property tests hold the model to these):

* rows keep their first insertion order; updating a row keeps its place;
* the *view* is the rows that pass the filter, in insertion order, then stably sorted by the
  sort column (``None`` values last in ascending order, first in descending order);
* the text filter is a case-insensitive substring test over every cell of the row (its
  ``search`` text); a predicate filter, when set, must also pass;
* marks belong to keys and survive filtering and sorting; removing a row drops its mark.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Column:
    """One column: its header, how wide it likes to be and how willing it is to shrink.

    ``width`` is the preferred width (``None``: measured from the data); ``min_width`` the
    narrowest it may become before it is hidden; columns with a higher ``priority`` number are
    hidden first when the terminal is too narrow for all of them.
    """

    key: str
    title: str
    width: int | None = None
    min_width: int = 4
    max_width: int = 40
    priority: int = 0
    align: str = "left"


@dataclass
class Row(Generic[K]):
    """One row: display cells (already sanitised strings), sort values and a state style.

    ``sort`` holds one sortable value per column (``None`` sorts last); when omitted the cell
    text is used. ``style`` names a state (``ok``, ``warn``, ``throttled``, ``expired``,
    ``stale``, ``muted``) that the widget maps to a theme colour; ``cell_styles`` overrides it
    for single columns (by index).
    """

    key: K
    cells: tuple[str, ...]
    sort: tuple[Any, ...] | None = None
    style: str | None = None
    cell_styles: dict[int, str] = field(default_factory=dict)
    data: Any = None

    def sort_value(self, column: int) -> Any:
        if self.sort is not None:
            return self.sort[column]
        return self.cells[column]

    @property
    def search(self) -> str:
        return "\x00".join(self.cells).lower()


def _sort_key(value: Any) -> tuple[int, Any]:
    """None sorts after every value (ascending); other values compare among themselves."""
    return (1, 0) if value is None else (0, value)


class TableModel(Generic[K]):
    """Rows by key plus the current query; ``view`` is the visible, ordered list of keys."""

    def __init__(self, columns: Sequence[Column]) -> None:
        self.columns: list[Column] = list(columns)
        self._rows: dict[K, Row[K]] = {}
        self._search: dict[K, str] = {}
        self._order: list[K] = []  # insertion order
        self._view: list[K] = []
        self._dirty = False
        self._filter_text = ""
        self._predicate: Callable[[Row[K]], bool] | None = None
        self._sort_column: int | None = None
        self._sort_reverse = False
        self._marks: set[K] = set()
        self.revision = 0  # bumped on every change that may alter what is painted
        #: widest cell seen per column (``len``), so layout never has to scan every row
        self.measured: list[int] = [len(c.title) for c in self.columns]

    # -- rows ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    def get(self, key: K) -> Row[K] | None:
        return self._rows.get(key)

    def rows(self) -> list[Row[K]]:
        """Every row in insertion order (not the view)."""
        return [self._rows[k] for k in self._order]

    def upsert(self, row: Row[K]) -> None:
        self.upsert_many((row,))

    def upsert_many(self, rows: Iterable[Row[K]]) -> None:
        """Add new rows at the end, replace existing ones in place (same key, same position).

        Appending new rows to an unsorted view extends it without recomputing it; anything
        else marks the view dirty so that the next ``view`` read recomputes it once.
        """
        appended: list[K] = []
        replaced = False
        for row in rows:
            key = row.key
            if key in self._rows:
                replaced = True
            else:
                self._order.append(key)
                appended.append(key)
            self._rows[key] = row
            self._search[key] = row.search
            measured = self.measured
            for i, cell in enumerate(row.cells):
                if len(cell) > measured[i]:
                    measured[i] = len(cell)
        if not appended and not replaced:
            return
        self.revision += 1
        if replaced or self._sort_column is not None or self._dirty:
            self._dirty = True
        else:
            self._view.extend(k for k in appended if self._passes(k))

    def remove(self, key: K) -> None:
        if key not in self._rows:
            return
        del self._rows[key]
        del self._search[key]
        self._order.remove(key)
        self._marks.discard(key)
        self._dirty = True
        self.revision += 1

    def clear(self) -> None:
        self._rows.clear()
        self._search.clear()
        self._order.clear()
        self._view = []
        self._marks.clear()
        self._dirty = False
        self.revision += 1

    # -- query -----------------------------------------------------------------------------
    @property
    def filter_text(self) -> str:
        return self._filter_text

    def set_filter(self, text: str | None = None, predicate: Callable[[Row[K]], bool] | None = None) -> None:
        """Show only rows whose cells contain ``text`` (case-insensitive) and pass ``predicate``."""
        text = (text or "").lower()
        if text == self._filter_text and predicate is self._predicate:
            return
        if (
            predicate is self._predicate
            and not self._dirty
            and self._filter_text
            and text.startswith(self._filter_text)
        ):
            # Typing one more character can only narrow: filter the current view.
            self._filter_text = text
            self._view = [k for k in self._view if text in self._search[k]]
            self.revision += 1
            return
        self._filter_text = text
        self._predicate = predicate
        self._dirty = True
        self.revision += 1

    @property
    def sort_column(self) -> int | None:
        return self._sort_column

    @property
    def sort_reverse(self) -> bool:
        return self._sort_reverse

    def set_sort(self, column: int | None, reverse: bool = False) -> None:
        if column is not None and not 0 <= column < len(self.columns):
            raise IndexError(column)
        if (column, reverse) == (self._sort_column, self._sort_reverse):
            return
        self._sort_column = column
        self._sort_reverse = reverse
        self._dirty = True
        self.revision += 1

    def cycle_sort(self) -> None:
        """Unsorted → column 0 → column 1 → … → unsorted, keeping the direction."""
        if self._sort_column is None:
            self.set_sort(0, self._sort_reverse)
        elif self._sort_column + 1 < len(self.columns):
            self.set_sort(self._sort_column + 1, self._sort_reverse)
        else:
            self.set_sort(None, self._sort_reverse)

    def reverse_sort(self) -> None:
        self.set_sort(self._sort_column if self._sort_column is not None else 0, not self._sort_reverse)

    # -- marks -----------------------------------------------------------------------------
    def toggle_mark(self, key: K) -> bool:
        """Mark or unmark ``key``; returns whether it is now marked."""
        if key not in self._rows:
            return False
        self.revision += 1
        if key in self._marks:
            self._marks.discard(key)
            return False
        self._marks.add(key)
        return True

    def is_marked(self, key: K) -> bool:
        return key in self._marks

    @property
    def marks(self) -> list[K]:
        """Marked keys in insertion order."""
        if not self._marks:
            return []
        return [k for k in self._order if k in self._marks]

    @property
    def mark_count(self) -> int:
        return len(self._marks)

    def clear_marks(self) -> None:
        if self._marks:
            self._marks.clear()
            self.revision += 1

    # -- the view --------------------------------------------------------------------------
    @property
    def view(self) -> list[K]:
        """The keys to show, in order. Recomputed at most once per change."""
        if self._dirty:
            self._recompute()
        return self._view

    @property
    def visible_count(self) -> int:
        return len(self.view)

    def key_at(self, index: int) -> K | None:
        view = self.view
        return view[index] if 0 <= index < len(view) else None

    def row_at(self, index: int) -> Row[K] | None:
        key = self.key_at(index)
        return None if key is None else self._rows[key]

    def index_of(self, key: K) -> int | None:
        try:
            return self.view.index(key)
        except ValueError:
            return None

    def count_label(self) -> str:
        """``123 of 10,000`` — what the screens show beside the table."""
        return f"{self.visible_count:,} of {len(self._rows):,}"

    def _passes(self, key: K) -> bool:
        if self._filter_text and self._filter_text not in self._search[key]:
            return False
        if self._predicate is not None and not self._predicate(self._rows[key]):
            return False
        return True

    def _recompute(self) -> None:
        text = self._filter_text
        search = self._search
        if text and self._predicate is None:
            keys = [k for k in self._order if text in search[k]]
        elif text or self._predicate is not None:
            keys = [k for k in self._order if self._passes(k)]
        else:
            keys = list(self._order)
        if self._sort_column is not None:
            col = self._sort_column
            rows = self._rows
            if self._sort_reverse:
                # Stable descending order with None first: sort ascending by the inverted
                # order of equal groups is awkward, so reverse=True on the same key keeps
                # equal items in insertion order (Python's sort is stable in both directions).
                keys.sort(key=lambda k: _sort_key(rows[k].sort_value(col)), reverse=True)
            else:
                keys.sort(key=lambda k: _sort_key(rows[k].sort_value(col)))
        self._view = keys
        self._dirty = False


def layout(columns: Sequence[Column], measured: Sequence[int], available: int, *, gap: int = 1) -> list[int]:
    """Column widths (0 = hidden) that fit ``available`` cells, ``gap`` cells between columns.

    Each column wants its fixed ``width`` or its measured content (between ``min_width`` and
    ``max_width``, never narrower than its title would like but allowed to shrink). When the
    total is too wide, the widest columns give up cells first down to their ``min_width``; if
    that is not enough, the column with the highest ``priority`` number is hidden and we retry.
    """
    n = len(columns)
    want = []
    for col, m in zip(columns, measured):
        w = col.width if col.width is not None else max(min(m, col.max_width), min(len(col.title), col.max_width))
        want.append(max(w, col.min_width))
    visible = list(range(n))
    while visible:
        widths = {i: want[i] for i in visible}
        total = sum(widths.values()) + gap * (len(visible) - 1)
        excess = total - available
        if excess > 0:
            # Shave one cell at a time from the column with the most room above its minimum.
            spare = {i: widths[i] - columns[i].min_width for i in visible}
            budget = sum(spare.values())
            if budget >= excess:
                while excess > 0:
                    i = max(visible, key=lambda j: (widths[j] - columns[j].min_width, -j))
                    widths[i] -= 1
                    excess -= 1
            else:
                drop = max(visible, key=lambda j: (columns[j].priority, j))
                if len(visible) == 1:
                    widths[drop] = max(0, available)
                    return [widths.get(i, 0) for i in range(n)]
                visible.remove(drop)
                continue
        return [widths.get(i, 0) for i in range(n)]
    return [0] * n
