"""What every use case needs: the management port, the connection's guards and the journal.

Guards live here, in the service layer, so a read-only profile refuses a write whether it
comes from the TUI, the CLI or a script — hiding a key in the UI is only a convenience.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from aiconsole.audit.journal import AuditJournal
from aiconsole.backends.port import ManagementPort
from aiconsole.domain.errors import AiconsoleError, OutcomeUnknownError, ReadOnlyError, RefusedError
from aiconsole.services.clock import clock_for, utc_now

T = TypeVar("T")


@dataclass
class WriteRecord:
    """The audit fields of one write, filled in as the write proceeds."""

    action: str
    target: str
    reason: str | None = None
    before: Any = None
    after: Any = None
    request_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: set once the write call returns (``make``): a later failure (reading the result back)
    #: must not be journalled as a failed write, because the change is on the server
    landed: bool = False

    def make(self, write: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call the write itself; once it returns the change is on the server (``landed``)."""
        result = write(*args, **kwargs)
        self.landed = True
        return result


@dataclass
class ServiceContext:
    """One connection's collaborators, shared by all services."""

    backend: ManagementPort
    journal: AuditJournal = field(default_factory=AuditJournal)
    profile: str | None = None
    service_name: str | None = None
    read_only: bool = False
    production: bool = False
    principal: str | None = None
    #: called with the record before a write; may raise RefusedError (e.g. production confirm)
    confirm_hook: Callable[[WriteRecord], None] | None = None
    #: the gateway's "now" (the sandbox's clock can be moved); see services.clock
    now: Callable[[], datetime] = field(default_factory=lambda: utc_now)

    @classmethod
    def from_connection(cls, connection, backend: ManagementPort | None = None, **kw) -> "ServiceContext":
        kw.setdefault("now", clock_for(connection))
        return cls(
            backend=backend if backend is not None else connection.backend(),
            profile=connection.profile,
            service_name=connection.service_name,
            read_only=connection.read_only,
            production=connection.production,
            **kw,
        )

    def check_writable(self, action: str, target: str, *, confirm_name: str | None = None) -> None:
        """Refuse a write in read-only profiles; on production profiles demand the service name."""
        if self.read_only:
            raise ReadOnlyError(
                f"Refusing to {action} {target}: the profile '{self.profile or 'current'}' is read-only.",
                "Use a profile without read_only to make changes.",
            )
        if self.production and confirm_name != self.service_name:
            raise RefusedError(
                f"Refusing to {action} {target} on production service '{self.service_name}' without confirmation.",
                f"Confirm with --yes --confirm {self.service_name} (or type the service name in the console).",
            )

    @contextmanager
    def write(self, action: str, target: str, *, reason: str | None = None, confirm_name: str | None = None,
              before: Any = None) -> Iterator[WriteRecord]:
        """Guard one write and journal it whatever happens.

        Usage::

            with ctx.write("keys.rotate", sid, before={...}) as rec:
                rec.make(backend.regenerate_key, sid, slot)  # the write itself
                ...read the result back...
                rec.after = {...}
        """
        record = WriteRecord(action=action, target=target, reason=reason, before=before)
        try:
            self.check_writable(action, target, confirm_name=confirm_name)
            if self.confirm_hook is not None:
                self.confirm_hook(record)
        except RefusedError as exc:
            self._journal(record, "refused", exc.message)
            raise
        try:
            yield record
        except AiconsoleError as exc:
            if record.landed:
                self._journal(record, "ok", f"made; reading the result back failed: {exc.message}",
                              request_id=exc.request_id)
                # Same type (callers retry on ThrottledError and the like), truthful message.
                exc.message = f"The change was made, but reading the result back failed: {exc.message}"
                exc.args = (exc.message,)
                raise
            # A lost answer is not a failure: the write may have landed. Say so, never guess.
            result = "unknown" if isinstance(exc, OutcomeUnknownError) else "failed"
            self._journal(record, result, exc.message, request_id=exc.request_id)
            raise
        except BaseException as exc:  # noqa: BLE001 - journal the truth, then re-raise
            self._journal(record, "failed", type(exc).__name__)
            raise
        else:
            self._journal(record, "ok", None)

    def _journal(self, record: WriteRecord, result: str, error: str | None, request_id: str | None = None) -> None:
        self.journal.append(
            action=record.action,
            target=record.target,
            result=result,
            profile=self.profile,
            service=self.service_name,
            principal=self.principal,
            reason=record.reason,
            before=record.before,
            after=record.after,
            request_id=request_id or record.request_id,
            error=error,
            **record.extra,
        )
