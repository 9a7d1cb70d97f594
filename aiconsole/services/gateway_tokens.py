"""The local ledger of gateway access tokens the console has minted (never the tokens).

ARM cannot tell when a deployed self-hosted gateway token expires, and expired tokens are a
classic outage. So the console remembers every token it mints: gateway, key slot, when it was
minted, when it expires and a fingerprint (first 8 hex of SHA-256). It also remembers every key
regeneration it performs, because regenerating a slot kills every token minted from it before.

The file is append-only JSONL under the state directory (``gateway-tokens.jsonl``, mode 0600):
appends take an exclusive ``flock`` and are fsynced, so two consoles minting at once never
interleave lines, and a torn last line from a crash is skipped rather than fatal. Each line
carries the instance it belongs to, so one ledger serves several profiles.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from aiconsole.config import paths

TokenState = Literal["valid", "expiring", "expired", "invalidated", "unknown"]
#: tokens expiring within this window are highlighted everywhere
EXPIRY_WARNING_DAYS = 7


def ledger_file() -> Path:
    return paths.state_dir() / "gateway-tokens.jsonl"


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse(value: str) -> datetime:
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class TokenRecord:
    """One token the console minted (or adopted after verifying it): metadata only."""

    instance: str
    gateway: str
    slot: str
    minted: datetime
    expires: datetime
    fingerprint: str
    source: str = "minted"  # "minted" | "adopted"
    #: when the key slot that signed it was regenerated after minting, if the console did it
    invalidated: datetime | None = None

    def state(self, now: datetime, *, warn_days: int = EXPIRY_WARNING_DAYS) -> TokenState:
        """``invalidated`` beats ``expired`` beats ``expiring`` (within ``warn_days``)."""
        if self.invalidated is not None and self.invalidated <= now:
            return "invalidated"
        if self.expires <= now:
            return "expired"
        if (self.expires - now).total_seconds() <= warn_days * 86400:
            return "expiring"
        return "valid"

    def as_json(self) -> dict[str, Any]:
        """The ``token`` object of ``gateways list``: a contract for scripts."""
        return {
            "slot": self.slot,
            "minted": _iso(self.minted),
            "expires": _iso(self.expires),
            "fingerprint": self.fingerprint,
            "source": self.source,
        }


@dataclass
class TokenLedger:
    """Append and read the ledger; readers fold regeneration events into token records."""

    path: Path = field(default_factory=ledger_file)

    # -- writing ---------------------------------------------------------------------------
    def _append(self, entry: dict[str, Any]) -> None:
        paths.ensure_private_dir(self.path.parent)
        line = json.dumps(entry, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n"
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            if size:
                # Terminate a torn last line so that ours stays parseable.
                os.lseek(fd, size - 1, os.SEEK_SET)
                if os.read(fd, 1) != b"\n":
                    os.write(fd, b"\n")
            os.write(fd, line)
            os.fsync(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def record_token(self, *, instance: str, gateway: str, slot: str, minted: datetime, expires: datetime,
                     fingerprint: str, source: str = "minted") -> TokenRecord:
        """Remember a token by its fingerprint. The caller never passes the token itself."""
        if len(fingerprint) != 8:
            raise ValueError("a ledger entry takes an 8-character fingerprint, not a token")
        self._append({
            "event": "token", "instance": instance, "gateway": gateway, "slot": slot,
            "minted": _iso(minted), "expires": _iso(expires), "fingerprint": fingerprint, "source": source,
        })
        return TokenRecord(instance, gateway, slot, minted, expires, fingerprint, source)

    def record_regeneration(self, *, instance: str, gateway: str, slot: str, when: datetime) -> None:
        """Remember that ``slot`` was regenerated: every earlier token from it is dead."""
        self._append({"event": "key-regenerated", "instance": instance, "gateway": gateway, "slot": slot,
                      "time": _iso(when)})

    # -- reading ---------------------------------------------------------------------------
    def _events(self) -> list[dict[str, Any]]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        events = []
        for raw in data.split(b"\n"):
            if not raw.strip():
                continue
            try:
                entry = json.loads(raw)
            except ValueError:
                continue  # a torn line from a crash
            if isinstance(entry, dict):
                events.append(entry)
        return events

    def tokens(self, instance: str, gateway: str | None = None) -> list[TokenRecord]:
        """Known tokens of ``instance`` (optionally one gateway), oldest first, with invalidation folded in."""
        records: list[TokenRecord] = []
        for e in self._events():
            if e.get("instance") != instance or (gateway is not None and e.get("gateway") != gateway):
                continue
            try:
                if e.get("event") == "token":
                    records.append(TokenRecord(
                        instance, e["gateway"], e["slot"], _parse(e["minted"]), _parse(e["expires"]),
                        e["fingerprint"], e.get("source", "minted")))
                elif e.get("event") == "key-regenerated":
                    when = _parse(e["time"])
                    records = [
                        _invalidate(r, when) if (r.gateway == e["gateway"] and r.slot == e["slot"]
                                                 and r.invalidated is None and r.minted <= when) else r
                        for r in records
                    ]
            except (KeyError, ValueError, TypeError):
                continue  # a line from a newer version or a damaged one: ignore it
        return records

    def current(self, instance: str, gateway: str, now: datetime) -> TokenRecord | None:
        """The token to show for a gateway: the newest live one, else the newest of any state."""
        records = self.tokens(instance, gateway)
        live = [r for r in records if r.state(now) in ("valid", "expiring")]
        if live:
            return max(live, key=lambda r: r.minted)
        return max(records, key=lambda r: r.minted) if records else None

    def live_from_slot(self, instance: str, gateway: str, slot: str, now: datetime) -> list[TokenRecord]:
        """Tokens a regeneration of ``slot`` would kill (the confirmation lists them)."""
        return [r for r in self.tokens(instance, gateway)
                if r.slot == slot and r.state(now) in ("valid", "expiring")]


def _invalidate(record: TokenRecord, when: datetime) -> TokenRecord:
    return TokenRecord(record.instance, record.gateway, record.slot, record.minted, record.expires,
                       record.fingerprint, record.source, invalidated=when)


#: how every surface marks a token state, so colour is never the only signal (NO_COLOR, mono)
STATE_GLYPHS: dict[str, str] = {
    "valid": "✓",
    "expiring": "⚠",
    "expired": "✗",
    "invalidated": "✗",
    "unknown": "?",
}
