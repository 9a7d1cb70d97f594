"""The lifecycle modals in the console, against a sandbox through the real SDK (Pilot, 80x24):
issue a subscription (masked key, reveal, OSC 52 copy), change its state, delete it with the id
typed, a two-slot rotation with the per-slot panel, and a bulk action on marked rows."""

from __future__ import annotations

import pytest

from aiconsole.backends.connect import sandbox_connection
from aiconsole.domain.secrets import fingerprint
from aiconsole.tui.app import AiConsoleApp
from aiconsole.tui.clock import FrozenClock
from aiconsole.tui.screens.issue import (
    BulkActionScreen,
    CreateSubscriptionScreen,
    DeleteSubscriptionScreen,
    EditSubscriptionScreen,
    NewKeyScreen,
)
from aiconsole.tui.screens.rotation import TwoSlotRotationScreen
from aiconsole.tui.screens.subscriptions import SubscriptionsScreen
from tests.sandbox_fixture import sdk_client, start_sandbox
from tests.tui.helpers import notifications, wait_until

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def sandbox():
    info, stop = start_sandbox(seed=9, subscriptions=12)
    yield info
    stop()


def make_app(sandbox):
    return AiConsoleApp(connection=sandbox_connection(sandbox["management_url"]), clock=FrozenClock(),
                        cursor_blink=False)


def server(sandbox):
    client = sdk_client(sandbox)
    rg, svc = sandbox["resource_group"], sandbox["service_name"]
    return client, rg, svc


def has(screen, selector) -> bool:
    return bool(screen.query(selector))


def text_of(screen, selector):
    return str(screen.query_one(selector).content)


async def test_issue_change_and_delete_in_the_console(sandbox, monkeypatch):
    app = make_app(sandbox)
    copied = []
    monkeypatch.setattr(app, "copy_to_clipboard", lambda text: copied.append(text))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, SubscriptionsScreen))
        app.push_screen(SubscriptionsScreen())
        await wait_until(pilot, lambda: isinstance(app.screen, SubscriptionsScreen) and has(app.screen, "#subs-table"))
        await wait_until(pilot, lambda: app.screen.table.model.visible_count > 0, timeout=30, what="rows")
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, CreateSubscriptionScreen))
        form = app.screen
        await wait_until(pilot, lambda: bool(form.scopes), timeout=30, what="scopes")
        await pilot.press(*"TUI team")
        form.query_one("#create-scope-search").focus()
        await pilot.press(*"api:azure")
        form.query_one("#create-sid").focus()
        await pilot.press(*"tui-1", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, NewKeyScreen), timeout=30, what="the new key")
        shown = app.screen
        client, rg, svc = server(sandbox)
        keys = client.subscription.list_secrets(rg, svc, "tui-1")
        body = text_of(shown, "#newkey-body")
        assert keys.primary_key not in body and f"••••••••{keys.primary_key[-4:]}" in body
        assert fingerprint(keys.primary_key) in body
        await pilot.press("v")
        assert keys.primary_key in text_of(shown, "#newkey-body")
        await pilot.press("c")
        assert copied == [keys.primary_key]
        await pilot.press("escape")
        sub = client.subscription.get(rg, svc, "tui-1")
        assert sub.display_name == "TUI team" and sub.state == "active" and sub.scope.endswith("/apis/azure-openai")

        # change the state with a comment
        app.push_screen(EditSubscriptionScreen("tui-1"))
        await wait_until(pilot, lambda: isinstance(app.screen, EditSubscriptionScreen))
        edit = app.screen
        await wait_until(pilot, lambda: edit.current is not None, timeout=30, what="fresh read")
        edit.query_one("#edit-state").value = "suspended"
        edit.query_one("#edit-comment").value = "paused from the console"
        await pilot.click("#edit-ok")
        await wait_until(pilot, lambda: not isinstance(app.screen, EditSubscriptionScreen), timeout=30, what="save")
        sub = client.subscription.get(rg, svc, "tui-1")
        assert sub.state == "suspended" and sub.state_comment == "paused from the console"

        # a concurrent change: 412, both versions shown, edits kept
        app.push_screen(EditSubscriptionScreen("tui-1"))
        await wait_until(pilot, lambda: isinstance(app.screen, EditSubscriptionScreen))
        edit = app.screen
        await wait_until(pilot, lambda: edit.current is not None, timeout=30, what="fresh read")
        from azure.mgmt.apimanagement.models import SubscriptionUpdateParameters

        client.subscription.update(rg, svc, "tui-1", "*", SubscriptionUpdateParameters(display_name="Renamed elsewhere"))
        edit.query_one("#edit-state").value = "active"
        await pilot.click("#edit-ok")
        await wait_until(pilot, lambda: "Renamed elsewhere" in text_of(edit, "#edit-server"), timeout=30,
                         what="the server's version")
        assert "nothing was saved" in text_of(edit, "#edit-error")
        assert client.subscription.get(rg, svc, "tui-1").state == "suspended"
        await pilot.press("escape")

        # delete: the id must be typed
        from aiconsole.domain.models import Scope, Subscription, SubscriptionState

        app.push_screen(DeleteSubscriptionScreen(Subscription(name="tui-1", state=SubscriptionState.suspended,
                                                              scope=Scope.parse("/apis/azure-openai"))))
        await wait_until(pilot, lambda: isinstance(app.screen, DeleteSubscriptionScreen))
        dialog = app.screen
        await pilot.press(*"tui-2", "enter")
        assert "exactly" in text_of(dialog, "#delete-error")
        dialog.query_one("#delete-typed").value = ""
        await pilot.press(*"tui-1", "enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, DeleteSubscriptionScreen), timeout=30,
                         what="delete")
        assert "tui-1" not in {s.name for s in client.subscription.list(rg, svc)}


