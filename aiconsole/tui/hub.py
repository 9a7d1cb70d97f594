"""The TUI's single door to the service layer.

``ServiceHub`` builds the SDK-backed backend lazily, on first use, from whichever worker thread
asks first — never on the UI thread and never at import time, so the first frame paints before
the Azure SDK is imported. Screens call it only from thread workers.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from aiconsole.services.context import ServiceContext
    from aiconsole.services.subscriptions import SubscriptionService


class ServiceHub:
    def __init__(self, connection: Any, *, backend: Any = None, context: "ServiceContext | None" = None) -> None:
        self.connection = connection
        self._backend = backend
        self._context = context
        self._lock = threading.Lock()
        #: the live screens' metrics feeds of this connection, by source (``screens.top.feed_for``)
        self.live_feeds: dict[str | None, Any] = {}

    @property
    def ready(self) -> bool:
        return self._context is not None

    def context(self) -> "ServiceContext":
        """The service context, building the backend on first call (blocking; call in a worker)."""
        if self._context is not None:
            return self._context
        with self._lock:
            if self._context is None:
                from aiconsole.services.context import ServiceContext

                backend = self._backend if self._backend is not None else self.connection.backend()
                self._context = ServiceContext.from_connection(self.connection, backend=backend)
        return self._context

    def close(self) -> None:
        """Close what was opened for this connection (``:ctx`` to another, or leaving the console)."""
        feeds, self.live_feeds = self.live_feeds, {}
        for feed in feeds.values():
            try:
                feed.close()
            except Exception:  # noqa: BLE001 - closing is best effort; the connection is gone
                pass

    def subscriptions(self) -> "SubscriptionService":
        from aiconsole.services.subscriptions import SubscriptionService

        return SubscriptionService(self.context())
