"""XDG base directories for config, state and cache.

Resolved on every call (not at import) so tests can point ``HOME``/``XDG_*`` at a temporary
directory, and so importing this module does no I/O.
"""

from __future__ import annotations

import os
from pathlib import Path

APP = "aiconsole"


def _base(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / fallback


def config_dir() -> Path:
    return _base("XDG_CONFIG_HOME", ".config") / APP


def state_dir() -> Path:
    return _base("XDG_STATE_HOME", ".local/state") / APP


def data_dir() -> Path:
    """``$XDG_DATA_HOME/aiconsole``: the encrypted secrets file lives here, not with the config."""
    return _base("XDG_DATA_HOME", ".local/share") / APP


def cache_dir() -> Path:
    return _base("XDG_CACHE_HOME", ".cache") / APP


def config_file() -> Path:
    return config_dir() / "config.toml"


def audit_file() -> Path:
    return state_dir() / "audit.jsonl"


def debug_log_file() -> Path:
    return state_dir() / "debug.log"


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) readable only by the user; returns it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
