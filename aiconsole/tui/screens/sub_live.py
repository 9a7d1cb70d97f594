"""The drill-in from ``:top``/``:429``: one subscription's traffic, the chain of limits that
applies to it (the binding one marked), its throttle history, and the on-call actions —
``P`` probe (spends tokens), ``o`` raise its limit for a while (diff, confirm, apply; the
gateway reverts it by itself), ``r`` its keys.

It polls the same feed as ``:top`` (so history carries over) and reads the effective chain in
a worker when it opens and after an override.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from aiconsole.domain.text import sanitize
from aiconsole.tui.limit_flow import LimitWriteFlow
from aiconsole.tui.screens.top import LiveScreen


def load_effective_chain(app: Any, sid: str) -> Any:
    """The subscription's effective chain (blocking; runs in a worker)."""
    from aiconsole.services.limits import LimitsService

    return LimitsService(app.hub.context()).effective(subscription=sid)


def suggest_tpm(current: int | None, demand: float) -> int:
    """Enough for what the subscription asks for now, at least double the current limit, rounded."""
    want = max((current or 0) * 2, demand * 1.5, 1000)
    step = 1000 if want < 100_000 else 10_000
    return int(-(-want // step) * step)


class SubscriptionLiveScreen(LimitWriteFlow, LiveScreen):
    SCREEN_TITLE = "Subscription live"
    FILTERABLE = False
    WRITE_ACTIONS = ("override",)

    BINDINGS = [
        Binding("P", "probe", "Probe", id="sublive.probe"),
        Binding("o", "override", "Raise limit", id="sublive.override"),
        Binding("r", "keys", "Keys", id="sublive.keys"),
        Binding("l", "reload_chain", "Reload limits", show=False, id="sublive.reload_chain"),
    ]

    DEFAULT_CSS = """
    SubscriptionLiveScreen #sublive-body { height: 1fr; padding: 0 1; }
    SubscriptionLiveScreen .sublive-section { height: auto; margin-bottom: 1; }
    """

    class ChainLoaded(Message):
        def __init__(self, chain: Any, error: BaseException | None) -> None:
            super().__init__()
            self.chain, self.error = chain, error

    class Probed(Message):
        def __init__(self, result: Any, error: BaseException | None) -> None:
            super().__init__()
            self.result, self.error = result, error

    class KeysTarget(Message):
        def __init__(self, subscription: Any, error: BaseException | None) -> None:
            super().__init__()
            self.subscription, self.error = subscription, error

    def __init__(self, sid: str, *, source: str | None = None, window: float | None = None) -> None:
        super().__init__(source=source)
        self.sid = sid
        if window:
            self.window = window
        self.row: Any = None
        self.chain: Any = None
        self.chain_error: str | None = None
        self.probe: Any = None
        self.probe_error: str | None = None
        self.busy: str | None = None
        self.last_override: str | None = None

    @classmethod
    def from_command(cls, argument: str = "") -> "SubscriptionLiveScreen":
        return cls(argument.strip())

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="sublive-body"):
            yield Static(id="sublive-now", classes="sublive-section")
            yield Static(id="sublive-chain", classes="sublive-section")
            yield Static(id="sublive-causes", classes="sublive-section")
            yield Static(id="sublive-probe", classes="sublive-section")

    def focus_body(self) -> None:
        self.query_one("#sublive-body").focus()

    def on_mount(self) -> None:
        self._css_vars = None
        self.focus_body()
        report = self.feed.last_report
        if report is not None:
            self._pick(report)
        self._render_all()
        self.load_chain()

    # -- data -------------------------------------------------------------------------------------
    def _pick(self, report: Any) -> None:
        self.row = next((r for r in report.rows if r.key == self.sid), None)

    def apply(self, report: Any, rows: list) -> None:
        self._pick(report)
        self._render_now()
        self._render_causes()

    def mark_stale(self) -> None:
        self._render_now()

    def update_status(self) -> None:
        busy = f" · {self.busy}" if self.busy else ""
        self.set_status(f"{sanitize(self.sid, max_length=60)} · {self.status_suffix()}{busy}")

    @work(thread=True, exclusive=True, exit_on_error=False, group="sublive-chain")
    def load_chain(self) -> None:
        try:
            chain = load_effective_chain(self.app, self.sid)
        except Exception as exc:  # noqa: BLE001
            self.post_message(self.ChainLoaded(None, exc))
            return
        self.post_message(self.ChainLoaded(chain, None))

    def on_subscription_live_screen_chain_loaded(self, message: "SubscriptionLiveScreen.ChainLoaded") -> None:
        if message.error is not None:
            from aiconsole.tui.errors import describe

            self.chain_error = describe(message.error)[0]
        else:
            self.chain, self.chain_error = message.chain, None
        self._render_chain()

    # -- rendering --------------------------------------------------------------------------------
    def _colour(self, variable: str) -> str:
        """A theme state colour (ok, throttled, stale ...) so themes and NO_COLOR apply here too."""
        cache = getattr(self, "_css_vars", None)
        if cache is None:
            cache = self._css_vars = self.app.get_css_variables()
        return str(cache.get(variable) or "")

    def _render_all(self) -> None:
        self._render_now()
        self._render_chain()
        self._render_causes()
        self._render_probe()
        self.update_status()

    def _render_now(self) -> None:
        from aiconsole.services.triage import format_rate
        from aiconsole.telemetry.glyphs import bar, sparkline

        text = Text()
        text.append(f"{sanitize(self.sid, max_length=60)}\n", style="bold")
        r = self.row
        if r is None:
            text.append("No traffic in this window." if self.report is not None else "Waiting for the first reading…",
                        style="dim")
        else:
            lim = r.limit_tokens_per_minute
            if r.owner or r.product:
                text.append(f"owner {sanitize(r.owner) or '–'} · product {sanitize(r.product) or '–'} · "
                            f"state {sanitize(r.state) or '?'}\n")
            text.append(f"tokens/min {format_rate(r.tokens_per_minute)}")
            text.append(f" of {format_rate(lim)} " if lim else " (limit not known yet) ")
            text.append(bar(r.utilisation, 20), style=self._colour("aic-throttled") if (r.utilisation or 0) >= 1 else "")
            text.append(f"\n429/min {format_rate(r.throttled_per_minute)} · 403/min "
                        f"{format_rate(r.quota_refused_per_minute)} · 401/min {format_rate(r.unauthorized_per_minute)}"
                        f" · requests/min {format_rate(r.requests_per_minute)}\n")
            text.append("tokens  15m ")
            text.append(sparkline(r.history) or "", style=self._colour("aic-ok"))
            text.append("\nrefused 15m ")
            text.append(sparkline(r.refused_history) or "", style=self._colour("aic-throttled"))
            if self.error:
                text.append(f"\nSTALE: {self.error}", style=self._colour("aic-stale"))
        self.query_one("#sublive-now", Static).update(text)

    def _render_chain(self) -> None:
        text = Text()
        text.append("Limits that apply (gateway order)\n", style="bold underline")
        if self.chain_error:
            text.append(self.chain_error, style=self._colour("aic-expired"))
        elif self.chain is None:
            text.append("reading the effective chain…", style="dim")
        else:
            now = self.chain.now
            for link in self.chain.links:
                mark = "◀ binds  " if link.binds else "·        "
                tpm = f"{link.effective_tpm:,} tpm" if link.effective_tpm else ""
                quota = f"{link.effective_quota:,}/{link.limit.token_quota_period}" if link.effective_quota else ""
                ov = ""
                if link.override is not None:
                    left = max(0, int((link.override.expires - now).total_seconds()))
                    ov = f" · override {link.override.id} for {left // 3600}h{(left % 3600) // 60:02d}m"
                line = (f"{mark}{sanitize(link.scope.label, max_length=40)} {link.limit.policy} "
                        f"{' '.join(p for p in (tpm, quota) if p)} · {sanitize(link.shared, max_length=60)}{ov}\n")
                text.append(line, style="bold" if link.binds else "")
            if not self.chain.links:
                text.append("no limit applies", style="dim")
        if self.last_override:
            text.append(f"\n{self.last_override}", style=self._colour("aic-ok"))
        self.query_one("#sublive-chain", Static).update(text)

    def _render_causes(self) -> None:
        from aiconsole.services.triage import format_rate

        text = Text()
        text.append("Why it is refused (this window)\n", style="bold underline")
        r = self.row
        causes = sorted(r.causes, key=lambda c: -c.per_minute) if r is not None else []
        if not causes:
            text.append("nothing refused" if r is not None else "–", style="dim")
        for c in causes:
            where = f" · {sanitize(c.policy)} at {sanitize(c.scope)}" if c.policy or c.scope else ""
            text.append(f"{format_rate(c.per_minute)}/min  {c.label}{where}"
                        f"{' (inferred from the binding limit)' if c.inferred else ''}\n")
        self.query_one("#sublive-causes", Static).update(text)

    def _render_probe(self) -> None:
        text = Text()
        text.append("Probe (P: one request with the primary key; spends tokens)\n", style="bold underline")
        if self.probe_error:
            text.append(self.probe_error, style=self._colour("aic-expired"))
        elif self.probe is None:
            text.append("not run", style="dim")
        else:
            p = self.probe
            text.append(f"{p.status} in {p.latency_ms:.0f} ms · {sanitize(p.outcome, max_length=200)}\n")
            for name, value in sorted(p.headers.items()):
                text.append(f"  {sanitize(name, max_length=60)}: {value}\n")
        self.query_one("#sublive-probe", Static).update(text)

    # -- actions ----------------------------------------------------------------------------------
    def action_reload_chain(self) -> None:
        self.load_chain()

    def action_probe(self) -> None:
        self.busy = "probing…"
        self.update_status()
        self.run_probe()

    @work(thread=True, exclusive=True, exit_on_error=False, group="sublive-probe")
    def run_probe(self) -> None:
        try:
            from aiconsole.services.triage import probe_subscription

            result = probe_subscription(self.app.hub.context(), self.app.connection, self.sid)
        except Exception as exc:  # noqa: BLE001
            self.post_message(self.Probed(None, exc))
            return
        self.post_message(self.Probed(result, None))

    def on_subscription_live_screen_probed(self, message: "SubscriptionLiveScreen.Probed") -> None:
        self.busy = None
        if message.error is not None:
            from aiconsole.tui.errors import describe

            self.probe_error = describe(message.error)[0]
        else:
            self.probe, self.probe_error = message.result, None
            self.notify(sanitize(message.result.outcome, max_length=200), title="Probe", markup=False,
                        severity="information" if message.result.status < 400 else "warning")
        self._render_probe()
        self.update_status()

    def action_override(self) -> None:
        """``o``: the shared override form, prefilled with enough for the current demand."""
        from aiconsole.tui.screens.limits import open_override_form

        binding = self.chain.binding if self.chain is not None else None
        current = binding.effective_tpm if binding is not None else None
        demand = self.row.tokens_per_minute + self.row.tokens_refused_per_minute if self.row is not None else 0.0
        open_override_form(self, self.sid, tpm=suggest_tpm(current, demand))

    def after_write(self, plan) -> None:
        """After the override (or a dropped edit): re-read the chain; the next polls show its effect."""
        self.last_override = f"✓ {plan.description}"
        triage = self.feed._triage
        if triage is not None and triage.limits is not None:
            triage.limits.invalidate("subscription", self.sid)
        self.load_chain()
        self.update_status()

    def action_keys(self) -> None:
        self.find_subscription()

    @work(thread=True, exclusive=True, exit_on_error=False, group="sublive-keys")
    def find_subscription(self) -> None:
        try:
            sub = self.app.hub.subscriptions().get(self.sid)
        except Exception as exc:  # noqa: BLE001
            self.post_message(self.KeysTarget(None, exc))
            return
        self.post_message(self.KeysTarget(sub, None))

    def on_subscription_live_screen_keys_target(self, message: "SubscriptionLiveScreen.KeysTarget") -> None:
        if message.error is not None:
            self.app.show_error(message.error, "Keys")
            return
        from aiconsole.tui.screens.subscription_detail import SubscriptionDetailScreen

        self.app.push_screen(SubscriptionDetailScreen(message.subscription))
