"""Issuing and changing subscriptions in the console (journey J2), and bulk work on marked rows.

``LifecycleActions`` carries the keys the subscriptions screen gains — ``n`` new, ``e`` edit
(state, name, expiry, comment), ``D``/``delete`` delete with the id typed, ``R`` two-slot
rotation, ``b`` bulk action on the rows marked with ``space`` — so wiring them in is one base
class. Every modal here talks to the services only from thread workers and posts the result
back; keys stay ``SecretStr`` and are shown masked until ``v``, copied with OSC 52 on ``c``.
"""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, OptionList, ProgressBar, Select, Static
from textual.widgets.option_list import Option

from aiconsole.domain.models import KeyPair, Slot, Subscription, SubscriptionState
from aiconsole.domain.secrets import fingerprint, mask
from aiconsole.domain.text import sanitize
from aiconsole.tui.errors import sentence
from aiconsole.tui.screens.base import ConsoleScreen
from aiconsole.tui.screens.modal_kit import WorkerDone, modal_css, production_name, service_context

#: seconds the owner search waits for typing to pause before it asks the management API
OWNER_SEARCH_DELAY = 0.3


def _lifecycle(app):
    from aiconsole.services.lifecycle import LifecycleService

    return LifecycleService(service_context(app))


# --------------------------------------------------------------------------- new subscription


