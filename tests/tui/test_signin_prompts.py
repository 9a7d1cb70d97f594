"""Sign-in prompts reach the console as modals when azure-identity calls them from a worker."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest

from aiconsole.backends import credentials
from aiconsole.tui.screens.signin import DeviceCodeScreen, PassphraseScreen
from tests.tui.helpers import make_app, showing, wait_until

pytestmark = pytest.mark.anyio


async def test_device_code_and_passphrase_prompts_show_modals():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        prompts = credentials._default_prompts
        expires = datetime(2026, 1, 15, 9, 45, tzinfo=timezone.utc)
        threading.Thread(target=prompts["device_code"],
                         args=("https://microsoft.com/devicelogin", "ABCD-1234", expires)).start()
        await wait_until(pilot, lambda: showing(app, DeviceCodeScreen), what="device code modal")
        assert app.screen.code == "ABCD-1234"
        await pilot.press("escape")

        answer: list[str] = []
        worker = threading.Thread(target=lambda: answer.append(prompts["secret"]("Passphrase of the secrets file")))
        worker.start()
        await wait_until(pilot, lambda: showing(app, PassphraseScreen), what="passphrase modal")
        await pilot.press(*"s3cret", "enter")
        await wait_until(pilot, lambda: bool(answer), what="the answer")
        worker.join(timeout=5)
        assert answer == ["s3cret"]
    assert credentials._default_prompts["device_code"] is None, "closing the app puts the CLI prompts back"
