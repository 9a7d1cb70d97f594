"""``:gw`` — every self-hosted gateway of the instance and the state of its access token.

Journey J4. One row per gateway, sorted by soonest token expiry (dead tokens first, unknown
last): token state with glyph and colour, expiry, key slot, node health with latency, location,
APIs, and request/error rates when a metrics URL is configured. The panel under the table
details the row under the cursor (hostnames, API names, every node, the token's fingerprint and
what to do about it).

Keys: ``t`` mint a token, ``K`` regenerate a key slot, ``r`` guided rotation, ``f5`` reload.
Loading runs in a thread worker; nodes and metrics are re-probed every 15 s while the screen is
shown (the next probe is scheduled after the last one finished, so a slow node never stacks
probes up). Node and metrics URLs come from self-hosted profiles.
"""

from __future__ import annotations

import threading

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Static

from aiconsole.domain.text import sanitize
from aiconsole.services.gateway_tokens import STATE_GLYPHS
from aiconsole.services.gateways import GatewayService, GatewayStatus, GatewayTargets
from aiconsole.tui.screens.base import ConsoleScreen
from aiconsole.tui.screens.gateway_rows import COLUMNS, gateway_row, relative
from aiconsole.tui.screens.modal_kit import production_name
from aiconsole.tui.widgets.resource_table import ResourceTable
from aiconsole.tui.widgets.table_model import Row

LIVE_INTERVAL = 15.0


