"""An in-memory stand-in for the management port, for fast, deterministic TUI tests.

It implements only what the subscriptions screens call (list pages, get, describe's lookups,
listSecrets, regenerate) with the semantics of the real API that matter to the UI: pages in
order, keys only from ``list_secrets``, regenerating a slot changes its key at once. The
end-to-end behaviour against the real SDK and the sandbox is covered by the sandbox-backed
tests; this fake exists so that layout and interaction tests need no subprocess and no clock.
"""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta, timezone

from pydantic import SecretStr

from aiconsole.domain.errors import NotFoundError
from aiconsole.domain.models import KeyPair, Product, Scope, Subscription, SubscriptionState

BASE = "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.ApiManagement/service/apim-fake"
STATES = list(SubscriptionState)
PRODUCTS = ["starter", "unlimited", "gpt4-team", "research"]
OWNERS = ["alice", "bob", "carol", "dave", None]


def make_subscriptions(count: int, seed: int = 7) -> list[Subscription]:
    rnd = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    subs = []
    for i in range(count):
        kind = i % 3
        if kind == 0:
            scope = f"{BASE}/products/{PRODUCTS[i % len(PRODUCTS)]}"
        elif kind == 1:
            scope = f"{BASE}/apis/azure-openai"
        else:
            scope = f"{BASE}/apis"
        owner = OWNERS[i % len(OWNERS)]
        created = start + timedelta(days=rnd.randrange(0, 300), minutes=i)
        expires = created + timedelta(days=rnd.choice([30, 90, 400])) if i % 4 == 0 else None
        subs.append(
            Subscription(
                name=f"sub-{i:04d}",
                display_name=f"Team {rnd.choice(['Alpha', 'Beta', 'Gamma', 'Delta', 'Omega'])} {i}",
                state=STATES[(i // 2) % len(STATES)] if i % 2 else SubscriptionState.active,
                scope=Scope.parse(scope),
                owner_id=f"{BASE}/users/{owner}" if owner else None,
                created_date=created,
                expiration_date=expires,
                etag=f'"{i}"',
            )
        )
    return subs


class FakePort:
    """Enough of ``ManagementPort`` for the subscriptions screens (see the module docstring)."""

    label = "fake / apim-fake"

    def __init__(self, count: int = 30, *, page_size: int = 10, seed: int = 7) -> None:
        self.subs = {s.name: s for s in make_subscriptions(count, seed)}
        self.page_size = page_size
        self._rnd = random.Random(seed)
        self._keys = {name: [self._new_key(), self._new_key()] for name in self.subs}
        self.list_secrets_calls = 0
        #: tests set this to hold the listing after the first page until released
        self.hold_after_first_page: threading.Event | None = None
        self.fail_listing: Exception | None = None

    def _new_key(self) -> str:
        return "".join(self._rnd.choice("0123456789abcdef") for _ in range(32))

    def iter_subscription_pages(self, *, odata_filter=None, page_size=100):
        if self.fail_listing is not None:
            raise self.fail_listing
        items = list(self.subs.values())
        for i in range(0, len(items), self.page_size):
            yield items[i : i + self.page_size]
            if i == 0 and self.hold_after_first_page is not None:
                self.hold_after_first_page.wait(10)

    def get_subscription(self, sid):
        try:
            return self.subs[sid]
        except KeyError:
            raise NotFoundError(f"There is no subscription '{sid}'.") from None

    def get_product(self, product_id):
        return Product(name=product_id, display_name=product_id.title(), state="published")

    def get_api(self, api_id):
        raise NotFoundError(f"There is no API '{api_id}'.")

    def list_secrets(self, sid):
        self.get_subscription(sid)
        self.list_secrets_calls += 1
        primary, secondary = self._keys[sid]
        return KeyPair(name=sid, primary_key=SecretStr(primary), secondary_key=SecretStr(secondary))

    def regenerate_key(self, sid, slot):
        self.get_subscription(sid)
        self._keys[sid][0 if slot == "primary" else 1] = self._new_key()
