"""``:audit`` with Pilot: entries newest first, glyphs for results, and chain verification."""

from __future__ import annotations

import pytest

from aiconsole.audit.journal import AuditJournal
from aiconsole.tui.screens.audit import AuditScreen
from tests.tui.helpers import SIZES, has_rows, make_app, wait_until

pytestmark = pytest.mark.anyio



def seed_journal() -> AuditJournal:
    j = AuditJournal()
    j.append(action="keys.rotate", target="subscription:alpha", result="ok", before={"fingerprint": "aaaa1111"})
    j.append(action="limits.set", target="policy:product:starter", result="failed", error="changed by someone else")
    j.append(action="keys.rotate", target="subscription:\x1b[31mbeta", result="refused", reason="read-only")
    return j


async def open_audit(pilot) -> AuditScreen:
    pilot.app.run_command("audit")
    await wait_until(pilot, lambda: has_rows(pilot.app.screen, AuditScreen), what="the journal")
    return pilot.app.screen


@pytest.mark.parametrize("size", SIZES)
async def test_entries_newest_first_with_result_glyphs_and_no_escapes(size):
    seed_journal()
    app = make_app()
    async with app.run_test(size=size) as pilot:
        screen = await open_audit(pilot)
        rows = [screen.table.model.row_at(i) for i in range(screen.table.model.visible_count)]
        assert [r.cells[1] for r in rows] == ["⊘ refused", "✗ failed", "✓ ok"]
        assert "\x1b" not in rows[0].cells[3] and "beta" in rows[0].cells[3]


async def test_verify_reports_an_intact_chain_then_names_a_tampered_line():
    j = seed_journal()
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_audit(pilot)
        await pilot.press("v")
        await wait_until(pilot, lambda: "chain intact" in str(screen.query_one("#status").render()), what="verdict")
        lines = j.path.read_text().splitlines()
        lines[0] = lines[0].replace("aaaa1111", "bbbb2222")
        j.path.write_text("\n".join(lines) + "\n")
        await pilot.press("v")
        await wait_until(pilot, lambda: "✗" in str(screen.query_one("#status").render()), what="tamper verdict")
        assert "Line 2" in str(screen.query_one("#status").render())
