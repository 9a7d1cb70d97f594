"""The effective inbound chain for a request: global → product → API → operation.

Each scope's ``<inbound>`` replaces its ``<base/>`` with the chain of the scope above it; a scope
without ``<base/>`` drops what is above it, and a scope with no policy at all behaves as a lone
``<base/>``. Compiling XML is the expensive part, so both the compiled documents and the merged
chains are cached by the documents' ETags: a request with unchanged policies costs one dict
lookup.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from aiconsole.sandbox.gateway.policy_model import BASE, Compiler, inbound_of
from aiconsole.sandbox.gateway.reporting import LogOnce
from aiconsole.sandbox.gateway.xmlsafe import PolicyXmlError, parse_policy


@dataclass(frozen=True)
class PolicyDoc:
    """One stored policy document: where it applies, its ETag and its text (``xml`` form)."""

    scope: str  # "global", "product:ID", "api:ID" or "operation:API/OP"
    text: str
    etag: str | None = None

    @property
    def cache_key(self) -> tuple[str, str]:
        tag = self.etag or hashlib.sha256(self.text.encode("utf-8")).hexdigest()
        return (self.scope, tag)


class BrokenPolicy(RuntimeError):
    """A stored document cannot be parsed; the gateway answers 500 for requests that use it."""

    def __init__(self, scope: str, reason: str) -> None:
        super().__init__(f"policy at {scope} cannot be evaluated: {reason}")
        self.scope = scope


def substitute_base(section: tuple, parent: tuple) -> tuple:
    """Replace each ``<base/>`` in ``section`` by ``parent``."""
    out: list = []
    for step in section:
        if step is BASE:
            out.extend(parent)
        else:
            out.append(step)
    return tuple(out)


class ChainCache:
    """Compiled documents and merged chains, keyed by ETag; bounded and thread-safe."""

    def __init__(self, reporter: LogOnce | None = None, *, limit: int = 1024) -> None:
        self.reporter = reporter or LogOnce()
        self._compiler = Compiler(self.reporter)
        self._docs: dict[tuple[str, str], tuple | BrokenPolicy] = {}
        self._chains: dict[tuple, tuple] = {}
        self._lock = threading.Lock()
        self._limit = limit
        self.compilations = 0  # how many documents were parsed (tests check the cache works)

    def _compile(self, doc: PolicyDoc) -> tuple:
        key = doc.cache_key
        with self._lock:
            cached = self._docs.get(key)
        if cached is None:
            self.compilations += 1
            try:
                root = parse_policy(doc.text)
                cached = self._compiler.compile_section(inbound_of(root), doc.scope)
            except PolicyXmlError as exc:
                self.reporter.warn(f"policy at {doc.scope} cannot be parsed ({exc}); requests through it fail with 500")
                cached = BrokenPolicy(doc.scope, str(exc))
            with self._lock:
                if len(self._docs) >= self._limit:
                    self._docs.clear()
                self._docs[key] = cached
        if isinstance(cached, BrokenPolicy):
            raise cached
        return cached

    def steps_for(self, docs: Sequence[PolicyDoc | None]) -> tuple:
        """The merged inbound steps for documents ordered from the outermost scope inwards."""
        key = tuple(d.cache_key if d is not None else None for d in docs)
        with self._lock:
            chain = self._chains.get(key)
        if chain is not None:
            return chain
        chain = ()
        for doc in docs:
            section = (BASE,) if doc is None else self._compile(doc)
            chain = substitute_base(section, chain)
        with self._lock:
            if len(self._chains) >= self._limit:
                self._chains.clear()
            self._chains[key] = chain
        return chain
