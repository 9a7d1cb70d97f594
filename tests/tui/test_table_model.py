"""The ResourceTable's model against a plain reference list, for random operation sequences.

The reference is written independently (explicit ordering rules, no shared code), so that an
optimisation in the model — the incremental append, the narrowing filter — cannot hide a bug.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from aiconsole.tui.widgets.table_model import Column, Row, TableModel, layout

COLUMNS = [Column("a", "A"), Column("b", "B"), Column("c", "C")]
KEYS = st.sampled_from([f"k{i}" for i in range(12)])
CELL = st.text(alphabet="abAB ", max_size=4)
SORTVAL = st.one_of(st.none(), st.integers(-3, 3))
FILTER = st.text(alphabet="abAB", max_size=3)


class Reference:
    def __init__(self) -> None:
        self.rows: list[tuple[str, tuple[str, ...], tuple]] = []  # insertion order
        self.text = ""
        self.sort: tuple[int, bool] | None = None
        self.marks: set[str] = set()

    def upsert(self, key, cells, sort):
        for i, (k, _, _) in enumerate(self.rows):
            if k == key:
                self.rows[i] = (key, cells, sort)
                return
        self.rows.append((key, cells, sort))

    def remove(self, key):
        self.rows = [r for r in self.rows if r[0] != key]
        self.marks.discard(key)

    def view(self) -> list[str]:
        shown = [(i, r) for i, r in enumerate(self.rows) if any(self.text in cell.lower() for cell in r[1])]
        if self.sort is None:
            return [r[0] for _, r in shown]
        col, reverse = self.sort

        def rank(item):
            index, row = item
            value = row[2][col]
            if not reverse:
                return (value is None, value if value is not None else 0, index)
            # descending: None first, larger values first, ties in insertion order
            return (value is not None, -(value if value is not None else 0), index)

        return [r[0] for _, r in sorted(shown, key=rank)]


class TableMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.model: TableModel[str] = TableModel(COLUMNS)
        self.ref = Reference()

    @rule(key=KEYS, cells=st.tuples(CELL, CELL, CELL), sort=st.tuples(SORTVAL, SORTVAL, SORTVAL))
    def upsert(self, key, cells, sort):
        self.model.upsert(Row(key, cells, sort=sort))
        self.ref.upsert(key, cells, sort)

    @rule(batch=st.lists(st.tuples(KEYS, st.tuples(CELL, CELL, CELL), st.tuples(SORTVAL, SORTVAL, SORTVAL)), max_size=5))
    def upsert_page(self, batch):
        self.model.upsert_many(Row(k, c, sort=s) for k, c, s in batch)
        for k, c, s in batch:
            self.ref.upsert(k, c, s)

    @rule(key=KEYS)
    def remove(self, key):
        self.model.remove(key)
        self.ref.remove(key)

    @rule(text=FILTER)
    def filter(self, text):
        self.model.set_filter(text)
        self.ref.text = text.lower()

    @rule(extra=st.sampled_from("abAB"))
    def type_one_more(self, extra):
        text = self.model.filter_text + extra
        self.model.set_filter(text)
        self.ref.text = text.lower()

    @rule(col=st.one_of(st.none(), st.integers(0, 2)), reverse=st.booleans())
    def sort(self, col, reverse):
        self.model.set_sort(col, reverse)
        self.ref.sort = None if col is None else (col, reverse)

    @rule()
    def cycle(self):
        self.model.cycle_sort()
        cur = self.ref.sort
        reverse = self.model.sort_reverse
        if cur is None:
            self.ref.sort = (0, reverse)
        elif cur[0] < 2:
            self.ref.sort = (cur[0] + 1, reverse)
        else:
            self.ref.sort = None

    @rule(key=KEYS)
    def mark(self, key):
        marked = self.model.toggle_mark(key)
        if any(r[0] == key for r in self.ref.rows):
            if key in self.ref.marks:
                self.ref.marks.discard(key)
            else:
                self.ref.marks.add(key)
        assert marked == (key in self.ref.marks)

    @invariant()
    def view_matches(self):
        assert self.model.view == self.ref.view()

    @invariant()
    def counts_match(self):
        assert len(self.model) == len(self.ref.rows)
        assert self.model.count_label() == f"{len(self.ref.view()):,} of {len(self.ref.rows):,}"

    @invariant()
    def marks_match(self):
        assert self.model.marks == [r[0] for r in self.ref.rows if r[0] in self.ref.marks]

    @invariant()
    def rows_in_insertion_order(self):
        assert [r.key for r in self.model.rows()] == [r[0] for r in self.ref.rows]


TableMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=30, deadline=None)
test_table_model_matches_reference = TableMachine.TestCase


def test_update_in_place_keeps_position_and_changes_cells():
    model: TableModel[str] = TableModel(COLUMNS)
    model.upsert_many(Row(f"k{i}", (str(i), "x", "y")) for i in range(5))
    model.upsert(Row("k2", ("changed", "x", "y")))
    assert model.view == ["k0", "k1", "k2", "k3", "k4"]
    assert model.row_at(2).cells[0] == "changed"


def test_predicate_filter_combines_with_text():
    model: TableModel[str] = TableModel(COLUMNS)
    model.upsert_many(Row(f"k{i}", (f"name{i}", "x", "y"), data=i) for i in range(10))
    model.set_filter("name", predicate=lambda row: row.data % 2 == 0)
    assert model.view == ["k0", "k2", "k4", "k6", "k8"]


def test_count_label_uses_thousands_separators():
    model: TableModel[int] = TableModel(COLUMNS)
    model.upsert_many(Row(i, (str(i), "", "")) for i in range(12_345))
    model.set_filter("99")
    assert model.count_label().endswith(" of 12,345")


def test_hundred_thousand_rows_filter_and_sort():
    """Functional check at the size issue #9 names (no timing asserted)."""
    model: TableModel[int] = TableModel(COLUMNS)
    model.upsert_many(Row(i, (f"sub-{i:06d}", f"team {i % 97}", "active"), sort=(i, i % 97, None)) for i in range(100_000))
    model.set_filter("team 5")
    model.set_filter("team 51")
    assert model.visible_count == sum(1 for i in range(100_000) if "team 51" in f"team {i % 97}")
    model.set_sort(1, reverse=True)
    assert model.row_at(0).sort[1] == 51


@st.composite
def columns_and_measures(draw):
    n = draw(st.integers(1, 7))
    cols, measured = [], []
    for i in range(n):
        min_w = draw(st.integers(1, 10))
        fixed = draw(st.one_of(st.none(), st.integers(min_w, 20)))
        cols.append(Column(f"c{i}", draw(st.text(alphabet="Abc", min_size=1, max_size=12)), width=fixed,
                           min_width=min_w, max_width=draw(st.integers(min_w, 40)), priority=draw(st.integers(0, 3))))
        measured.append(draw(st.integers(0, 60)))
    return cols, measured


@given(columns_and_measures(), st.integers(10, 200))
@settings(max_examples=300, deadline=None)
def test_layout_fits_and_hides_by_priority(cm, available):
    cols, measured = cm
    widths = layout(cols, measured, available)
    visible = [i for i, w in enumerate(widths) if w]
    assert visible, "at least one column is always shown"
    total = sum(widths) + (len(visible) - 1)
    assert total <= available or len(visible) == 1
    if len(visible) > 1:
        for i in visible:
            assert widths[i] >= cols[i].min_width
        hidden = [i for i in range(len(cols)) if not widths[i]]
        for h in hidden:
            for v in visible:
                assert (cols[h].priority, h) > (cols[v].priority, v)
