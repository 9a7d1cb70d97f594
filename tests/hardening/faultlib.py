"""Pieces of the fault matrix: switching the sandbox's faults, reading the server's truth with the
raw SDK, and reading what the journal says happened."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

NO_FAULTS = dict(latency_ms=0, error_rate=0.0, arm_throttle_rate=0.0, retry_after_seconds=1, drop_rate=0.0,
                 drop_response_rate=0.0)


def set_faults(info: dict[str, Any], **values: Any) -> None:
    """Switch faults at run time (``POST /_sandbox/faults``: never itself faulted)."""
    httpx.post(info["management_url"] + "/_sandbox/faults", json={**NO_FAULTS, **values},
               timeout=10).raise_for_status()


def journal(home: Path) -> list[dict[str, Any]]:
    path = home / "state" / "aiconsole" / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
