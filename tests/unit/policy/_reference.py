"""The reference policy files, loaded once (shared by the reference tests)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import REFERENCE

POLICY_DIR = REFERENCE / "policies"
# Names only (parametrize ids); the tests call reference_dir() so that an absent folder skips.
POLICY_NAMES = sorted(p.name for p in POLICY_DIR.iterdir()) if POLICY_DIR.is_dir() else ["<absent>"]



def _well_formed(name: str) -> bool:
    import xml.etree.ElementTree as ET

    try:
        ET.fromstring((POLICY_DIR / name).read_bytes())
    except ET.ParseError:
        return False
    return True


# The files a strict XML parser accepts (the xml-form checks run on these).
WELL_FORMED_NAMES = [n for n in POLICY_NAMES if POLICY_DIR.is_dir() and _well_formed(n)] or ["<absent>"]


def read_policy(name: str) -> str:
    """The file's text exactly: newline=\"\" keeps CRLF, utf-8 as the files are stored."""
    from tests.conftest import reference_dir

    path: Path = reference_dir() / "policies" / name
    with open(path, encoding="utf-8", newline="") as fh:
        return fh.read()