class GatewaysScreen(ConsoleScreen):
    SCREEN_TITLE = "Gateways"
    COMMAND = "gw"

    BINDINGS = [
        Binding("t", "mint", "Mint token", id="gw.mint"),
        Binding("K", "regenerate", "Regen key", id="gw.regenerate"),
        Binding("r", "rotate", "Rotate", id="gw.rotate"),
        Binding("f5", "reload", "Reload", show=False, id="gw.reload"),
    ]

    DEFAULT_CSS = """
    GatewaysScreen #gw-table { height: 1fr; min-height: 4; }
    GatewaysScreen #gw-detail { height: auto; max-height: 10; padding: 0 1; border-top: solid $primary; }
    GatewaysScreen #gw-detail.expanded { max-height: 100%; }
    GatewaysScreen #gw-table.compact { height: 4; }
    """

    class Loaded(Message):
        def __init__(self, rows: list[Row[str]] | None, error: BaseException | None, live: bool = False,
                     targets: dict[str, GatewayTargets] | None = None) -> None:
            super().__init__()
            self.rows, self.error, self.live, self.targets = rows, error, live, targets

    class KnownTokens(Message):
        def __init__(self, gateway: str, known: dict, current_slot: str | None, node_slots: dict[str, str]) -> None:
            super().__init__()
            self.gateway, self.known, self.current_slot = gateway, known, current_slot
            self.node_slots = node_slots

    class Regenerated(Message):
        def __init__(self, result, error: BaseException | None) -> None:
            super().__init__()
            self.result, self.error = result, error

    def __init__(self) -> None:
        super().__init__()
        self._service: GatewayService | None = None
        self._service_lock = threading.Lock()
        self.targets: dict[str, GatewayTargets] = {}
        self.loading = False
        self.failed = False
        self.busy = ""
        self._live_timer = None

    # -- layout ----------------------------------------------------------------------------
    def compose_body(self) -> ComposeResult:
        yield ResourceTable(COLUMNS, id="gw-table")
        yield Static(id="gw-detail")

    @property
    def table(self) -> ResourceTable:
        return self.query_one("#gw-table", ResourceTable)

    def focus_body(self) -> None:
        self.table.focus()

    def on_mount(self) -> None:
        table = self.table
        table.placeholder = "loading gateways…"
        if self.filter_text:
            table.set_filter(self.filter_text)
        table.focus()
        self._update_status()
        self.action_reload()

    WRITE_ACTIONS = ("mint", "regenerate", "rotate")

    # -- service ---------------------------------------------------------------------------
    def service(self) -> GatewayService:
        """Built on first use in a worker (the hub may import the SDK); one per screen, so
        metric rates can be computed between successive scrapes."""
        with self._service_lock:
            if self._service is None:
                self._service = GatewayService(self.app.hub.context(), clock=self.app.clock.now)
            return self._service

    # -- loading ---------------------------------------------------------------------------
    def action_reload(self) -> None:
        self.loading = True
        self._update_status()
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="gw-load")
    def load(self) -> None:
        """Node and metrics URLs are read from the profiles here too (file I/O, off the UI loop)."""
        from aiconsole.services.gateways import targets_from_connection

        try:
            targets, _focus = targets_from_connection(self.app.connection)
            service = self.service()
            statuses = service.overview(targets)
            now = self.app.clock.now()
            rows = [gateway_row(s, now) for s in statuses]
        except Exception as exc:  # noqa: BLE001 - shown as a sentence
            self.post_message(self.Loaded(None, exc))
            return
        self.post_message(self.Loaded(rows, None, targets=targets))

    @work(thread=True, exclusive=True, exit_on_error=False, group="gw-live")
    def probe_live(self, statuses: list[GatewayStatus]) -> None:
        """Nodes and metrics only: ARM is not asked again (its data changes on writes)."""
        try:
            service = self.service()
            now = self.app.clock.now()
            rows = [gateway_row(service.refresh_live(s, self.targets.get(s.name)), now) for s in statuses]
        except Exception as exc:  # noqa: BLE001
            self.post_message(self.Loaded(None, exc, live=True))
            return
        self.post_message(self.Loaded(rows, None, live=True))

    def _schedule_live(self) -> None:
        """One pending probe at most: a reload while one is scheduled replaces it."""
        if self._live_timer is not None:
            self._live_timer.stop()
            self._live_timer = None
        if any(t.nodes or t.metrics_url for t in self.targets.values()):
            self._live_timer = self.set_timer(LIVE_INTERVAL, self._live_tick, name="gw-live")

    def _live_tick(self) -> None:
        self._live_timer = None
        if not self.is_current or self.loading:
            self._schedule_live()  # paused while hidden; try again later
            return
        statuses = [r.data for r in self.table.model.rows() if r.data is not None and r.data.name in self.targets]
        if statuses:
            self.probe_live(statuses)
        else:
            self._schedule_live()

    def on_gateways_screen_loaded(self, message: Loaded) -> None:
        table = self.table
        if message.error is not None:
            if not message.live:
                self.loading = False
                self.failed = True
                table.placeholder = "could not load gateways (f5 retries)"
            self.app.show_error(message.error, "Cannot list gateways")
        else:
            self.failed = False
            if message.targets is not None:
                self.targets = message.targets
            if not message.live:
                self.loading = False
                keys = {r.key for r in message.rows}
                for key in [r.key for r in table.model.rows() if r.key not in keys]:
                    table.remove_row(key)
            table.add_rows(message.rows)
            table.placeholder = "no self-hosted gateways in this instance"
            self.mark_updated()
        self._update_status()
        self._render_detail()
        self._schedule_live()

    # -- status and detail -----------------------------------------------------------------
    def on_resource_table_view_changed(self, message: ResourceTable.ViewChanged) -> None:
        self._update_status()
        self._render_detail()

    def on_resource_table_cursor_moved(self, message: ResourceTable.CursorMoved) -> None:
        self._render_detail()

    def on_resource_table_selected(self, message: ResourceTable.Selected) -> None:
        """``enter``: give the detail panel the screen (every node, the whole hint), or take it back."""
        detail = self.query_one("#gw-detail", Static)
        detail.toggle_class("expanded")
        self.table.set_class(detail.has_class("expanded"), "compact")
        self._render_detail()

    def filter_changed(self, text: str) -> None:
        self.table.set_filter(text)
        self._update_status()

    def _update_status(self) -> None:
        try:
            model = self.table.model
        except Exception:  # noqa: BLE001 - not composed yet
            return
        rows = [r.data for r in model.rows() if r.data is not None]
        parts = [f"{model.count_label()} gateways"]
        soon = sum(1 for s in rows if s.token_state in ("expiring", "expired", "invalidated"))
        unknown = sum(1 for s in rows if s.token_state == "unknown")
        if soon:
            parts.append(f"⚠ {soon} token(s) expiring within 7 days or dead")
        if unknown:
            parts.append(f"? {unknown} unknown")
        if self.filter_text:
            parts.append(f"filter '{self.filter_text}'")
        if self.busy:
            parts.append(self.busy)
        if self.loading:
            parts.append("loading…")
        elif self.failed:
            parts.append("load failed")
        self.set_status(" · ".join(parts))

    def _current(self) -> GatewayStatus | None:
        row = self.table.cursor_row
        return row.data if row is not None else None

    def _render_detail(self) -> None:
        try:
            widget = self.query_one("#gw-detail", Static)
        except Exception:  # noqa: BLE001
            return
        status = self._current()
        if status is None:
            widget.update("")
            return
        now = self.app.clock.now()
        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(style="bold", no_wrap=True, width=9)
        grid.add_column(overflow="ellipsis", no_wrap=True, ratio=1)
        g = status.gateway
        title = sanitize(g.name) + (f" · {sanitize(g.location)}" if g.location else "")
        if g.description:
            title += f" — {sanitize(g.description, max_length=120)}"
        grid.add_row("Gateway", Text(title))
        hosts = ", ".join(status.hostnames) or "-"
        grid.add_row("Hosts", Text(f"{hosts}   APIs: {', '.join(sanitize(a) for a in status.apis) or '-'}"))
        for label, line in zip(("Token", ""), self._token_lines(status, now)):
            grid.add_row(label, line)
        if status.nodes:
            parts = []
            for n in status.nodes:
                latency = f" {n.latency_ms:.0f}ms" if n.latency_ms is not None else ""
                slot = f" ({n.token_slot} key)" if n.token_slot else ""
                why = f" — {sanitize(n.detail, max_length=80)}" if n.detail and not n.healthy else ""
                parts.append(f"{'✓' if n.healthy else '✗'} {sanitize(n.url, max_length=50)} {n.status}{latency}{slot}{why}")
            if widget.has_class("expanded"):
                for label, part in zip(["Nodes"] + [""] * len(parts), parts):
                    grid.add_row(label, Text(part))
            else:
                grid.add_row("Nodes", Text("; ".join(parts)))
        else:
            grid.add_row("Nodes", Text("no node URLs configured (add them to a self-hosted profile)", style="dim"))
        if status.metrics is not None:
            m = status.metrics
            if m.requests_per_min is None or m.error_rate is None:
                rates = "rates after the next scrape"
            else:
                rates = f"{m.requests_per_min:.0f} req/min · {m.error_rate * 100:.1f}% errors (5xx)"
            grid.add_row("Metrics", Text(f"{rates} · {m.requests_total:.0f} requests in total"))
        if status.hint:
            grid.add_row("Next", Text(status.hint, style="italic", overflow="fold", no_wrap=False))
        for problem in status.problems[:1]:
            grid.add_row("Problem", Text(sanitize(problem, max_length=200)))
        widget.update(grid)

    @staticmethod
    def _token_lines(status: GatewayStatus, now) -> list[Text]:
        state = status.token_state
        if status.token is None:
            return [Text(f"{STATE_GLYPHS[state]} unknown: not minted by this console", style="dim")]
        t = status.token
        verified = {True: "verified with ARM", False: "ARM says it no longer works", None: "not verified"}[status.verified]
        return [
            Text(f"{STATE_GLYPHS[state]} {state} · {t.slot} key · expires {t.expires:%Y-%m-%d %H:%M} UTC "
                 f"({relative((t.expires - now).total_seconds())})"),
            Text(f"minted {t.minted:%Y-%m-%d %H:%M} · sha256:{t.fingerprint} · {verified}"
                 + (" · adopted" if t.source == "adopted" else ""), style="dim"),
        ]

    # -- actions ---------------------------------------------------------------------------
    def _need_row(self) -> GatewayStatus | None:
        status = self._current()
        if status is None:
            self.notify("No gateway is selected.", severity="warning", markup=False)
        return status

    def action_mint(self) -> None:
        from aiconsole.tui.screens.gateway_token import MintTokenScreen

        status = self._need_row()
        if status is None:
            return
        # Default to the slot the current token does not use: minting there is the safe first step.
        slot = "secondary" if status.slot_in_use == "primary" else "primary"
        self.app.push_screen(
            MintTokenScreen(self.service, status.name, slot=slot, production_name=production_name(self.app)),
            lambda token: token is not None and self.action_reload(),
        )

    def action_regenerate(self) -> None:
        status = self._need_row()
        if status is None:
            return
        self.load_known(status.name, status.slot_in_use,
                        {n.url: n.token_slot for n in status.nodes if n.token_slot})

    @work(thread=True, exclusive=True, exit_on_error=False, group="gw-known")
    def load_known(self, gateway: str, current_slot: str | None, node_slots: dict[str, str]) -> None:
        try:
            service = self.service()
            known = {slot: service.known_tokens_from_slot(gateway, slot) for slot in ("primary", "secondary")}
        except Exception as exc:  # noqa: BLE001
            self.post_message(self.Regenerated(None, exc))
            return
        self.post_message(self.KnownTokens(gateway, known, current_slot, node_slots))

    def on_gateways_screen_known_tokens(self, message: KnownTokens) -> None:
        from aiconsole.tui.screens.gateway_regenerate import RegenerateKeyScreen

        def answered(choice: tuple[str, str] | None) -> None:
            if choice is None:
                self.notify("Nothing was changed.", markup=False, timeout=3)
                return
            slot, typed = choice
            self.busy = f"regenerating the {slot} key of {message.gateway}…"
            self._update_status()
            self.regenerate(message.gateway, slot, typed or None)

        self.app.push_screen(
            RegenerateKeyScreen(message.gateway, message.known, current_slot=message.current_slot,
                                require_text=production_name(self.app), node_slots=message.node_slots),
            answered,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="gw-regenerate")
    def regenerate(self, gateway: str, slot: str, confirm_name: str | None) -> None:
        try:
            result = self.service().regenerate(gateway, slot, confirm_name=confirm_name)
        except Exception as exc:  # noqa: BLE001
            self.post_message(self.Regenerated(None, exc))
            return
        self.post_message(self.Regenerated(result, None))

    def on_gateways_screen_regenerated(self, message: Regenerated) -> None:
        self.busy = ""
        if message.error is not None:
            self.app.show_error(message.error, "Regenerating the key failed")
        else:
            r = message.result
            self.notify(
                f"Regenerated the {r.slot} key of {sanitize(r.gateway)} ({r.key_fingerprint_before} → "
                f"{r.key_fingerprint_after}); {len(r.invalidated)} known token(s) from it no longer work.",
                title="Key regenerated", markup=False)
        self.action_reload()

    def action_rotate(self) -> None:
        from aiconsole.tui.screens.gateway_rotate import RotateGatewayScreen

        status = self._need_row()
        if status is None:
            return
        targets = self.targets.get(status.name)
        self.app.push_screen(
            RotateGatewayScreen(self.service, status.name, nodes=targets.nodes if targets else [],
                                production_name=production_name(self.app)),
            lambda _done: self.action_reload(),
        )
