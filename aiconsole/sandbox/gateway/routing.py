"""Map a gateway request onto an API, an operation and the caller's subscription.

APIM's order is kept: find the API by path (404 if none), find the operation by method and URL
template (404), then check the key (401 missing / 401 invalid, the latter also for a key of a
subscription that is not active or whose scope does not cover the API). Operation templates are
compiled once per API version.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from aiconsole.sandbox.state import Api, Operation, SandboxState, Subscription

KEY_HEADERS = ("api-key", "ocp-apim-subscription-key")
KEY_QUERY = "subscription-key"


@dataclass(frozen=True)
class Route:
    api: Api
    operation: Operation | None
    params: dict[str, str]


class Router:
    """Finds the API and operation for a path; caches compiled URL templates per API ETag."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self._templates: dict[tuple[str, int], list[tuple[re.Pattern[str], Operation]]] = {}
        self._lock = threading.Lock()

    def _compiled(self, api: Api) -> list[tuple[re.Pattern[str], Operation]]:
        key = (api.aid, api.version)
        with self._lock:
            cached = self._templates.get(key)
        if cached is not None:
            return cached
        compiled = []
        for op in list(api.operations.values()):
            parts = re.split(r"(\{[^}]+\})", op.url_template.split("?")[0])
            pattern = "".join(
                f"(?P<{_group(p[1:-1])}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts
            )
            compiled.append((re.compile(pattern.rstrip("/") + "/?$"), op))
        with self._lock:
            self._templates[key] = compiled
        return compiled

    def route(self, method: str, path: str) -> Route | None:
        """The API and (possibly no) operation for ``method path``; None when no API matches."""
        api = self.state.api_by_path(path)
        if api is None:
            return None
        rest = "/" + path.strip("/")[len(api.path.strip("/")) :].lstrip("/")
        for pattern, op in self._compiled(api):
            if op.method.upper() != method.upper():
                continue
            m = pattern.match(rest)
            if m:
                params = {k: v for k, v in m.groupdict().items()}
                return Route(api, op, {_ungroup(op.url_template, k): v for k, v in params.items()})
        return Route(api, None, {})


def _group(name: str) -> str:
    return "p_" + re.sub(r"\W", "_", name)


def _ungroup(template: str, group: str) -> str:
    for name in re.findall(r"\{([^}]+)\}", template):
        if _group(name) == group:
            return name
    return group


def presented_key(api: Api, headers: dict[str, str], query: dict[str, str]) -> str | None:
    """The subscription key from the API's header/query names or the usual APIM ones."""
    names = (api.header_name.lower(), *KEY_HEADERS)
    for name in names:
        value = headers.get(name)
        if value:
            return value
    for name in (api.query_name, KEY_QUERY):
        value = query.get(name)
        if value:
            return value
    return None


def key_grants(state: SandboxState, sub: Subscription, api: Api) -> bool:
    """An active subscription whose scope covers the API (and, for a product, a published one)."""
    if sub.state != "active":
        return False
    with state.lock:
        if not sub.covers_api(api.aid, state.products):
            return False
        if sub.scope_kind == "product":
            product = state.products.get(sub.scope_id or "")
            return product is not None and product.state == "published"
    return True
