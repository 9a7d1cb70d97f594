"""Sign-in prompts inside the console: device code (the way to sign in over SSH) and the
passphrase of the encrypted secrets file.

azure-identity calls these from the worker thread that builds the backend; they hand over to
the UI thread. The device-code modal only informs (sign-in completes in the browser elsewhere);
the passphrase modal blocks the worker until the person answers.
"""

from __future__ import annotations

import threading
from datetime import datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from aiconsole.domain.text import sanitize


class DeviceCodeScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,enter", "close", "Close", id="signin.close")]

    DEFAULT_CSS = """
    DeviceCodeScreen { align: center middle; }
    DeviceCodeScreen > Vertical { width: 100%; max-width: 72; height: auto; border: thick $accent;
                                  background: $surface; padding: 0 1; }
    DeviceCodeScreen #code { text-style: bold; color: $accent; margin: 1 0; }
    """

    def __init__(self, uri: str, code: str, expires_on: datetime | None) -> None:
        super().__init__()
        self.uri, self.code, self.expires_on = sanitize(uri), sanitize(code), expires_on

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Sign in to Azure", markup=False)
            yield Static(f"On any device, open {self.uri} and enter the code:", markup=False)
            yield Static(self.code, id="code", markup=False)
            if self.expires_on is not None:
                yield Static(f"The code expires at {self.expires_on:%H:%M} UTC. The console connects when you "
                             "are done (esc hides this).", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)


class PassphraseScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="signin.cancel")]

    DEFAULT_CSS = """
    PassphraseScreen { align: center middle; }
    PassphraseScreen > Vertical { width: 100%; max-width: 72; height: auto; border: thick $warning;
                                  background: $surface; padding: 0 1; }
    """

    def __init__(self, prompt: str) -> None:
        super().__init__()
        self.prompt_text = sanitize(prompt, max_length=200)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.prompt_text, markup=False)
            yield Input(password=True, id="passphrase", compact=True)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


def install_prompts(app):
    """Route azure-identity's prompts to this app's modals; returns a function that puts the
    previous prompts back (the app calls it when it closes, so nothing points at a dead app)."""
    from aiconsole.backends.credentials import _default_prompts, set_default_prompts

    previous = dict(_default_prompts)

    def device_code(uri: str, code: str, expires_on: datetime) -> None:
        app.call_from_thread(app.push_screen, DeviceCodeScreen(uri, code, expires_on))

    def secret(prompt: str) -> str:
        answer: list[str | None] = [None]
        done = threading.Event()

        def show() -> None:
            def got(value: str | None) -> None:
                answer[0] = value
                done.set()

            app.push_screen(PassphraseScreen(prompt), callback=got)

        app.call_from_thread(show)
        done.wait()
        return answer[0] or ""

    set_default_prompts(device_code=device_code, secret=secret)

    def restore() -> None:
        set_default_prompts(device_code=previous.get("device_code"), secret=previous.get("secret"))

    return restore
