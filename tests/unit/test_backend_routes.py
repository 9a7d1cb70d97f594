"""Which backends an API reaches: its own chain, and an operation's policy that replaces it."""

from __future__ import annotations

from types import SimpleNamespace

from aiconsole.domain.models import PolicyDocument, PolicyScope
from aiconsole.services.backends import BackendsService

FOOT = "<backend><base /></backend><outbound><base /></outbound></policies>"


def policy(inbound: str, base: bool = True) -> str:
    return f"<policies><inbound>{'<base />' if base else ''}{inbound}</inbound>{FOOT}"


class Policies:
    """A management port holding only APIs, operations and policies (all this service reads)."""

    def __init__(self, docs: dict[str, str], operations: dict[str, list[str]]) -> None:
        self.docs = docs
        self.operations = operations

    def list_apis(self):
        return [SimpleNamespace(name=a) for a in self.operations]

    def list_operations(self, api):
        return [SimpleNamespace(name=o) for o in self.operations[api]]

    def get_policy(self, scope: PolicyScope, *, fmt: str = "xml"):
        text = self.docs.get(scope.label)
        return PolicyDocument(scope=scope, xml=text) if text else None


def routes(docs, operations):
    return BackendsService(SimpleNamespace(backend=Policies(docs, operations))).api_routes()


def test_an_operation_policy_can_add_or_replace_the_backend():
    docs = {
        "global": policy('<set-backend-service backend-id="default" />', base=False),
        "api:chat": policy('<set-backend-service backend-id="pool" />'),
        "operation:chat/embed": policy('<set-backend-service backend-id="embeddings" />'),  # after the API's
        "api:legacy": policy(""),
        "operation:legacy/models": policy('<set-backend-service backend-id="cache" />', base=False),  # replaces
    }
    found = routes(docs, {"chat": ["complete", "embed"], "legacy": ["complete", "models"], "bare": ["x"]})
    assert found == {"chat": ["default", "pool", "embeddings"], "legacy": ["default", "cache"], "bare": ["default"]}
