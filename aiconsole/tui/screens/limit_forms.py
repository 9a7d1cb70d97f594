"""Forms for limit edits: change a limit's values, or raise one for a while.

Values are validated as they are typed with the same checks the policy editor applies before
it writes (``aiconsole.policy.validate.check_value``), so a person sees "tokens-per-minute
must be a positive whole number" under the field instead of a 400 from the server later.
The forms only collect values; planning, the diff and the write happen in the screen's flow.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from aiconsole.policy.validate import QUOTA_PERIODS, check_value


@dataclass
class LimitValues:
    tpm: int | None = None
    quota: int | None = None
    period: str | None = None


@dataclass
class OverrideValues:
    subject_kind: str  # "subscription" | "product"
    subject: str
    tpm: int | None
    quota: int | None
    until: str
    reason: str


class _Form(ModalScreen):
    """Shared layout: a title, labelled inputs with a problem line each, submit/cancel."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="form.cancel")]

    DEFAULT_CSS = """
    _Form { align: center middle; }
    _Form > Vertical {
        width: 100%; max-width: 76; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    _Form .form-title { text-style: bold; margin-bottom: 1; }
    _Form Label { margin-top: 1; }
    _Form .problem { color: $error; height: auto; }
    _Form .problem.-warning { color: $warning; }
    _Form Horizontal { height: auto; align-horizontal: right; margin-top: 1; }
    _Form Button { margin-left: 2; min-width: 12; }
    """

    FIELDS: list[tuple[str, str, str]] = []  # (id, label, placeholder)

    def __init__(self, title: str, initial: dict[str, str] | None = None) -> None:
        super().__init__()
        self._title = title
        self._initial = initial or {}

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._title, classes="form-title", markup=False)
            for field_id, label, placeholder in self.FIELDS:
                yield Label(label)
                yield Input(self._initial.get(field_id, ""), id=field_id, placeholder=placeholder, compact=True)
                yield Static("", id=f"{field_id}-problem", classes="problem", markup=False)
            with Horizontal():
                yield Button("Preview diff (enter)", id="form-ok", variant="primary")
                yield Button("Cancel (esc)", id="form-cancel")

    def on_mount(self) -> None:
        for inp in self.query(Input):
            if not getattr(self.app, "cursor_blink", True):
                inp.cursor_blink = False
        self.query(Input).first().focus()
        self._revalidate()

    def value(self, field_id: str) -> str:
        return self.query_one(f"#{field_id}", Input).value.strip()

    def problems(self) -> dict[str, tuple[str, str]]:
        """field id → (severity, message). Override."""
        return {}

    def _revalidate(self) -> bool:
        found = self.problems()
        ok = True
        for field_id, _label, _ph in self.FIELDS:
            line = self.query_one(f"#{field_id}-problem", Static)
            severity, message = found.get(field_id, ("", ""))
            line.update(message)
            line.set_class(severity == "warning", "-warning")
            ok = ok and severity != "error"
        self.query_one("#form-ok", Button).disabled = not ok
        return ok

    def on_input_changed(self, event: Input.Changed) -> None:
        self._revalidate()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "form-ok":
            self.action_submit()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        if self._revalidate():
            self.dismiss(self.result())

    def result(self):  # pragma: no cover - abstract
        raise NotImplementedError


def _int_or_none(text: str) -> int | None:
    return int(text) if text.strip().isdigit() else None


class LimitEditForm(_Form):
    """Edit tokens-per-minute, token-quota and its period of one token limit."""

    FIELDS = [
        ("tpm", "Tokens per minute", "empty: leave as is"),
        ("quota", "Token quota", "empty: leave as is"),
        ("period", f"Quota period ({', '.join(QUOTA_PERIODS)})", "empty: leave as is"),
    ]

    def __init__(self, title: str, policy: str, initial: dict[str, str]) -> None:
        super().__init__(title, initial)
        self.policy = policy
        self._original = dict(initial)

    def problems(self) -> dict[str, tuple[str, str]]:
        out = {}
        names = {"tpm": "tokens-per-minute", "quota": "token-quota", "period": "token-quota-period"}
        for field_id, attribute in names.items():
            value = self.value(field_id)
            if not value:
                continue
            problem = check_value(self.policy, attribute, value)
            if problem is not None:
                out[field_id] = (problem.severity, problem.message)
        if self.value("quota") and not self.value("period"):
            out.setdefault("period", ("error", "A token quota needs a period."))
        if not any(self.value(f) != self._original.get(f, "") for f in names):
            out.setdefault("tpm", ("warning", "Nothing changed yet."))
        return out

    def result(self) -> LimitValues | None:
        changed = {f: self.value(f) for f in ("tpm", "quota", "period") if self.value(f) != self._original.get(f, "")}
        if not changed:
            return None
        return LimitValues(
            tpm=_int_or_none(changed["tpm"]) if "tpm" in changed else None,
            quota=_int_or_none(changed["quota"]) if "quota" in changed else None,
            period=changed.get("period") or None,
        )


class OverrideForm(_Form):
    """Who, how much and until when: the inputs of a time-boxed raise."""

    FIELDS = [
        ("subject", "Subscription id (or product:ID)", "e.g. batch-summarizer"),
        ("tpm", "Raised tokens per minute", "e.g. 20000"),
        ("quota", "Raised token quota (optional)", ""),
        ("until", "Until (a duration like 2h or 90m, or an ISO-8601 UTC instant)", "2h"),
        ("reason", "Reason or ticket (goes into the policy marker and the audit journal)", "INC-1234"),
    ]

    def problems(self) -> dict[str, tuple[str, str]]:
        from aiconsole.domain.errors import UsageError
        from aiconsole.services.limit_writes import parse_until

        out = {}
        if not self.value("subject"):
            out["subject"] = ("error", "Say whose limit to raise.")
        tpm, quota = self.value("tpm"), self.value("quota")
        if not tpm and not quota:
            out["tpm"] = ("error", "Give a raised tokens-per-minute or token quota.")
        for field_id, attribute in (("tpm", "tokens-per-minute"), ("quota", "token-quota")):
            value = self.value(field_id)
            if value:
                problem = check_value("llm-token-limit", attribute, value)
                if problem is not None and problem.severity == "error":
                    out[field_id] = ("error", problem.message)
        try:
            parse_until(self.value("until") or "", self.app.clock.now())
        except UsageError as exc:
            out["until"] = ("error", exc.message)
        return out

    def result(self) -> OverrideValues:
        subject = self.value("subject")
        kind = "subscription"
        if subject.startswith("product:"):
            kind, subject = "product", subject.split(":", 1)[1]
        return OverrideValues(kind, subject, _int_or_none(self.value("tpm")), _int_or_none(self.value("quota")),
                              self.value("until"), self.value("reason"))
