"""The write flow every limit action shares: plan → diff preview → write → (412 → re-apply).

A mixin for ``ConsoleScreen`` subclasses. Planning and writing run in thread workers (they call
the management API); the UI thread only pushes modals. A 412 never overwrites: the person sees
both sides and chooses to re-apply the same edit on the new version or drop it.
"""

from __future__ import annotations

from collections.abc import Callable

from textual import work

from aiconsole.tui.screens.limit_diff import ConflictScreen, DiffPreviewScreen


class LimitWriteFlow:
    """Mix into a screen; implement ``after_write(plan)`` to refresh what it shows."""

    def _writer(self):
        from aiconsole.services.limit_writes import LimitWriter
        from aiconsole.services.limits import LimitsService

        return LimitWriter(LimitsService(self.app.hub.context()))

    def start_plan(self, make_plan: Callable, label: str) -> None:
        """Compute a plan in a worker (``make_plan(writer) -> PolicyEdit``), then preview it."""
        self._plan_worker(make_plan, label)

    @work(thread=True, exclusive=True, exit_on_error=False, group="limit-write")
    def _plan_worker(self, make_plan: Callable, label: str) -> None:
        try:
            plan = make_plan(self._writer())
        except Exception as exc:  # noqa: BLE001 - shown as a sentence
            self.app.call_from_thread(self.app.show_error, exc, label)
            return
        self.app.call_from_thread(self._preview, plan)

    def _preview(self, plan) -> None:
        ctx = self.app.hub.context()
        require = ctx.service_name if ctx.production else None

        def done(typed: str | None) -> None:
            if typed is not None:
                self._apply_worker(plan, typed or None)

        self.app.push_screen(DiffPreviewScreen(plan.description, plan.diff, require_text=require), callback=done)

    @work(thread=True, exclusive=True, exit_on_error=False, group="limit-write")
    def _apply_worker(self, plan, confirm_name: str | None) -> None:
        from aiconsole.services.limit_writes import PolicyConflictError

        writer = self._writer()
        try:
            writer.apply(plan, confirm_name=confirm_name)
        except PolicyConflictError as conflict:
            self.app.call_from_thread(self._conflict, conflict)
            return
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.app.show_error, exc, "The policy was not written")
            return
        self.app.call_from_thread(self._written, plan)

    def _written(self, plan) -> None:
        self.app.notify(f"Written: {plan.description}", title="Policy updated", markup=False)
        self.after_write(plan)

    def _conflict(self, conflict) -> None:
        def done(choice: str | None) -> None:
            if choice == "reapply":
                self.start_plan(lambda writer: writer.reapply(conflict.edit), "Cannot re-apply the edit")
            else:
                self.app.notify("Your edit was dropped; the server's version stands.", markup=False)
                self.after_write(conflict.edit)

        self.app.push_screen(ConflictScreen(conflict.message, conflict.server_diff, conflict.edit.diff), callback=done)

    def after_write(self, plan) -> None:
        """Refresh after a write (or a dropped edit). Override."""
