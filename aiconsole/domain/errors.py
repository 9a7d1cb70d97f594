"""Domain errors: one sentence for a person, plus what to do next.

Every layer below the UI raises these (never SDK or transport exceptions), so the CLI and
the TUI can show one clear message and pick an exit code without knowing where it came from.
Messages must never contain key material; callers pass fingerprints, not keys.
"""

from __future__ import annotations


class AiconsoleError(Exception):
    """Base of every error the console shows to a person.

    ``message`` is one sentence; ``hint`` is the next step (may be empty).
    ``exit_code`` follows the CLI contract: 1 the operation failed, 2 usage, 3 refused.
    """

    exit_code = 1

    def __init__(self, message: str, hint: str = "", *, request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.request_id = request_id

    def __str__(self) -> str:  # pragma: no cover - trivial
        return f"{self.message} {self.hint}".strip()


class UsageError(AiconsoleError):
    """The user asked for something that cannot be parsed or does not make sense."""

    exit_code = 2


class RefusedError(AiconsoleError):
    """The console refused to act: no confirmation, read-only profile, production guard."""

    exit_code = 3


class ReadOnlyError(RefusedError):
    """A write was attempted through a read-only profile."""


class ConfigError(AiconsoleError):
    """The configuration file or a profile is broken or missing."""

    exit_code = 2


class NotFoundError(AiconsoleError):
    """The named entity does not exist on the server (HTTP 404)."""


class ConflictError(AiconsoleError):
    """The entity already exists or the request conflicts with its state (HTTP 409)."""


class PreconditionFailedError(AiconsoleError):
    """The entity changed since we read it (HTTP 412): our ETag is stale."""


class ValidationError(AiconsoleError):
    """The server (or our own validation) rejected the content of a request (HTTP 400)."""

    def __init__(self, message: str, hint: str = "", *, details: list[str] | None = None, **kw) -> None:
        super().__init__(message, hint, **kw)
        self.details = details or []


class AuthError(AiconsoleError):
    """Authentication failed (401) or the principal lacks an RBAC action (403)."""

    def __init__(self, message: str, hint: str = "", *, action: str | None = None, **kw) -> None:
        super().__init__(message, hint, **kw)
        self.action = action


class ThrottledError(AiconsoleError):
    """ARM throttled us (HTTP 429); ``retry_after`` is seconds to wait."""

    def __init__(self, message: str, hint: str = "", *, retry_after: float = 0.0, **kw) -> None:
        super().__init__(message, hint, **kw)
        self.retry_after = retry_after


class ServerError(AiconsoleError):
    """The server failed (HTTP 5xx)."""


class ConnectionFailedError(AiconsoleError):
    """The server could not be reached, the connection dropped, or it timed out."""


class OutcomeUnknownError(ConnectionFailedError):
    """The request was sent but its answer was lost: a write may or may not have been made.

    The journal records such a write as ``unknown``, never as ``failed``: the server may well
    hold the new state, and a "failed" entry would send the next person to repeat it.
    """


class InsecureTransportError(UsageError):
    """A plain-HTTP URL that is not on loopback was given."""
