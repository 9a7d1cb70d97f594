"""Pieces of the fault matrix: switching the sandbox's faults, reading the server's truth with the
raw SDK, and reading what the journal says happened."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.sandbox_fixture import NO_FAULTS, set_faults

__all__ = ["NO_FAULTS", "journal", "set_faults"]


def journal(home: Path) -> list[dict[str, Any]]:
    path = home / "state" / "aiconsole" / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
