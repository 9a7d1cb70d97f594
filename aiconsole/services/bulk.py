"""Bulk work on subscriptions: filter expressions, a bounded-concurrency runner, resume.

``product:starter owner:alice state:active name~"team x"`` selects subscriptions (different keys
must all match; a key given twice matches either value). The runner applies one action to each
selected subscription with a small thread pool, paces writes to ARM's documented budget (a
token bucket: 200 burst, 10 per second) and, when ARM still answers 429, stops every worker
until ``Retry-After`` has passed. Each item's start and result are appended (fsynced) to a run
log under ``state_dir()/bulk/``; running the same command again after an interruption skips the
finished items, and an item that was in flight is checked (fingerprint or state) before it is
tried again, so nothing is done twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import signal
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from aiconsole.config import paths
from aiconsole.domain.errors import AiconsoleError, ThrottledError, UsageError
from aiconsole.domain.models import Slot, Subscription, SubscriptionState
from aiconsole.domain.secrets import fingerprint
from aiconsole.services.context import ServiceContext
from aiconsole.services.subscriptions import build_filter, subscription_row

FILTER_KEYS = ("product", "api", "owner", "state", "name")
DEFAULT_CONCURRENCY = 8
ARM_WRITE_BURST = 200
ARM_WRITES_PER_SECOND = 10.0
#: test hook shared with the rotation machine (``bulk_after:N`` here)
KILL_ENV = "AICONSOLE_TEST_KILL_AT"


# --------------------------------------------------------------------------- filter expressions


@dataclass
class FilterExpr:
    """A parsed selection: for each key, the values any of which may match."""

    clauses: dict[str, list[str]] = field(default_factory=dict)
    text: str = ""

    def odata(self) -> str | None:
        """The server-side ``$filter`` for the keys that have one value (the rest is matched here)."""
        single = {k: v[0] for k, v in self.clauses.items() if len(v) == 1}
        owner = single.get("owner")
        return build_filter(
            text=None,  # contains() is case-sensitive on some servers; name~ is matched client-side
            state=single.get("state"),
            product=single.get("product"),
            owner=owner if owner and "@" not in owner else None,
        )

    def matches(self, sub: Subscription, *, owner_ids: dict[str, str] | None = None) -> bool:
        """Client-side check of every clause (``owner_ids`` maps an email to its user id)."""
        for key, values in self.clauses.items():
            if not any(self._match_one(key, v, sub, owner_ids or {}) for v in values):
                return False
        return True

    @staticmethod
    def _match_one(key: str, value: str, sub: Subscription, owner_ids: dict[str, str]) -> bool:
        low = value.lower()
        if key == "product":
            return sub.scope.kind.value == "product" and (sub.scope.id or "").lower() == low
        if key == "api":
            return sub.scope.kind.value == "api" and (sub.scope.id or "").lower() == low
        if key == "state":
            return sub.state.value == low
        if key == "owner":
            want = owner_ids.get(low, value).lower()
            return sub.owner.lower() == want
        if key == "name":
            return low in (sub.display_name or "").lower() or low in sub.name.lower()
        return False


def parse_filter(text: str) -> FilterExpr:
    """Parse ``product:ID owner:USER state:S name~TEXT`` (spaces or commas between terms; quotes allowed)."""
    raw = (text or "").strip()
    if not raw:
        raise UsageError("The filter is empty.", "Use for example 'product:starter state:active'.")
    try:
        lexer = shlex.shlex(raw, posix=True)
        lexer.whitespace = " \t\n,"
        lexer.whitespace_split = True
        lexer.commenters = ""
        tokens = list(lexer)
    except ValueError:
        raise UsageError(f"The filter '{raw}' has an unclosed quote.") from None
    expr = FilterExpr(text=raw)
    for token in tokens:
        key, sep, value = _split_term(token)
        if sep is None:
            raise UsageError(f"'{token}' is not a filter term.",
                             "Use product:ID, api:ID, owner:USER, state:STATE or name~TEXT.")
        if key not in FILTER_KEYS:
            raise UsageError(f"'{key}' is not a filter key.", f"Use one of: {', '.join(FILTER_KEYS)}.")
        if key == "name" and sep != "~":
            raise UsageError("Match names with name~TEXT (contains).")
        if key != "name" and sep != ":":
            raise UsageError(f"Use {key}:VALUE (exact match); only name~ matches a part.")
        if not value:
            raise UsageError(f"'{token}' has no value.")
        if key == "state":
            try:
                value = SubscriptionState(value.lower()).value
            except ValueError:
                valid = ", ".join(s.value for s in SubscriptionState)
                raise UsageError(f"'{value}' is not a subscription state.", f"Use one of: {valid}.") from None
        values = expr.clauses.setdefault(key, [])
        if value not in values:
            values.append(value)
    return expr


def _split_term(token: str) -> tuple[str, str | None, str]:
    positions = [(token.find(c), c) for c in ":~" if token.find(c) > 0]
    if not positions:
        return token, None, ""
    pos, sep = min(positions)
    return token[:pos].lower(), sep, token[pos + 1:]


def select(ctx: ServiceContext, expr: FilterExpr) -> list[Subscription]:
    """The subscriptions an expression selects: server-side filter first, then every clause here."""
    owner_ids: dict[str, str] = {}
    for who in expr.clauses.get("owner", []):
        if "@" in who:
            from aiconsole.services.lifecycle import LifecycleService

            owner_ids[who.lower()] = LifecycleService(ctx).resolve_owner(who).name
    # A throttled page is waited out and asked again by the adapter (``_page_call``), page by page.
    out: list[Subscription] = []
    for page in ctx.backend.iter_subscription_pages(odata_filter=expr.odata()):
        out.extend(s for s in page if expr.matches(s, owner_ids=owner_ids))
    return out


# --------------------------------------------------------------------------- pacing


class WriteBudget:
    """A token bucket for ARM writes: ``burst`` at once, then ``rate`` per second (0 = no limit)."""

    def __init__(self, rate: float = ARM_WRITES_PER_SECOND, burst: int = ARM_WRITE_BURST, *,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self.tokens = float(self.burst)
        self.clock = clock
        self.sleep = sleep
        self.updated = clock()
        self.lock = threading.Lock()

    def acquire(self) -> None:
        if self.rate <= 0:
            return
        while True:
            with self.lock:
                now = self.clock()
                self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1 - 1e-9:
                    self.tokens = max(0.0, self.tokens - 1)
                    return
                wait_for = max((1 - self.tokens) / self.rate, 1e-3)
            self.sleep(wait_for)


class RetryGate:
    """When ARM says 429, every worker waits until ``Retry-After`` has passed, not just the one told."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.clock = clock
        self.sleep = sleep
        self.until = 0.0
        self.lock = threading.Lock()
        self.throttled = 0

    def pause(self, seconds: float) -> None:
        with self.lock:
            self.throttled += 1
            self.until = max(self.until, self.clock() + max(seconds, 0.0))

    def wait(self) -> None:
        while True:
            with self.lock:
                left = self.until - self.clock()
            if left <= 0:
                return
            self.sleep(min(left, 1.0))


