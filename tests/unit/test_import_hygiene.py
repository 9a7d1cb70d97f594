"""Fast start and layering, proved in fresh interpreters by reading ``sys.modules``.

DESIGN.md §2/§3: ``--help``, ``--version`` and ``info`` import neither Textual nor an Azure SDK;
the core packages never import Textual; the TUI never imports an Azure SDK.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import pytest

import aiconsole

HEAVY = ("textual", "azure", "rich")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip().splitlines()[-1]
    return set(json.loads(out))


def _heavy(mods: set[str], roots=HEAVY) -> list[str]:
    return sorted(m for m in mods if m.split(".")[0] in roots)


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["info"], ["info", "-o", "json"]])
def test_fast_commands_import_nothing_heavy(argv):
    code = (
        "import sys, io, contextlib\n"
        "from aiconsole.cli.main import main\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        "    try:\n"
        f"        main({argv!r})\n"
        "    except SystemExit:\n"
        "        pass\n"
    )
    assert _heavy(_modules_after(code)) == []


CORE = ["domain", "policy", "config", "backends", "telemetry", "services", "audit"]


def _submodules(package: str) -> list[str]:
    pkg = __import__(f"aiconsole.{package}", fromlist=["x"])
    return [f"aiconsole.{package}"] + [
        m.name for m in pkgutil.walk_packages(pkg.__path__, prefix=f"aiconsole.{package}.")
    ]


@pytest.mark.parametrize("package", CORE)
def test_core_never_imports_textual(package):
    modules = _submodules(package)
    mods = _modules_after("\n".join(f"import {m}" for m in modules))
    assert _heavy(mods, roots=("textual",)) == [], f"aiconsole.{package} pulls in Textual"


def test_tui_never_imports_an_azure_sdk():
    modules = _submodules("tui")
    mods = _modules_after("\n".join(f"import {m}" for m in modules))
    assert _heavy(mods, roots=("azure",)) == [], "the TUI imports an Azure SDK"


def test_version_matches_package():
    out = subprocess.run(
        [sys.executable, "-m", "aiconsole", "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == f"aiconsole {aiconsole.__version__}"