async def test_two_slot_rotation_in_the_console(sandbox):
    client, rg, svc = server(sandbox)
    from azure.mgmt.apimanagement.models import SubscriptionCreateParameters

    client.subscription.create_or_update(rg, svc, "tui-rot", SubscriptionCreateParameters(
        display_name="rot", scope="/apis/azure-openai", state="active"))
    before = client.subscription.list_secrets(rg, svc, "tui-rot")
    app = make_app(sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, SubscriptionsScreen))
        app.push_screen(TwoSlotRotationScreen("tui-rot"))
        await wait_until(pilot, lambda: isinstance(app.screen, TwoSlotRotationScreen))
        rot = app.screen
        await wait_until(pilot, lambda: rot.keys is not None, timeout=30, what="keys")
        await wait_until(pilot, lambda: rot.query_one("#rotate-slots").first is not None, timeout=30,
                         what="slot counters")
        await pilot.press("g")  # nothing said about the slot in use yet: refused
        await wait_until(pilot, lambda: any("Say which slot consumers use first (1, 2, or i to infer)." in t
                                            for t in notifications(app)), what="the refusal")
        assert rot.step is None
        assert client.subscription.list_secrets(rg, svc, "tui-rot").as_dict() == before.as_dict()
        await pilot.press("1", "g")
        await wait_until(pilot, lambda: rot.step == "waiting", timeout=30, what="idle slot regenerated")
        mid = client.subscription.list_secrets(rg, svc, "tui-rot")
        assert mid.primary_key == before.primary_key and mid.secondary_key != before.secondary_key
        assert mid.secondary_key not in text_of(rot, "#rotate-key")
        assert "calls" in text_of(rot, "#rotate-slots")
        await pilot.press("f")  # the panel has not seen 30 quiet seconds: asks again
        await wait_until(pilot, lambda: any("Press f again to regenerate it anyway." in t
                                            for t in notifications(app)), what="the second-press warning")
        assert rot.step == "waiting"
        assert client.subscription.list_secrets(rg, svc, "tui-rot").as_dict() == mid.as_dict()
        await pilot.press("f")
        await wait_until(pilot, lambda: rot.step == "done", timeout=30, what="old slot regenerated")
    end = client.subscription.list_secrets(rg, svc, "tui-rot")
    assert end.secondary_key == mid.secondary_key and end.primary_key != before.primary_key


async def test_bulk_action_on_marked_rows(sandbox):
    client, rg, svc = server(sandbox)
    names = sorted(s.name for s in client.subscription.list(rg, svc) if s.state == "active")[:3]
    app = make_app(sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, SubscriptionsScreen))
        app.push_screen(SubscriptionsScreen())
        await wait_until(pilot, lambda: isinstance(app.screen, SubscriptionsScreen) and has(app.screen, "#subs-table"))
        screen = app.screen
        await wait_until(pilot, lambda: screen.loading_pages is None and len(screen.table.model) > 0, timeout=30,
                         what="rows")
        await pilot.press("b")  # nothing marked yet
        assert isinstance(app.screen, SubscriptionsScreen)
        for name in names:
            screen.table.model.toggle_mark(name)
        await pilot.press("b")
        await wait_until(pilot, lambda: isinstance(app.screen, BulkActionScreen))
        bulk = app.screen
        await pilot.press("enter")  # the first action: suspend
        await wait_until(pilot, lambda: "ok 3" in text_of(bulk, "#bulk-result"), timeout=30, what="bulk result")
    assert {client.subscription.get(rg, svc, n).state for n in names} == {"suspended"}
