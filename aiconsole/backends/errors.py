"""Turning SDK and transport exceptions into one-sentence domain errors.

The message says what failed in the user's terms; the hint says what to do next. 401/403 name
the RBAC action the principal lacks; 429 carries ``Retry-After`` for a countdown. Nothing from
the request (headers, bodies that may hold keys) is copied into the message.
"""

from __future__ import annotations

from aiconsole.domain.errors import (
    AiconsoleError,
    AuthError,
    ConflictError,
    ConnectionFailedError,
    NotFoundError,
    OutcomeUnknownError,
    PreconditionFailedError,
    ServerError,
    ThrottledError,
    ValidationError,
)
from aiconsole.domain.text import sanitize


def _retry_after(headers) -> float:
    for name in ("Retry-After", "retry-after", "x-ms-retry-after-ms"):
        value = headers.get(name) if headers is not None else None
        if value:
            try:
                seconds = float(value)
            except ValueError:
                continue
            return seconds / 1000.0 if name.endswith("-ms") else seconds
    return 0.0


def _server_detail(exc) -> tuple[str, list[str]]:
    """The server's own error message and details, sanitised and shortened."""
    message, details = "", []
    err = getattr(exc, "error", None)
    if err is not None:
        message = getattr(err, "message", "") or ""
        for d in getattr(err, "details", None) or []:
            text = getattr(d, "message", None) or str(d)
            target = getattr(d, "target", None)
            details.append(sanitize(f"{target}: {text}" if target else text, max_length=300))
    if not message:
        response = getattr(exc, "response", None)
        try:
            body = response.json() if response is not None else None
        except Exception:  # noqa: BLE001 - a non-JSON body is fine, we just have no detail
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            message = body["error"].get("message", "") or ""
            for d in body["error"].get("details") or []:
                if isinstance(d, dict):
                    details.append(sanitize(d.get("message", ""), max_length=300))
    return sanitize(message, max_length=300), details


def map_exception(exc: BaseException, *, what: str, action: str | None = None) -> AiconsoleError:
    """Map an exception raised while doing ``what`` (e.g. "list subscriptions") to a domain error."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        IncompleteReadError,
        ServiceRequestError,
        ServiceResponseError,
    )

    if isinstance(exc, AiconsoleError):
        return exc
    if isinstance(exc, IncompleteReadError):  # the answer was cut off mid-body: sent, outcome unknown
        return OutcomeUnknownError(
            f"Could not {what}: the connection dropped before the whole answer arrived "
            "(if this was a change, it may or may not have been made).",
            "Check the current state before trying again.")
    if isinstance(exc, ClientAuthenticationError) and getattr(exc, "status_code", None) is None:
        return AuthError(f"Could not sign in to {what}: {sanitize(str(exc).splitlines()[0], max_length=200)}",
                         "Check the profile's sign-in mode (`aiconsole info`) and sign in again.")
    if isinstance(exc, HttpResponseError) and getattr(exc, "status_code", None):
        status = exc.status_code
        headers = exc.response.headers if exc.response is not None else {}
        request_id = headers.get("x-ms-request-id") if headers is not None else None
        server_msg, details = _server_detail(exc)
        suffix = f": {server_msg}" if server_msg else "."
        if status == 401:
            return AuthError(f"Could not {what}: the server did not accept our credentials{suffix}",
                             "Sign in again (az login, or the profile's sign-in mode).", request_id=request_id)
        if status == 403:
            hint = f"Your principal needs the RBAC action {action}." if action else "Check your role assignments."
            return AuthError(f"Could not {what}: access denied{suffix}", hint, action=action, request_id=request_id)
        if status == 404:
            return NotFoundError(f"Could not {what}: not found{suffix}",
                                 "Check the id; list what exists with the matching `list` command.",
                                 request_id=request_id)
        if status == 409:
            return ConflictError(f"Could not {what}: it conflicts with the current state{suffix}",
                                 request_id=request_id)
        if status == 412:
            return PreconditionFailedError(
                f"Could not {what}: it was changed by someone else since it was read.",
                "Reload it, review the change, and try again.", request_id=request_id)
        if status == 400:
            return ValidationError(f"Could not {what}: the server rejected the request{suffix}",
                                   "; ".join(details), details=details, request_id=request_id)
        if status == 429:
            wait = _retry_after(headers)
            return ThrottledError(
                f"Could not {what}: Azure Resource Manager is throttling requests.",
                f"Retry in {wait:.0f} s." if wait else "Wait a little and retry.",
                retry_after=wait, request_id=request_id)
        if status >= 500:
            return ServerError(f"Could not {what}: the server failed ({status}){suffix}",
                               "Try again; if it persists, check the service health.", request_id=request_id)
        return AiconsoleError(f"Could not {what}: HTTP {status}{suffix}", request_id=request_id)
    if isinstance(exc, ServiceResponseError):  # sent, but the answer never arrived
        reason = sanitize(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, max_length=160)
        return OutcomeUnknownError(
            f"Could not {what}: the connection dropped before the answer arrived ({reason}; "
            "if this was a change, it may or may not have been made).",
            "Check the current state before trying again.")
    if isinstance(exc, ServiceRequestError):
        reason = sanitize(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, max_length=160)
        return ConnectionFailedError(f"Could not {what}: the connection failed ({reason}).",
                                     "Check the URL and your network; is the server running?")
    if isinstance(exc, (TimeoutError, ConnectionError, OSError)):
        return ConnectionFailedError(f"Could not {what}: {type(exc).__name__}.",
                                     "Check the URL and your network; is the server running?")
    return AiconsoleError(f"Could not {what}: unexpected {type(exc).__name__}.",
                          "Run with --debug and look at the debug log.")
