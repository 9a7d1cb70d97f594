"""Shared fixtures: isolated XDG dirs, the reference folder, and a running sandbox."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT.parent / "shared" / "reference"
SNAPSHOTS = ROOT / "snapshots"


def reference_dir() -> Path:
    """``../shared/reference``; skips the calling test (fails under CI) where it is absent."""
    if not REFERENCE.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{REFERENCE} is missing: CI must run with ../shared beside the project")
        pytest.skip("../shared/reference is absent (a user's clone): Microsoft's spec files are not shipped")
    return REFERENCE


@pytest.fixture
def reference() -> Path:
    return reference_dir()


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Every test gets its own HOME and XDG dirs: nothing touches the user's real config."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.delenv("AICONSOLE_SANDBOX", raising=False)
    monkeypatch.delenv("AICONSOLE_PROFILE", raising=False)
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    yield home


@pytest.fixture
def _snapshots_at_project_root(monkeypatch):
    """SVG baselines live in ``snapshots/<test module>/`` at the project root (DESIGN.md §6),
    not in ``__snapshots__`` beside each test file."""
    import pytest_textual_snapshot as plugin

    class ProjectSVGExtension(plugin.SVGImageExtension):
        @classmethod
        def dirname(cls, *, test_location) -> str:
            return str(SNAPSHOTS / Path(test_location.filepath).stem)

    monkeypatch.setattr(plugin, "SVGImageExtension", ProjectSVGExtension)


@pytest.fixture
def snap_compare(_snapshots_at_project_root, snap_compare):
    """pytest-textual-snapshot's ``snap_compare``, storing its baselines under ``snapshots/``."""
    return snap_compare
