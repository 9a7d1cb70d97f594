"""Helpers for key material: masking for the screen, fingerprints for logs and the journal.

Keys travel as ``pydantic.SecretStr`` so that ``repr``/``str`` never print them; these helpers
are the only sanctioned ways to turn one into something printable.
"""

from __future__ import annotations

import hashlib

from pydantic import SecretStr

MASK = "••••••••"


def _raw(value: SecretStr | str | None) -> str:
    if value is None:
        return ""
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def mask(value: SecretStr | str | None) -> str:
    """``••••••••3f9a``: enough to tell two keys apart, never enough to use one."""
    raw = _raw(value)
    if not raw:
        return ""
    return MASK + raw[-4:]


def fingerprint(value: SecretStr | str | None) -> str:
    """First 8 hex characters of the key's SHA-256: safe to log, stable across runs."""
    raw = _raw(value)
    if not raw:
        return ""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:8]
