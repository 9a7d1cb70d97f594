"""Turning any exception raised in a worker into one sentence and a hint for a notification.

Domain errors already speak to people; anything else is a bug or a surprise, and still must not
put a traceback on the operator's screen — we name the exception type and point to ``--debug``.
Text is sanitised because error messages can quote server strings.
"""

from __future__ import annotations

from aiconsole.domain.errors import AiconsoleError, ThrottledError
from aiconsole.domain.text import sanitize


def describe(exc: BaseException) -> tuple[str, str]:
    """(sentence, hint) for ``exc``; never includes a traceback or key material."""
    if isinstance(exc, AiconsoleError):
        message = sanitize(exc.message, max_length=300)
        hint = sanitize(exc.hint, max_length=300)
        if isinstance(exc, ThrottledError) and exc.retry_after:
            hint = (hint + " " if hint else "") + f"Retry after {exc.retry_after:.0f}s."
        if exc.request_id:
            hint = (hint + " " if hint else "") + f"Request id {sanitize(exc.request_id, max_length=80)}."
        return message, hint
    return (
        f"Unexpected error ({type(exc).__name__}).",
        "Run with --debug to write a redacted log under the state directory.",
    )


def sentence(exc: BaseException) -> str:
    """The one sentence of ``exc`` for an inline error line (the hint goes to notifications)."""
    return describe(exc)[0]


def notify_error(app, exc: BaseException, *, context: str | None = None) -> None:
    """Show ``exc`` as an error notification (call on the UI thread)."""
    message, hint = describe(exc)
    title = context or "Error"
    app.notify(f"{message}\n{hint}".strip(), title=title, severity="error", timeout=10, markup=False)
