"""Subscription rows: glyph + word for every state, the expired-by-date mark, and sanitising."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from aiconsole.domain.models import Scope, Subscription, SubscriptionState
from aiconsole.tui.rows.subscriptions import COLUMNS, STATE_COLUMN, subscription_row

NOW = datetime(2026, 1, 15, tzinfo=timezone.utc)


def _sub(**kw) -> Subscription:
    base = dict(name="s1", display_name="Team", state=SubscriptionState.active,
                scope=Scope.parse("/x/products/starter"), created_date=NOW - timedelta(days=3))
    base.update(kw)
    return Subscription(**base)


@pytest.mark.parametrize(
    "state, text, style",
    [
        ("active", "● active", "ok"),
        ("suspended", "‖ suspended", "warn"),
        ("submitted", "… submitted", "muted"),
        ("rejected", "✗ rejected", "throttled"),
        ("cancelled", "✗ cancelled", "muted"),
        ("expired", "⌛ expired", "expired"),
    ],
)
def test_every_state_has_a_glyph_and_a_word(state, text, style):
    row = subscription_row(_sub(state=SubscriptionState(state)), NOW)
    assert row.cells[STATE_COLUMN] == text
    assert row.cell_styles[STATE_COLUMN] == style
    assert len(row.cells) == len(COLUMNS)


def test_active_past_its_expiry_date_is_marked():
    row = subscription_row(_sub(expiration_date=NOW - timedelta(days=1)), NOW)
    assert row.cells[STATE_COLUMN] == "● active ⌛"
    assert row.cell_styles[STATE_COLUMN] == "expired"
    assert row.cells[6] == (NOW - timedelta(days=1)).strftime("%Y-%m-%d")


def test_server_strings_are_sanitised():
    evil = "Team\x1b]0;pwned\x07 \x1b[31mred\x1b[0m\u202eevil"
    row = subscription_row(_sub(display_name=evil, owner_id="/x/users/bob\x1b[2J"), NOW)
    for cell in row.cells:
        assert "\x1b" not in cell and "\u202e" not in cell and "\x07" not in cell
    assert row.cells[1] == "Team red" + "evil"
    assert row.cells[4] == "bob"


def test_sort_values_put_missing_dates_last():
    from aiconsole.tui.widgets.table_model import TableModel

    model = TableModel(COLUMNS)
    model.upsert_many([
        subscription_row(_sub(name="a", created_date=None), NOW),
        subscription_row(_sub(name="b", created_date=NOW - timedelta(days=9)), NOW),
        subscription_row(_sub(name="c", created_date=NOW - timedelta(days=1)), NOW),
    ])
    model.set_sort(5)
    assert model.view == ["b", "c", "a"]


def test_a_row_keeps_a_compact_copy_that_rebuilds_the_same_subscription():
    sub = _sub(display_name="Team", expiration_date=NOW + timedelta(days=3), owner_id="/x/users/bob")
    row = subscription_row(sub, NOW)
    assert not hasattr(row.data, "__dict__")  # slots only: no per-row dict
    assert row.data.subscription() == sub
