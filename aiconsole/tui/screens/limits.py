"""``:limits`` — every token limit in the service, with its overrides, and the edits on them.

``e``/``enter`` edits the selected limit, ``o`` raises a limit for a while (for a subscription
or a product, at the scope of the limit that binds it), ``x`` removes the soonest override of
the selected limit, ``c`` removes every expired override, ``u`` undoes the last write. Every
write goes through the diff preview; ``:limits SID`` opens a subscription's effective chain.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message

from aiconsole.tui.limit_flow import LimitWriteFlow
from aiconsole.tui.rows.limits import LIMIT_COLUMNS, limit_row
from aiconsole.tui.screens.base import ConsoleScreen
from aiconsole.tui.screens.limit_forms import LimitEditForm, OverrideForm
from aiconsole.tui.widgets.resource_table import ResourceTable
from aiconsole.tui.widgets.table_model import Row


class LimitsScreen(LimitWriteFlow, ConsoleScreen):
    SCREEN_TITLE = "Token limits"
    COMMAND = "limits"
    WRITE_ACTIONS = ("edit", "override", "remove_override", "cleanup", "undo")

    BINDINGS = [
        Binding("e", "edit", "Edit", id="limits.edit"),
        Binding("o", "override", "Override", id="limits.override"),
        Binding("x", "remove_override", "Remove override", id="limits.remove_override"),
        Binding("c", "cleanup", "Clean expired", show=False, id="limits.cleanup"),
        Binding("u", "undo", "Undo", id="limits.undo"),
        Binding("f5", "reload", "Reload", show=False, id="limits.reload"),
    ]

    DEFAULT_CSS = """
    LimitsScreen #limits-table { height: 1fr; }
    """

    class Loaded(Message):
        def __init__(self, rows: list[Row[str]] | None, error: BaseException | None = None) -> None:
            super().__init__()
            self.rows, self.error = rows, error

    def __init__(self, open_chain_for: str | None = None) -> None:
        super().__init__()
        self._open_chain_for = open_chain_for

    @classmethod
    def from_command(cls, argument: str = "") -> "LimitsScreen":
        """``:limits`` lists every limit; ``:limits SID`` also opens that subscription's chain."""
        return cls(open_chain_for=argument.strip() or None)

    def compose_body(self) -> ComposeResult:
        yield ResourceTable(LIMIT_COLUMNS, id="limits-table")

    @property
    def table(self) -> ResourceTable:
        return self.query_one("#limits-table", ResourceTable)

    def focus_body(self) -> None:
        self.table.focus()

    def on_mount(self) -> None:
        self.table.placeholder = "reading policies…"
        self.table.focus()
        self.set_status("reading the policies of every scope…")
        self.action_reload()
        if self._open_chain_for:
            self.open_chain(self._open_chain_for)

    def open_chain(self, sid: str) -> None:
        from aiconsole.tui.screens.limit_chain import EffectiveChainScreen

        self.app.push_screen(EffectiveChainScreen(sid))

    # -- loading ---------------------------------------------------------------------------
    def action_reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="limits-load")
    def load(self) -> None:
        from aiconsole.services.limits import LimitsService

        try:
            limits = LimitsService(self.app.hub.context())
            found = limits.list_limits()
            now = limits.now()
            self.post_message(self.Loaded([limit_row(sl, now) for sl in found]))
        except Exception as exc:  # noqa: BLE001
            self.post_message(self.Loaded(None, exc))

    def on_limits_screen_loaded(self, message: Loaded) -> None:
        table = self.table
        if message.error is not None:
            table.placeholder = "could not read the policies (f5 retries)"
            self.app.show_error(message.error, "Cannot list limits")
            self.set_status("load failed")
            return
        table.replace_rows(message.rows)
        table.placeholder = "no limits in this service"
        self.mark_updated()
        active = sum(1 for r in message.rows if "active" in r.cells[5])
        self.set_status(f"{len(message.rows)} limits · {active} with active overrides · e edit · o override · u undo")

    def filter_changed(self, text: str) -> None:
        self.table.set_filter(text)

    def after_write(self, plan) -> None:
        self.action_reload()

    # -- actions ---------------------------------------------------------------------------
    def _selected(self):
        row = self.table.cursor_row
        return row.data if row is not None else None

    def on_resource_table_selected(self, message: ResourceTable.Selected) -> None:
        self.action_edit()

    def action_edit(self) -> None:
        sl = self._selected()
        if sl is None:
            return
        lim = sl.limit
        if lim.policy not in ("llm-token-limit", "azure-openai-token-limit"):
            self.app.notify(f"{lim.policy} counts calls; edit it with `aiconsole limits set --quota`.",
                            severity="warning", markup=False)
            return
        initial = {
            "tpm": str(lim.tokens_per_minute) if lim.tokens_per_minute else "",
            "quota": str(lim.token_quota) if lim.token_quota else "",
            "period": lim.token_quota_period or "",
        }
        scope, index = sl.scope, lim.index

        def done(values) -> None:
            if values is None:
                return
            self.start_plan(lambda w: w.plan_set(scope, tpm=values.tpm, quota=values.quota, period=values.period,
                                                 index=index), "Cannot plan the edit")

        self.app.push_screen(LimitEditForm(f"Edit the {lim.policy} at {scope.label}", lim.policy, initial),
                             callback=done)

    def action_override(self, subject: str = "") -> None:
        sl = self._selected()
        if not subject and sl is not None and sl.scope.kind == "product":
            subject = f"product:{sl.scope.product}"
        open_override_form(self, subject)

    def action_remove_override(self) -> None:
        sl = self._selected()
        if sl is None or not sl.overrides:
            self.app.notify("The selected limit has no override.", severity="warning", markup=False)
            return
        target = min(sl.overrides, key=lambda o: o.expires)
        self.start_plan(lambda w: w.plan_remove_override(target.id), "Cannot remove the override")

    def action_cleanup(self) -> None:
        self._cleanup_worker()

    @work(thread=True, exclusive=True, exit_on_error=False, group="limit-write")
    def _cleanup_worker(self) -> None:
        try:
            plans = self._writer().plan_cleanup()
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.app.show_error, exc, "Cannot plan the cleanup")
            return
        if not plans:
            self.app.call_from_thread(self.app.notify, "No expired overrides.", markup=False)
            return
        self.app.call_from_thread(self._preview, plans[0])  # one policy at a time; c again for the next

    def action_undo(self) -> None:
        self.start_plan(lambda w: w.plan_undo(), "Cannot undo")


def open_override_form(screen: LimitWriteFlow, subject: str, *, tpm: int | None = None) -> None:
    """The ``o`` flow from any screen that mixes in ``LimitWriteFlow`` (``tpm`` prefills a suggestion)."""

    def done(values) -> None:
        if values is None:
            return

        def make(writer):
            from aiconsole.services.limit_writes import parse_until

            until = parse_until(values.until, writer.limits.now())
            kw = {values.subject_kind: values.subject}
            return writer.plan_override(tpm=values.tpm, quota=values.quota, until=until, reason=values.reason, **kw)

        screen.start_plan(make, "Cannot plan the override")

    initial = {"subject": subject, "until": "2h", "tpm": str(tpm) if tpm else ""}
    screen.app.push_screen(OverrideForm("Raise a limit for a while (the gateway reverts it by itself)", initial),
                           callback=done)
