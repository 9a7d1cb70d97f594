"""What the subscription modals (``issue.py``, ``rotation.py``) share: their CSS, the service
context and production check they act through, and the message their workers answer with."""

from __future__ import annotations

from typing import Any

from textual.message import Message

MODAL_CSS = """
{cls} {{ align: center middle; }}
{cls} > Vertical {{
    width: 100%; max-width: 76; height: auto; max-height: 100%;
    border: thick $primary; background: $surface; padding: 0 1;
}}
{cls} .title {{ text-style: bold; }}
{cls} .error {{ color: $error; height: auto; }}
{cls} .hint {{ color: $text-muted; height: auto; }}
{cls} .gap {{ margin-top: 1; }}
{cls} OptionList {{ height: 4; border: none; padding: 0 1; background: $boost; }}
{cls} Horizontal {{ height: auto; align-horizontal: right; }}
{cls} Button {{ margin-left: 2; min-width: 10; }}
"""


def modal_css(cls: str) -> str:
    """``MODAL_CSS`` for the modal screen class named ``cls``."""
    return MODAL_CSS.format(cls=cls)


def service_context(app):
    """The app's service context (blocking on first use: call from a worker)."""
    return app.hub.context()


def production_name(app) -> str | None:
    """The service name to type on production profiles (None elsewhere)."""
    conn = app.connection
    return conn.service_name if getattr(conn, "production", False) else None


class WorkerDone(Message):
    """A worker's result (or error) for the modal that started it."""

    def __init__(self, what: str, result: Any = None, error: BaseException | None = None) -> None:
        super().__init__()
        self.what, self.result, self.error = what, result, error
