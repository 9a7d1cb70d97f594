"""A subscription's effective chain of limits: what applies, in gateway order, and what binds.

Opened with ``l`` on a subscription or ``:limits SID``. ``o`` raises the binding limit for this
subscription for a while (the same diff-preview flow as ``:limits``).
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message

from aiconsole.domain.text import sanitize
from aiconsole.tui.limit_flow import LimitWriteFlow
from aiconsole.tui.rows.limits import CHAIN_COLUMNS, chain_row
from aiconsole.tui.screens.base import ConsoleScreen
from aiconsole.tui.widgets.resource_table import ResourceTable


class EffectiveChainScreen(LimitWriteFlow, ConsoleScreen):
    SCREEN_TITLE = "Effective limits"
    FILTERABLE = False
    WRITE_ACTIONS = ("override",)

    BINDINGS = [
        Binding("o", "override", "Raise for a while", id="chain.override"),
        Binding("f5", "reload", "Reload", id="chain.reload"),
    ]

    DEFAULT_CSS = """
    EffectiveChainScreen #chain-table { height: 1fr; }
    """

    class Loaded(Message):
        def __init__(self, chain=None, error: BaseException | None = None) -> None:
            super().__init__()
            self.chain, self.error = chain, error

    def __init__(self, subscription: str) -> None:
        super().__init__()
        self.subscription = subscription
        self.SCREEN_TITLE = f"Limits of {sanitize(subscription, max_length=40)}"

    def compose_body(self) -> ComposeResult:
        yield ResourceTable(CHAIN_COLUMNS, id="chain-table")

    @property
    def table(self) -> ResourceTable:
        return self.query_one("#chain-table", ResourceTable)

    def focus_body(self) -> None:
        self.table.focus()

    def on_mount(self) -> None:
        self.table.placeholder = "reading the chain…"
        self.table.focus()
        self.action_reload()

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="chain-load")
    def load(self) -> None:
        from aiconsole.services.limits import LimitsService

        try:
            chain = LimitsService(self.app.hub.context()).effective(subscription=self.subscription)
        except Exception as exc:  # noqa: BLE001
            self.post_message(self.Loaded(error=exc))
            return
        self.post_message(self.Loaded(chain))

    def on_effective_chain_screen_loaded(self, message: Loaded) -> None:
        table = self.table
        if message.error is not None:
            table.placeholder = "could not read the chain (f5 retries)"
            self.app.show_error(message.error, f"Cannot read the limits of {self.subscription}")
            return
        chain = message.chain
        table.replace_rows([chain_row(link, chain.now, i) for i, link in enumerate(chain.links)])
        table.placeholder = "no limit applies to this subscription"
        self.mark_updated()
        binding = chain.binding
        if binding is None:
            self.set_status(f"{len(chain.links)} limits apply · none limits tokens")
        else:
            tpm = f"{binding.effective_tpm:,} tokens/min" if binding.effective_tpm else "its quota"
            raised = " (raised by an override)" if binding.override else ""
            self.set_status(sanitize(f"◀ binds: {binding.scope.label} {binding.limit.policy} at {tpm}{raised}, "
                                     f"{binding.shared} · o raise it for a while", max_length=300))

    def action_override(self) -> None:
        from aiconsole.tui.screens.limits import open_override_form

        open_override_form(self, self.subscription)

    def after_write(self, plan) -> None:
        self.action_reload()
