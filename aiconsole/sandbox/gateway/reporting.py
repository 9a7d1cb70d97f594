"""Report a policy problem once, not once per request.

A policy the engine cannot simulate would otherwise flood the sandbox log at the traffic
generator's rate. Messages are keyed by their text, so the same problem in a new ETag (the user
edited the policy) is reported again, which is what an operator wants to see.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("aiconsole.sandbox.gateway")


class LogOnce:
    """Remembers which messages were logged; bounded so a hostile policy cannot grow it forever."""

    def __init__(self, limit: int = 4096) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._limit = limit
        self.messages: list[str] = []  # what was reported, for tests and /_sandbox/info

    def warn(self, message: str) -> bool:
        """Log ``message`` at WARNING the first time it is seen; True if it was logged now."""
        with self._lock:
            if message in self._seen:
                return False
            if len(self._seen) >= self._limit:
                self._seen.clear()
            self._seen.add(message)
            self.messages.append(message)
            del self.messages[:-200]
        log.warning("%s", message)
        return True