# --------------------------------------------------------------------------- run log


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RunLog:
    """An append-only JSONL file per bulk run: header, then ``start``/``result`` lines per item."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()

    @staticmethod
    def run_id(service: str | None, action: str, params: dict[str, Any], selection: str) -> str:
        key = json.dumps([service, action, params, selection], sort_keys=True)
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    def append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode("utf-8")
        with self.lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line)
                os.fdatasync(fd)
            finally:
                os.close(fd)

    def read(self) -> list[dict[str, Any]]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        out = []
        for raw in data.split(b"\n"):
            try:
                out.append(json.loads(raw))
            except ValueError:
                continue  # a torn last line from a kill: that item simply has no result yet
        return out


@dataclass
class PriorState:
    """What an earlier, interrupted run recorded: finished results and items caught in flight."""

    items: list[str]
    finished: dict[str, dict[str, Any]]
    in_flight: dict[str, dict[str, Any]]
    complete: bool


def replay(records: Iterable[dict[str, Any]]) -> PriorState | None:
    header = None
    finished: dict[str, dict[str, Any]] = {}
    in_flight: dict[str, dict[str, Any]] = {}
    complete = False
    for r in records:
        kind = r.get("type")
        if kind == "header":
            header = r
        elif kind == "start":
            in_flight[r["name"]] = r.get("before") or {}
        elif kind == "result":
            name = r["name"]
            if r.get("result") in ("ok", "unchanged"):
                finished[name] = r
                in_flight.pop(name, None)
            else:
                in_flight.pop(name, None)
        elif kind == "complete":
            complete = True
    if header is None:
        return None
    return PriorState(list(header.get("items", [])), finished, in_flight, complete)


# --------------------------------------------------------------------------- actions


class BulkAction(Protocol):
    """One change applied to each selected subscription."""

    name: str  # journal action, e.g. "keys.rotate"
    params: dict[str, Any]

    def preview(self, sub: Subscription) -> dict[str, Any]:
        """The dry-run row: what would change for ``sub`` (``change`` None when nothing would)."""
        ...

    def apply(self, sid: str, prior: dict[str, Any] | None, record_start: Callable[[dict[str, Any]], None],
              pace: Callable[[], None]) -> dict[str, Any]:
        """Do it once. ``prior`` is what an interrupted run recorded before its write (or None)."""
        ...


def journaled(ctx: ServiceContext, action: str, target: str, run_id: str | None, after: Any) -> bool:
    """Whether this bulk run already has an ``ok`` journal entry for ``target`` (with ``after``, if given).

    An entry without ``after`` also counts: the write was made but its result could not be read
    back (``WriteRecord.make``), and this is the retry that finds it made. Only called for an
    item caught in flight, so reading the journal is rare.
    """
    for entry in reversed(ctx.journal.entries()):
        if (entry.get("bulk_run") == run_id and entry.get("target") == target and entry.get("action") == action
                and entry.get("result") == "ok" and (after is None or entry.get("after") in (after, None))):
            return True
    return False


class RotateSlotAction:
    """Regenerate one key slot; fingerprints before and after go to the journal and the result."""

    name = "keys.rotate"

    def __init__(self, ctx: ServiceContext, slot: Slot, *, reason: str | None = None,
                 confirm_name: str | None = None, run_id: str | None = None) -> None:
        self.ctx = ctx
        self.slot = slot
        self.reason = reason
        self.confirm_name = confirm_name
        self.run_id = run_id
        self.params = {"slot": slot}

    def preview(self, sub: Subscription) -> dict[str, Any]:
        return {"change": f"regenerate the {self.slot} key"}

    def apply(self, sid, prior, record_start, pace):
        keys = self.ctx.backend.list_secrets(sid)
        current = fingerprint(keys.key(self.slot))
        target = f"subscription:{sid}"
        if prior and prior.get("fingerprint") and prior["fingerprint"] != current:
            # The earlier run's regenerate went through before it stopped: record it (unless its
            # journal entry made it out before the stop), and do not repeat it.
            if not journaled(self.ctx, self.name, target, self.run_id, {"slot": self.slot, "fingerprint": current}):
                self.ctx.journal.append(action=self.name, target=target, result="ok", profile=self.ctx.profile,
                                        service=self.ctx.service_name, principal=self.ctx.principal,
                                        reason=self.reason,
                                        before={"slot": self.slot, "fingerprint": prior["fingerprint"]},
                                        after={"slot": self.slot, "fingerprint": current}, bulk_run=self.run_id,
                                        detected=True)
            return {"slot": self.slot, "fingerprint_before": prior["fingerprint"], "fingerprint_after": current,
                    "detected": True}
        record_start({"fingerprint": current})
        pace()
        with self.ctx.write(self.name, target, reason=self.reason, confirm_name=self.confirm_name,
                            before={"slot": self.slot, "fingerprint": current}) as rec:
            rec.extra["bulk_run"] = self.run_id
            rec.make(self.ctx.backend.regenerate_key, sid, self.slot)
            after = fingerprint(self.ctx.backend.list_secrets(sid).key(self.slot))
            rec.after = {"slot": self.slot, "fingerprint": after}
        return {"slot": self.slot, "fingerprint_before": current, "fingerprint_after": after}


class SetStateAction:
    """Change the state (and optionally the state comment) with ``If-Match`` from a fresh read."""

    name = "subs.set"

    def __init__(self, ctx: ServiceContext, state: str, *, comment: str | None = None, reason: str | None = None,
                 confirm_name: str | None = None, run_id: str | None = None) -> None:
        from aiconsole.services.lifecycle import parse_state

        self.ctx = ctx
        self.state = parse_state(state)
        self.comment = comment
        self.reason = reason
        self.confirm_name = confirm_name
        self.run_id = run_id
        self.params = {"state": self.state, "comment": comment}

    def preview(self, sub: Subscription) -> dict[str, Any]:
        if sub.state.value == self.state:
            return {"change": None}
        return {"change": f"state {sub.state.value} → {self.state}"}

    def apply(self, sid, prior, record_start, pace):
        from aiconsole.services.lifecycle import LifecycleService

        current = self.ctx.backend.get_subscription(sid)
        before = current.state.value
        if before == self.state:
            if not prior:
                return {"state_before": before, "state_after": before, "result": "unchanged"}
            # The earlier run's write went through before it stopped: record it (unless its journal
            # entry made it out before the stop), and do not repeat it.
            target = f"subscription:{sid}"
            if not journaled(self.ctx, self.name, target, self.run_id, None):
                self.ctx.journal.append(action=self.name, target=target, result="ok",
                                        profile=self.ctx.profile, service=self.ctx.service_name,
                                        principal=self.ctx.principal, reason=self.reason,
                                        before={"state": prior.get("state")}, after={"state": before},
                                        bulk_run=self.run_id, detected=True)
            return {"state_before": prior.get("state"), "state_after": before, "detected": True}
        record_start({"state": before, "etag": current.etag})
        pace()
        updated, _ = LifecycleService(self.ctx).update(sid, state=self.state, comment=self.comment,
                                                       if_match=current.etag, reason=self.reason,
                                                       confirm_name=self.confirm_name, current=current)
        return {"state_before": before, "state_after": updated.state.value}


# --------------------------------------------------------------------------- runner


@dataclass
class ItemResult:
    name: str
    result: str  # ok | unchanged | failed
    attempts: int = 0
    error: str | None = None
    resumed: bool = False
    fields: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out = {"name": self.name, "result": self.result, **self.fields, "attempts": self.attempts,
               "error": self.error, "resumed": self.resumed}
        return out


@dataclass
class Progress:
    total: int
    done: int = 0
    ok: int = 0
    failed: int = 0
    throttled: int = 0


class BulkRunner:
    """Apply an action to many subscriptions: bounded concurrency, paced writes, resumable."""

    def __init__(self, ctx: ServiceContext, action: BulkAction, *, concurrency: int = DEFAULT_CONCURRENCY,
                 budget: WriteBudget | None = None, gate: RetryGate | None = None, max_attempts: int = 8,
                 root: Path | None = None, on_progress: Callable[[Progress], None] | None = None) -> None:
        self.ctx = ctx
        self.action = action
        self.concurrency = max(1, concurrency)
        self.budget = budget or WriteBudget()
        self.gate = gate or RetryGate()
        self.max_attempts = max_attempts
        self.root = Path(root) if root else paths.state_dir() / "bulk"
        self.on_progress = on_progress or (lambda _p: None)
        self.log: RunLog | None = None
        self.run_id: str | None = None
        self._count_lock = threading.Lock()
        self._applied_count = 0

    def open(self, selection: str, items: Callable[[], list[str]], *, restart: bool = False) -> tuple[list[str], PriorState | None]:
        """Find this command's unfinished run (same service, action, parameters and selection) or start one.

        ``items`` is only called for a new run: a resumed run keeps the list it started with,
        so items that no longer match the filter (because they were changed) are not lost.
        """
        paths.ensure_private_dir(self.root)
        self.run_id = RunLog.run_id(self.ctx.service_name, self.action.name, self.action.params, selection)
        if hasattr(self.action, "run_id"):
            self.action.run_id = self.run_id  # type: ignore[attr-defined]
        path = self.root / f"{self.run_id}.jsonl"
        log = RunLog(path)
        prior = replay(log.read())
        if prior is not None and (prior.complete or restart):
            os.replace(path, path.with_name(f"{self.run_id}.{int(time.time())}.done.jsonl"))
            prior = None
        self.log = log
        if prior is None:
            names = items()
            log.append({"type": "header", "run_id": self.run_id, "action": self.action.name,
                        "params": self.action.params, "selection": selection, "service": self.ctx.service_name,
                        "items": names, "at": _now()})
            return names, None
        return prior.items, prior

    def run(self, names: list[str], prior: PriorState | None = None) -> list[ItemResult]:
        """Do every unfinished item; results in the order of ``names``."""
        assert self.log is not None
        results: dict[str, ItemResult] = {}
        todo = []
        for name in names:
            if prior is not None and name in prior.finished:
                rec = prior.finished[name]
                fields = {k: v for k, v in rec.items() if k not in ("type", "name", "result", "attempts", "error", "at")}
                results[name] = ItemResult(name, rec["result"], rec.get("attempts", 0), None, True, fields)
            else:
                todo.append(name)
        progress = Progress(total=len(names), done=len(results), ok=len(results))
        self.on_progress(progress)
        lock = threading.Lock()

        def work(name: str) -> ItemResult:
            in_flight = prior.in_flight.get(name) if prior is not None else None
            result = self._one(name, in_flight)
            with lock:
                progress.done += 1
                progress.ok += result.result != "failed"
                progress.failed += result.result == "failed"
                progress.throttled = self.gate.throttled
                self.on_progress(progress)
            return result

        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="bulk")
        futures: dict[Future, str] = {}
        try:
            it = iter(todo)
            # Submit a window at a time so an interrupt leaves most items unstarted.
            for name in it:
                futures[pool.submit(work, name)] = name
                if len(futures) >= self.concurrency * 2:
                    done, _ = wait(list(futures), return_when=FIRST_COMPLETED)
                    for f in done:
                        results[futures.pop(f)] = f.result()
            for f in list(futures):
                results[futures.pop(f)] = f.result()
        except BaseException:
            for f in futures:
                f.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        self.log.append({"type": "complete", "at": _now()})
        return [results[n] for n in names]

    def _one(self, name: str, in_flight: dict[str, Any] | None) -> ItemResult:
        assert self.log is not None
        attempts = 0
        started: dict[str, Any] | None = in_flight

        def record_start(before: dict[str, Any]) -> None:
            nonlocal started
            started = before
            self.log.append({"type": "start", "name": name, "before": before, "at": _now()})

        def pace() -> None:
            self.gate.wait()
            self.budget.acquire()

        while True:
            attempts += 1
            self.gate.wait()
            try:
                fields = self.action.apply(name, started, record_start, pace)
            except ThrottledError as exc:
                if attempts < self.max_attempts:
                    self.gate.pause(exc.retry_after if exc.retry_after > 0 else min(0.2 * attempts, 5.0))
                    continue
                return self._finish(name, "failed", attempts, exc.message, {})
            except AiconsoleError as exc:
                return self._finish(name, "failed", attempts, exc.message, {})
            result = fields.pop("result", "ok")
            self._applied()
            return self._finish(name, result, attempts, None, fields)

    def _applied(self) -> None:
        """Test hook: ``AICONSOLE_TEST_KILL_AT=bulk_after:N`` SIGKILLs the process once N items
        have been applied on the server but before the N-th result is logged (the worst moment)."""
        wanted = os.environ.get(KILL_ENV, "")
        with self._count_lock:
            self._applied_count += 1
            count = self._applied_count
        for part in wanted.split(","):
            if part.startswith("bulk_after:") and part.split(":", 1)[1] == str(count):
                os.kill(os.getpid(), signal.SIGKILL)

    def _finish(self, name: str, result: str, attempts: int, error: str | None, fields: dict[str, Any]) -> ItemResult:
        assert self.log is not None
        self.log.append({"type": "result", "name": name, "result": result, "attempts": attempts, "error": error,
                         "at": _now(), **fields})
        return ItemResult(name, result, attempts, error, False, fields)


def preview_rows(action: BulkAction, subs: list[Subscription]) -> list[dict[str, Any]]:
    """The dry-run table: each selected subscription with what would change."""
    rows = []
    for sub in subs:
        row = subscription_row(sub)
        row.update(action.preview(sub))
        if row.get("change") is None:
            row["change"] = "(no change)"
        rows.append(row)
    return rows
