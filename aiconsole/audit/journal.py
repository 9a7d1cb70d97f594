"""The audit journal: an append-only, hash-chained JSONL file of every write we attempt.

Each line is one JSON object whose ``prev`` field is the SHA-256 of the previous line's bytes
(64 zeros for the first line), so altering, removing or reordering a line breaks the chain at
that point. A small ``audit.head`` file records the count and hash of the last line so that a
removed tail is noticed too. Appends take an exclusive ``flock`` and are fsynced: a crash loses
at most the line being written, never an earlier one.

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
from dataclasses import dataclass
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
    bad_line: int | None = None  # 1-based
    message: str = ""


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
            "before": before,
            "after": after,
            "result": result,
            "error": error,
            "request_id": request_id,
        }
        entry.update(extra)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            prev, count = self._tail(fd)
            entry["prev"] = prev
            line = json.dumps(entry, ensure_ascii=False, sort_keys=False, default=str).encode("utf-8")
            os.write(fd, line + b"\n")
            os.fsync(fd)
            self._write_head(count + 1, _hash(line))
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        return entry

    def _tail(self, fd: int) -> tuple[str, int]:
        """Hash of the last complete line and the number of complete lines."""
        size = os.fstat(fd).st_size
        if size == 0:
            return GENESIS, 0
        with open(self.path, "rb") as fh:
            data = fh.read()
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        else:
            # A torn last line from a crash: chain on from the last complete one and
            # terminate the torn one so that verify reports it instead of merging it.
            os.write(fd, b"\n")
        complete = [ln for ln in lines]
        return _hash(complete[-1]) if complete else GENESIS, len(complete)

    def _write_head(self, count: int, digest: str) -> None:
        tmp = self.head_path.with_suffix(".tmp")
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
                out.append(json.loads(raw))
            except ValueError:
                continue
        return out

    def verify(self) -> VerifyResult:
        """Walk the chain; report the first line that was altered, removed, reordered or torn."""
        if not self.path.exists():
            return VerifyResult(True, 0, message="The journal is empty.")
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        torn = lines[-1] != b""
        if not torn:
            lines.pop()
        prev = GENESIS
        for number, raw in enumerate(lines, start=1):
            try:
                entry = json.loads(raw)
            except ValueError:
                return VerifyResult(False, number - 1, number, f"Line {number} is not a complete JSON entry.")
            if not isinstance(entry, dict) or entry.get("prev") != prev:
                return VerifyResult(
                    False,
                    number - 1,
                    number,
                    f"Line {number} does not follow line {number - 1}: a line was altered, removed or reordered.",
                )
            prev = _hash(raw)
        if torn:
            return VerifyResult(False, len(lines) - 1, len(lines), f"Line {len(lines)} is torn (no newline).")
        count = len(lines)
        head = self._read_head()
        if head is not None:
            if head.get("count", 0) > count:
                return VerifyResult(
                    False, count, count + 1, f"Line {count + 1} and later were removed (the head records {head['count']} lines)."
                )
            if head.get("count") == count and head.get("last") != prev:
                return VerifyResult(False, count, count, f"Line {count} does not match the recorded head.")
        return VerifyResult(True, count, message=f"{count} entries, chain intact.")

    def _read_head(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.head_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None


def _local_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return os.environ.get("USER", "unknown")