class CreateSubscriptionScreen(ModalScreen["Subscription | None"]):
    """``n``: display name, scope (searchable products and APIs), owner (search by name/email)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="create.cancel")]
    DEFAULT_CSS = modal_css("CreateSubscriptionScreen")

    def __init__(self) -> None:
        super().__init__()
        self.scopes: list[tuple[str, str]] = []  # (value, label)
        self.users: list[tuple[str, str]] = []
        self._owner_timer = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("New subscription", classes="title")
            yield Input(placeholder="Display name", id="create-name", compact=True, classes="gap")
            yield Input(placeholder="Scope: type to search products and APIs", id="create-scope-search", compact=True,
                        classes="gap")
            yield OptionList(id="create-scope")
            yield Input(placeholder="Owner (optional): search by name or email", id="create-owner-search",
                        compact=True, classes="gap")
            yield OptionList(id="create-owner")
            yield Input(placeholder="Expires (optional): YYYY-MM-DD or +30d", id="create-expires", compact=True,
                        classes="gap")
            yield Input(placeholder="Id (optional; generated when empty)", id="create-sid", compact=True)
            yield Checkbox("Activate now (otherwise: submitted)", value=True, id="create-active", compact=True)
            if production_name(self.app):
                yield Input(placeholder=f"Type the service name '{production_name(self.app)}' to confirm",
                            id="create-confirm", compact=True)
            yield Static("", classes="error", id="create-error")
            with Horizontal():
                yield Button("Create", id="create-ok", variant="primary", compact=True)
                yield Button("Cancel (esc)", id="create-cancel", compact=True)

    def on_mount(self) -> None:
        for inp in self.query(Input):
            inp.cursor_blink = getattr(self.app, "cursor_blink", True)
        self.query_one("#create-name", Input).focus()
        self.load_scopes()
        self.search_owners("")

    @work(thread=True, exclusive=True, exit_on_error=False, group="create-scopes")
    def load_scopes(self) -> None:
        try:
            backend = service_context(self.app).backend
            scopes = [(f"product:{p.name}", f"product:{p.name}  {p.display_name or ''}") for p in backend.list_products()]
            scopes += [(f"api:{a.name}", f"api:{a.name}  {a.display_name or ''}") for a in backend.list_apis()]
            scopes.append(("all_apis", "all-apis  every API"))
        except Exception as exc:  # noqa: BLE001
            self.post_message(WorkerDone("scopes", error=exc))
            return
        self.post_message(WorkerDone("scopes", scopes))

    @work(thread=True, exclusive=True, exit_on_error=False, group="create-owners")
    def search_owners(self, text: str) -> None:
        try:
            users = _lifecycle(self.app).search_users(text, limit=30)
        except Exception as exc:  # noqa: BLE001
            self.post_message(WorkerDone("owners", error=exc))
            return
        self.post_message(WorkerDone("owners", [(u.name, f"{u.name}  {u.full_name}  <{u.email or ''}>") for u in users]))

    def _fill(self, list_id: str, items: list[tuple[str, str]], text: str = "") -> None:
        low = text.lower()
        options = [Option(sanitize(label, max_length=70), id=value) for value, label in items if low in label.lower()]
        widget = self.query_one(list_id, OptionList)
        widget.clear_options()
        widget.add_options(options)
        if options:
            widget.highlighted = 0

    def on_worker_done(self, message: WorkerDone) -> None:
        if message.error is not None:
            self.query_one("#create-error", Static).update(sanitize(getattr(message.error, "message", "")
                                                                    or type(message.error).__name__))
            return
        if message.what == "scopes":
            self.scopes = message.result
            self._fill("#create-scope", self.scopes, self.query_one("#create-scope-search", Input).value)
        elif message.what == "owners":
            self.users = message.result
            self._fill("#create-owner", self.users)
        elif message.what == "created":
            sub, keys = message.result
            self.dismiss(sub)
            self.app.push_screen(NewKeyScreen(sub, keys))

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "create-scope-search":
            self._fill("#create-scope", self.scopes, event.value)
        elif event.input.id == "create-owner-search":
            # One request when the typing pauses, not one per keystroke.
            if self._owner_timer is not None:
                self._owner_timer.stop()
            self._owner_timer = self.set_timer(OWNER_SEARCH_DELAY, lambda: self._search_owners_now(event.value),
                                               name="owner-search")

    def _search_owners_now(self, text: str) -> None:
        self._owner_timer = None
        self.search_owners(text)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "create-ok":
            self.submit()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _selected(self, list_id: str) -> str | None:
        widget = self.query_one(list_id, OptionList)
        if widget.highlighted is None or widget.option_count == 0:
            return None
        return widget.get_option_at_index(widget.highlighted).id

    def submit(self) -> None:
        error = self.query_one("#create-error", Static)
        name = self.query_one("#create-name", Input).value.strip()
        scope = self._selected("#create-scope")
        if not name:
            error.update("Give the subscription a display name.")
            return
        if not scope:
            error.update("Pick a product, an API or all-apis.")
            return
        owner = self._selected("#create-owner") if self.query_one("#create-owner-search", Input).value.strip() else None
        confirm = self.query_one("#create-confirm", Input).value.strip() if production_name(self.app) else None
        error.update("Creating…")
        self.create(name, scope, owner, self.query_one("#create-expires", Input).value.strip(),
                     self.query_one("#create-sid", Input).value.strip(),
                     self.query_one("#create-active", Checkbox).value, confirm)

    @work(thread=True, exclusive=True, exit_on_error=False, group="create-run")
    def create(self, name: str, scope: str, owner: str | None, expires: str, sid: str, active: bool,
               confirm: str | None) -> None:
        from aiconsole.services.durations import parse_date
        from aiconsole.services.lifecycle import ScopeChoice

        try:
            life = _lifecycle(self.app)
            kind, _, ident = scope.partition(":")
            choice = life.resolve_scope(product=ident if kind == "product" else None,
                                        api=ident if kind == "api" else None, all_apis=kind == "all_apis")
            assert isinstance(choice, ScopeChoice)
            user = life.resolve_owner(owner) if owner else None
            result = life.create(display_name=name, scope=choice, owner=user,
                                 state="active" if active else "submitted",
                                 expires=parse_date(expires) if expires else None, sid=sid or None,
                                 confirm_name=confirm)
        except Exception as exc:  # noqa: BLE001
            self.post_message(WorkerDone("created", error=exc))
            return
        self.post_message(WorkerDone("created", result))


class NewKeyScreen(ModalScreen[None]):
    """The new subscription's keys: masked, ``v`` reveals, ``c``/``C`` copy (OSC 52)."""

    BINDINGS = [
        Binding("v", "reveal", "Reveal", id="newkey.reveal"),
        Binding("c", "copy('primary')", "Copy primary", id="newkey.copy_primary"),
        Binding("C", "copy('secondary')", "Copy secondary", id="newkey.copy_secondary"),
        Binding("escape,enter", "close", "Close", id="newkey.close"),
    ]
    DEFAULT_CSS = modal_css("NewKeyScreen")

    def __init__(self, sub: Subscription, keys: KeyPair | None, *, title: str | None = None) -> None:
        super().__init__()
        self.sub, self.keys = sub, keys
        self.revealed = False
        self._title = title or f"Subscription {sub.name} created"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(sanitize(self._title), classes="title")
            yield Static(id="newkey-body")
            yield Static("v reveal · c copy primary · C copy secondary · esc close", classes="hint")

    def on_mount(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        s = self.sub
        lines = [f"{sanitize(s.display_name or '')}  ·  {s.scope.label}  ·  {s.state.value}"
                 + (f"  ·  owner {sanitize(s.owner)}" if s.owner else "")]
        if self.keys is None:
            lines.append("The keys could not be read (listSecrets); see them later with `aiconsole keys show`.")
        else:
            for slot in ("primary", "secondary"):
                value = self.keys.key(slot)  # type: ignore[arg-type]
                shown = value.get_secret_value() if self.revealed else mask(value)
                lines.append(f"{slot:<9}  {shown}   fingerprint {fingerprint(value)}")
        self.query_one("#newkey-body", Static).update("\n".join(lines))

    def action_reveal(self) -> None:
        self.revealed = not self.revealed
        self._redraw()

    def action_copy(self, slot: Slot) -> None:
        if self.keys is None:
            return
        secret = self.keys.key(slot)
        self.app.copy_to_clipboard(secret.get_secret_value())
        self.notify(f"Copied the {slot} key of {sanitize(self.sub.name)} (fingerprint {fingerprint(secret)}) "
                    "to the clipboard (OSC 52).", title="Copied", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)


# --------------------------------------------------------------------------- edit


class EditSubscriptionScreen(ModalScreen[bool]):
    """``e``: state (with a comment), display name, expiry; saved with ``If-Match``.

    On a 412 the form keeps the user's edits, shows what the server has now, and takes the new
    ETag, so saving again is a deliberate choice to apply them over the other change.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="edit.cancel")]
    DEFAULT_CSS = modal_css("EditSubscriptionScreen")

    def __init__(self, sid: str) -> None:
        super().__init__()
        self.sid = sid
        self.current: Subscription | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Change subscription {sanitize(self.sid)}", classes="title")
            yield Select([(s.value, s.value) for s in SubscriptionState], allow_blank=False, id="edit-state",
                         compact=True)
            yield Input(placeholder="State comment (shown to the developer)", id="edit-comment", compact=True)
            yield Input(placeholder="Display name", id="edit-name", compact=True)
            yield Input(placeholder="Expires: YYYY-MM-DD, +30d, or empty for none", id="edit-expires", compact=True)
            if production_name(self.app):
                yield Input(placeholder=f"Type the service name '{production_name(self.app)}' to confirm",
                            id="edit-confirm", compact=True)
            yield Static("loading…", classes="hint", id="edit-server")
            yield Static("", classes="error", id="edit-error")
            with Horizontal():
                yield Button("Save", id="edit-ok", variant="primary", compact=True)
                yield Button("Cancel (esc)", id="edit-cancel", compact=True)

    def on_mount(self) -> None:
        for inp in self.query(Input):
            inp.cursor_blink = getattr(self.app, "cursor_blink", True)
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="edit-load")
    def load(self, conflict: bool = False) -> None:
        try:
            sub = service_context(self.app).backend.get_subscription(self.sid)
        except Exception as exc:  # noqa: BLE001
            self.post_message(WorkerDone("load", error=exc))
            return
        self.post_message(WorkerDone("conflict" if conflict else "load", sub))

    def _server_line(self, sub: Subscription, prefix: str) -> str:
        exp = sub.expiration_date.strftime("%Y-%m-%d %H:%M") if sub.expiration_date else "none"
        return (f"{prefix}: {sub.state.value} · '{sanitize(sub.display_name or '', max_length=40)}' · "
                f"expires {exp} · comment '{sanitize(sub.state_comment or '', max_length=30)}'")

    def on_worker_done(self, message: WorkerDone) -> None:
        error = self.query_one("#edit-error", Static)
        if message.error is not None and message.what != "saved":
            error.update(sentence(message.error))
            return
        if message.what == "load":
            sub = self.current = message.result
            self.query_one("#edit-state", Select).value = sub.state.value
            self.query_one("#edit-comment", Input).value = sub.state_comment or ""
            self.query_one("#edit-name", Input).value = sub.display_name or ""
            self.query_one("#edit-expires", Input).value = (
                sub.expiration_date.strftime("%Y-%m-%dT%H:%MZ") if sub.expiration_date else "")
            self.query_one("#edit-server", Static).update(self._server_line(sub, "Now"))
            self.query_one("#edit-state", Select).focus()
        elif message.what == "conflict":
            self.current = message.result
            self.query_one("#edit-server", Static).update(self._server_line(message.result, "Server now"))
            error.update("Someone else changed it since it was read; nothing was saved. Your edits are kept: "
                         "Save applies them over the version above, esc cancels.")
        elif message.what == "saved":
            from aiconsole.domain.errors import PreconditionFailedError

            if isinstance(message.error, PreconditionFailedError):
                self.load(conflict=True)
                return
            if message.error is not None:
                error.update(sentence(message.error))
                return
            _, changes = message.result
            self.notify(f"Saved {sanitize(self.sid)}: " + (", ".join(changes) or "nothing changed"),
                        title="Subscription", markup=False)
            self.dismiss(True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "edit-ok":
            self.save()
        else:
            self.action_cancel()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.save()

    def action_cancel(self) -> None:
        self.dismiss(False)

    def save(self) -> None:
        if self.current is None:
            return
        from aiconsole.domain.errors import UsageError
        from aiconsole.services.durations import parse_date

        raw = self.query_one("#edit-expires", Input).value.strip()
        try:
            expires = parse_date(raw) if raw and raw.lower() != "none" else None
        except UsageError as exc:
            self.query_one("#edit-error", Static).update(exc.message + " " + exc.hint)
            return
        fields = {
            "state": str(self.query_one("#edit-state", Select).value),
            "comment": self.query_one("#edit-comment", Input).value,
            "display_name": self.query_one("#edit-name", Input).value.strip() or None,
            "expires": expires,
            "clear_expiry": not raw or raw.lower() == "none",
        }
        if fields["comment"] == (self.current.state_comment or ""):
            fields["comment"] = None
        confirm = self.query_one("#edit-confirm", Input).value.strip() if production_name(self.app) else None
        self.query_one("#edit-error", Static).update("Saving…")
        self.run_save(fields, self.current.etag, confirm)

    @work(thread=True, exclusive=True, exit_on_error=False, group="edit-save")
    def run_save(self, fields: dict[str, Any], etag: str | None, confirm: str | None) -> None:
        try:
            result = _lifecycle(self.app).update(self.sid, if_match=etag, confirm_name=confirm, **fields)
        except Exception as exc:  # noqa: BLE001
            self.post_message(WorkerDone("saved", error=exc))
            return
        self.post_message(WorkerDone("saved", result))


# --------------------------------------------------------------------------- delete


class DeleteSubscriptionScreen(ModalScreen[bool]):
    """``D``: the subscription id must be typed; its keys stop working at once."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="delete.cancel")]
    DEFAULT_CSS = modal_css("DeleteSubscriptionScreen").replace("$primary", "$error")

    def __init__(self, sub: Subscription) -> None:
        super().__init__()
        self.sub = sub

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"⚠ Delete subscription {sanitize(self.sub.name)}", classes="title")
            yield Static(f"'{sanitize(self.sub.display_name or '')}' on {self.sub.scope.label}"
                         f"{' owned by ' + sanitize(self.sub.owner) if self.sub.owner else ''}. "
                         "Both keys stop working at once; this cannot be undone.")
            yield Input(placeholder=f"Type {self.sub.name} to confirm", id="delete-typed", compact=True)
            if production_name(self.app):
                yield Input(placeholder=f"Type the service name '{production_name(self.app)}' as well",
                            id="delete-confirm", compact=True)
            yield Static("", classes="error", id="delete-error")
            with Horizontal():
                yield Button("Delete", id="delete-ok", variant="error", compact=True)
                yield Button("Cancel (esc)", id="delete-cancel", compact=True)

    def on_mount(self) -> None:
        for inp in self.query(Input):
            inp.cursor_blink = getattr(self.app, "cursor_blink", True)
        self.query_one("#delete-typed", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "delete-ok":
            self.submit()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(False)

    def submit(self) -> None:
        typed = self.query_one("#delete-typed", Input).value.strip()
        if typed != self.sub.name:
            self.query_one("#delete-error", Static).update(f"Type '{sanitize(self.sub.name)}' exactly to delete it.")
            return
        confirm = self.query_one("#delete-confirm", Input).value.strip() if production_name(self.app) else None
        self.query_one("#delete-error", Static).update("Deleting…")
        self.run_delete(confirm)

    @work(thread=True, exclusive=True, exit_on_error=False, group="delete-run")
    def run_delete(self, confirm: str | None) -> None:
        try:
            _lifecycle(self.app).delete(self.sub.name, confirm_name=confirm)
        except Exception as exc:  # noqa: BLE001
            self.post_message(WorkerDone("deleted", error=exc))
            return
        self.post_message(WorkerDone("deleted", True))

    def on_worker_done(self, message: WorkerDone) -> None:
        if message.error is not None:
            self.query_one("#delete-error", Static).update(
                sentence(message.error))
            return
        self.notify(f"Deleted {sanitize(self.sub.name)}.", title="Subscription", markup=False)
        self.dismiss(True)


# --------------------------------------------------------------------------- bulk


BULK_ACTIONS: list[tuple[str, str]] = [
    ("state:suspended", "Suspend"),
    ("state:active", "Activate"),
    ("state:cancelled", "Cancel"),
    ("rotate:primary", "Regenerate the primary key"),
    ("rotate:secondary", "Regenerate the secondary key"),
]


class BulkProgress(Message):
    def __init__(self, done: int, total: int, failed: int, throttled: int) -> None:
        super().__init__()
        self.done, self.total, self.failed, self.throttled = done, total, failed, throttled


class BulkActionScreen(ModalScreen[bool]):
    """``b``: one action on every marked subscription, with progress and a per-item result.

    The run is logged under the state directory like the CLI's, so if the console is closed
    half way, the same action on the same marks resumes without repeating finished items.
    """

    BINDINGS = [Binding("escape", "cancel", "Close", id="bulk.cancel")]
    DEFAULT_CSS = modal_css("BulkActionScreen")

    def __init__(self, sids: list[str]) -> None:
        super().__init__()
        self.sids = sorted(sids)
        self.running = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Bulk action on {len(self.sids)} marked subscription(s)", classes="title")
            yield OptionList(*[Option(label, id=value) for value, label in BULK_ACTIONS], id="bulk-actions")
            yield Static("enter: run the highlighted action (the old key of a regenerated slot stops at once)",
                         classes="hint", id="bulk-hint")
            if production_name(self.app):
                yield Input(placeholder=f"Type the service name '{production_name(self.app)}' to confirm",
                            id="bulk-confirm", compact=True)
            yield ProgressBar(total=len(self.sids), show_eta=False, id="bulk-progress")
            yield Static("", id="bulk-result")

    def on_mount(self) -> None:
        self.query_one("#bulk-actions", OptionList).focus()

    def action_cancel(self) -> None:
        if self.running:
            self.notify("The bulk run continues; its progress is kept if the console closes.", markup=False)
            return
        self.dismiss(True)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if self.running:
            return
        self.running = True
        confirm = self.query_one("#bulk-confirm", Input).value.strip() if production_name(self.app) else None
        self.query_one("#bulk-result", Static).update(f"{event.option.prompt}: running…")
        self.run_bulk(str(event.option.id), confirm)

    @work(thread=True, exclusive=True, exit_on_error=False, group="bulk-run")
    def run_bulk(self, action: str, confirm: str | None) -> None:
        import hashlib

        from aiconsole.services import bulk

        try:
            ctx = service_context(self.app)
            kind, _, value = action.partition(":")
            if kind == "state":
                act = bulk.SetStateAction(ctx, value, confirm_name=confirm)
            else:
                act = bulk.RotateSlotAction(ctx, value, confirm_name=confirm)  # type: ignore[arg-type]
            ctx.check_writable(f"run '{action}' on", f"{len(self.sids)} subscriptions", confirm_name=confirm)
            runner = bulk.BulkRunner(ctx, act, on_progress=lambda p: self.post_message(
                BulkProgress(p.done, p.total, p.failed, p.throttled)))
            selection = "tui:" + hashlib.sha256(",".join(self.sids).encode()).hexdigest()[:16]
            names, prior = runner.open(selection, lambda: list(self.sids))
            results = runner.run(names, prior)
        except Exception as exc:  # noqa: BLE001
            self.post_message(WorkerDone("bulk", error=exc))
            return
        self.post_message(WorkerDone("bulk", results))

    def on_bulk_progress(self, message: BulkProgress) -> None:
        bar = self.query_one("#bulk-progress", ProgressBar)
        bar.update(total=message.total, progress=message.done)

    def on_worker_done(self, message: WorkerDone) -> None:
        self.running = False
        out = self.query_one("#bulk-result", Static)
        if message.error is not None:
            out.update(sentence(message.error))
            return
        results = message.result
        counts: dict[str, int] = {}
        for r in results:
            counts[r.result] = counts.get(r.result, 0) + 1
        lines = ["  ".join(f"{k} {v}" for k, v in sorted(counts.items()))]
        lines += [f"✗ {sanitize(r.name)}: {sanitize(r.error or '', max_length=60)}"
                  for r in results if r.result == "failed"][:6]
        out.update("\n".join(lines) + "\nesc closes")


# --------------------------------------------------------------------------- the hooks


class LifecycleActions(ConsoleScreen):
    """A ``ConsoleScreen`` with the lifecycle keys: the subscriptions screen derives from it.

    The screen must offer ``table`` (a ``ResourceTable`` whose rows carry the ``Subscription``
    in ``row.data``) and may offer ``action_reload`` (called after a change). It is a screen
    class rather than a mixin so Textual inherits its bindings and the screen's CSS normally.
    """

    BINDINGS = [
        Binding("n", "new_subscription", "New", id="subs.new"),
        Binding("e", "edit_subscription", "Edit", show=False, id="subs.edit"),
        Binding("D,delete", "delete_subscription", "Delete", show=False, id="subs.delete"),
        Binding("R", "rotate_two_slot", "Rotate", id="subs.rotate_two_slot"),
        Binding("b", "bulk_marked", "Bulk", show=False, id="subs.bulk"),
    ]

    WRITE_ACTIONS = ("new_subscription", "edit_subscription", "delete_subscription", "rotate_two_slot", "bulk_marked")

    def _cursor_sub(self) -> Subscription | None:
        row = self.table.cursor_row  # type: ignore[attr-defined]
        return row.data.subscription() if row is not None else None

    def _after(self, changed: Any) -> None:
        if changed and hasattr(self, "action_reload"):
            self.action_reload()  # type: ignore[attr-defined]

    def action_new_subscription(self) -> None:
        self.app.push_screen(CreateSubscriptionScreen(), self._after)

    def action_edit_subscription(self) -> None:
        sub = self._cursor_sub()
        if sub is not None:
            self.app.push_screen(EditSubscriptionScreen(sub.name), self._after)

    def action_delete_subscription(self) -> None:
        sub = self._cursor_sub()
        if sub is not None:
            self.app.push_screen(DeleteSubscriptionScreen(sub), self._after)

    def action_rotate_two_slot(self) -> None:
        from aiconsole.tui.screens.rotation import TwoSlotRotationScreen

        sub = self._cursor_sub()
        if sub is not None:
            self.app.push_screen(TwoSlotRotationScreen(sub.name))

    def action_bulk_marked(self) -> None:
        marks = list(self.table.model.marks)  # type: ignore[attr-defined]
        if not marks:
            self.notify("Mark rows with space first, then b acts on the marked set.", severity="warning",
                        markup=False)
            return
        self.app.push_screen(BulkActionScreen([str(m) for m in marks]), self._after)


__all__ = [
    "BulkActionScreen",
    "CreateSubscriptionScreen",
    "DeleteSubscriptionScreen",
    "EditSubscriptionScreen",
    "LifecycleActions",
    "NewKeyScreen",
]
