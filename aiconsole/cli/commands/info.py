"""``aiconsole info``: paths, versions and environment, without importing anything heavy."""

from __future__ import annotations

import argparse
import os
import platform
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="show paths, profiles, keyring backend and versions")
    p.set_defaults(handler=run)


def _dist_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def collect() -> dict:
    from aiconsole import __version__
    from aiconsole.config import paths

    data: dict = {
        "version": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "paths": {
            "config_file": str(paths.config_file()),
            "config_dir": str(paths.config_dir()),
            "state_dir": str(paths.state_dir()),
            "cache_dir": str(paths.cache_dir()),
            "audit_journal": str(paths.audit_file()),
            "debug_log": str(paths.debug_log_file()),
            "user_themes": str(paths.config_dir() / "themes"),
        },
        "environment": {
            k: os.environ.get(k)
            for k in ("AICONSOLE_SANDBOX", "AICONSOLE_PROFILE", "NO_COLOR", "TEXTUAL_ANIMATIONS", "TERM")
            if os.environ.get(k) is not None
        },
        "packages": {
            name: _dist_version(name)
            for name in (
                "textual",
                "httpx",
                "pydantic",
                "azure-identity",
                "azure-mgmt-apimanagement",
                "azure-monitor-querymetrics",
                "keyring",
            )
        },
    }
    try:
        from aiconsole.config.info import extra_info  # profiles and keyring, once available
    except ImportError:
        pass
    else:
        data.update(extra_info())
    return data


def run(ctx) -> int:
    data = collect()
    if ctx.json:
        ctx.emit(data)
        return 0
    flat: dict = {"version": data["version"], "python": data["python"]}
    for k, v in data["paths"].items():
        flat[k] = v
    for k, v in data.items():
        if k not in ("version", "python", "paths", "packages", "platform"):
            flat[k] = v
    for k, v in data["packages"].items():
        flat[f"package {k}"] = v or "not installed"
    ctx.emit(flat)
    sys.stdout.flush()
    return 0
