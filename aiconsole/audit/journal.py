"""The audit journal: an append-only, hash-chained JSONL file of every write we attempt.

Each line is one JSON object whose ``prev`` field is the SHA-256 of the previous line's bytes
(64 zeros for the first line), so altering, removing or reordering a line breaks the chain at
that point. A small ``audit.head`` file records the count and hash of the last line so that a
removed tail is noticed too. Appends take an exclusive ``flock`` and are fsynced: a crash loses
at most the line being written, never an earlier one; the next append terminates a torn
line and records its hash, so ``verify`` can tell a crash from an edit.

Entries hold summaries only: limits as values, keys as fingerprints. Callers must never pass
key material; ``append`` refuses values that look like a ``SecretStr``'s payload by contract,
and a test scans the journal for every key the sandbox issued.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aiconsole.config import paths

GENESIS = "0" * 64


def _hash(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


@dataclass
class VerifyResult:
    ok: bool
    count: int
    bad_line: int | None = None  # 1-based: the first problem
    message: str = ""
    #: every problem found, as (line, sentence); the walk stops at the first sign of tampering
    problems: list[tuple[int, str]] = field(default_factory=list)
    #: False when the only problems are torn writes from a crash that a later append recorded
    tampered: bool = False


_TAIL_BLOCK = 64 * 1024


class AuditJournal:
    """Append to and verify one journal file (default: ``$XDG_STATE_HOME/aiconsole/audit.jsonl``)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path else paths.audit_file()

    @property
    def head_path(self) -> Path:
        return self.path.with_name(self.path.name + ".head")

    # -- writing ---------------------------------------------------------------------------
    def append(
        self,
        *,
        action: str,
        target: str,
        result: str,
        profile: str | None = None,
        service: str | None = None,
        principal: str | None = None,
        reason: str | None = None,
        before: Any = None,
        after: Any = None,
        request_id: str | None = None,
        error: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Append one entry and return it. ``result`` is ``ok``, ``failed``, ``refused`` or ``dry-run``."""
        paths.ensure_private_dir(self.path.parent)
        entry: dict[str, Any] = {
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "profile": profile,
            "service": service,
            "principal": principal or _local_user(),
            "action": action,
            "target": target,
            "reason": reason,
            "before": _scrub(before),
            "after": _scrub(after),
            "result": result,
            "error": error,
            "request_id": request_id,
        }
        entry.update({k: _scrub(v) for k, v in extra.items()})
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            prev, count, torn = self._tail(fd)
            lead = b""
            if torn is not None:
                # A crash tore the last line. Terminate it (the bytes stay, as evidence) in the
                # same write as this entry, which records its hash, so verify can tell a crash
                # from an edit.
                lead = b"\n"
                entry["torn_line"] = {"line": count + 1, "sha256": _hash(torn), "bytes": len(torn)}
                count += 1
            entry["prev"] = prev
            line = json.dumps(entry, ensure_ascii=False, sort_keys=False, default=str).encode("utf-8")
            if b"\n" in line:  # json.dumps never emits one; keep the one-line-per-entry invariant explicit
                raise ValueError("journal entry would span lines")
            _write_all(fd, lead + line + b"\n")
            os.fsync(fd)
            self._write_head(count + 1, _hash(line))
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        return entry

    def _tail(self, fd: int) -> tuple[str, int, bytes | None]:
        """(hash of the last complete line, number of lines before the append, torn tail or None).

        Reads only the end of the file when the head file agrees with it, so an append does not
        cost a read of the whole journal; otherwise (no head, or a crash between the journal's
        fsync and the head's) it counts every line once.
        """
        size = os.fstat(fd).st_size
        if size == 0:
            return GENESIS, 0, None
        tail = _read_tail(fd, size)
        torn: bytes | None = None
        if not tail.endswith(b"\n"):
            cut = tail.rfind(b"\n")
            torn = tail[cut + 1:]
            tail = tail[: cut + 1]
        lines = tail[:-1].split(b"\n") if tail else []
        last = lines[-1] if lines else None
        last_hash = _hash(last) if last is not None else GENESIS
        head = self._read_head()
        count: int | None = None
        if head is not None and isinstance(head.get("count"), int):
            if last is not None and head.get("last") == last_hash:
                count = head["count"]
            elif len(lines) >= 2 and head.get("last") == _hash(lines[-2]):
                count = head["count"] + 1
        if count is None:
            count = _count_complete_lines(fd)
        return last_hash, count, torn

    def _write_head(self, count: int, digest: str) -> None:
        tmp = self.head_path.with_name(self.head_path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"count": count, "last": digest}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.head_path)

    # -- reading ---------------------------------------------------------------------------
    def entries(self) -> list[dict[str, Any]]:
        """Every parseable entry, oldest first (unparseable lines are skipped; verify reports them)."""
        if not self.path.exists():
            return []
        out = []
        for raw in self.path.read_bytes().split(b"\n"):
            if not raw.strip():
                continue
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            if isinstance(entry, dict):
                out.append(entry)
        return out

    def verify(self) -> VerifyResult:
        """Walk the chain; report the first line that was altered, removed, reordered or torn.

        A line that is not JSON is accepted as a torn write only when the next entry records its
        hash (``torn_line``) and chains over it; any other break is tampering and stops the walk.
        """
        head = self._read_head()
        if not self.path.exists():
            if head and head.get("count"):
                msg = f"The journal is missing, but the head records {head['count']} lines."
                return VerifyResult(False, 0, 1, msg, [(1, msg)], True)
            return VerifyResult(True, 0, message="The journal is empty.")
        with open(self.path, "rb") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH)  # not while an append is half done
            data = fh.read()
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        lines = data.split(b"\n")
        torn_tail = lines[-1] != b""
        if not torn_tail:
            lines.pop()
        problems: list[tuple[int, str]] = []

        def fail(number: int, message: str, *, tampered: bool = True) -> VerifyResult:
            problems.append((number, message))
            text = " ".join(m for _, m in problems)
            return VerifyResult(False, number - 1, problems[0][0], text, problems, tampered or _any_tamper(problems))

        prev = GENESIS
        pending: tuple[int, bytes] | None = None  # a non-JSON line waiting for its acknowledgement
        for number, raw in enumerate(lines, start=1):
            if torn_tail and number == len(lines):
                return fail(number, f"Line {number} is not a complete entry (torn: no newline); lines 1-{number - 1} "
                                    "are intact. A crash during an append leaves this; the next append records it.",
                            tampered=False)
            try:
                entry = json.loads(raw)
            except ValueError:
                entry = None
            if not isinstance(entry, dict):
                if pending is not None:
                    return fail(pending[0], f"Line {pending[0]} is not a JSON entry.")
                pending = (number, raw)
                continue
            if pending is not None:
                ack = entry.get("torn_line") or {}
                if ack.get("sha256") == _hash(pending[1]) and ack.get("line") == pending[0] and entry.get("prev") == prev:
                    problems.append((pending[0], f"Line {pending[0]} is a torn write from a crash, recorded by line {number}."))
                    pending = None
                    prev = _hash(raw)
                    continue
                return fail(pending[0], f"Line {pending[0]} is not a JSON entry: a line was altered.")
            if entry.get("prev") != prev:
                return fail(number, f"Line {number} does not follow line {number - 1}: a line was altered, removed or reordered.")
            prev = _hash(raw)
        if pending is not None:
            return fail(pending[0], f"Line {pending[0]} is not a JSON entry: a line was altered.")
        count = len(lines)
        if head is not None:
            if head.get("count", 0) > count:
                return fail(count + 1, f"Line {count + 1} and later were removed (the head records {head['count']} lines).")
            if head.get("count") == count and head.get("last") != prev:
                return fail(count, f"Line {count} does not match the recorded head.")
        if problems:
            return VerifyResult(False, count, problems[0][0], " ".join(m for _, m in problems), problems, False)
        return VerifyResult(True, count, message=f"{count} entries, chain intact.")

    def _read_head(self) -> dict[str, Any] | None:
        try:
            head = json.loads(self.head_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return head if isinstance(head, dict) else None


def _any_tamper(problems: list[tuple[int, str]]) -> bool:
    return any("torn" not in m for _, m in problems)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_tail(fd: int, size: int) -> bytes:
    """The end of the file from just after the second-to-last newline (enough for two lines)."""
    chunk = b""
    pos = size
    while pos > 0:
        step = min(_TAIL_BLOCK, pos)
        pos -= step
        chunk = os.pread(fd, step, pos) + chunk
        body = chunk[:-1] if chunk.endswith(b"\n") else chunk
        if body.count(b"\n") >= 2:
            # keep from after the newline before the last two complete lines
            cut = body.rfind(b"\n", 0, body.rfind(b"\n"))
            return chunk[cut + 1:]
    return chunk


def _count_complete_lines(fd: int) -> int:
    count, pos, size = 0, 0, os.fstat(fd).st_size
    while pos < size:
        block = os.pread(fd, 1 << 20, pos)
        if not block:
            break
        count += block.count(b"\n")
        pos += len(block)
    return count


def _scrub(value: Any) -> Any:
    """Replace any ``SecretStr`` with its fingerprint: key material never reaches the journal."""
    try:
        from pydantic import SecretStr
    except ImportError:  # pragma: no cover
        return value
    if isinstance(value, SecretStr):
        from aiconsole.domain.secrets import fingerprint

        return {"fingerprint": fingerprint(value)}
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(v) for v in value]
    return value


def _local_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return os.environ.get("USER", "unknown")
