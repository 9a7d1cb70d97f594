"""Shared pieces of the hardening suite: an isolated home for every CLI run, the real CLI in a
subprocess, and the one definition of "unsafe for a terminal" that every check uses."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# ESC, every other C0 control except \n, DEL, the C1 block, bidi overrides/isolates/marks.
UNSAFE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def unsafe_chars(text: str) -> list[str]:
    """The characters of ``text`` that must never reach a terminal raw (for assertion messages)."""
    return sorted({repr(m.group()) for m in UNSAFE.finditer(text)})


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment for a CLI run whose config, state, cache and keyring live under ``home`` only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AICONSOLE_", "XDG_", "AZURE_"))}
    env.update(
        HOME=str(home), XDG_CONFIG_HOME=str(home / "config"), XDG_STATE_HOME=str(home / "state"),
        XDG_CACHE_HOME=str(home / "cache"), XDG_DATA_HOME=str(home / "data"),
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring", NO_COLOR="1", COLUMNS="80", LINES="24",
    )
    env.update(extra)
    return env


def run_cli(home: Path, *args: str, sandbox: dict[str, Any] | None = None, timeout: float = 60,
            env: dict[str, str] | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    """``python -m aiconsole [--sandbox URL] ARGS`` as a script runs it (no TTY), in an isolated home."""
    argv = [sys.executable, "-m", "aiconsole"]
    if sandbox is not None:
        argv += ["--sandbox", sandbox["management_url"]]
    full_env = {**isolated_env(home), **(env or {})}
    return subprocess.run(argv + list(args), capture_output=True, text=True, env=full_env, timeout=timeout,
                          input=stdin if stdin is not None else "")


@pytest.fixture
def anyio_backend():
    return "asyncio"


def run_cli_inproc(home: Path, *args: str, sandbox: dict[str, Any] | None = None,
                   env: dict[str, str] | None = None, stdin: str = "") -> subprocess.CompletedProcess:
    """The same CLI entry point in this process (no interpreter start-up: ten times cheaper).

    Output is captured from ``sys.stdout``/``sys.stderr`` and the environment is swapped for the
    isolated one for the duration of the call, so paths resolve under ``home`` exactly as in a
    subprocess. Use the subprocess ``run_cli`` where a crash must not take the test run with it.
    """
    import contextlib
    import io

    from aiconsole.cli.main import main

    argv = (["--sandbox", sandbox["management_url"]] if sandbox is not None else []) + list(args)
    out, err = io.StringIO(), io.StringIO()
    saved = dict(os.environ)
    saved_stdin = sys.stdin
    import logging

    loggers = [logging.getLogger(name) for name in ("aiconsole", "azure", "httpx")]
    saved_logging = [(lg, list(lg.handlers), lg.level) for lg in loggers]
    os.environ.clear()
    os.environ.update({**isolated_env(home), **(env or {})})
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        sys.stdin = saved_stdin
        for logger, handlers, level in saved_logging:  # --debug adds a file handler: close and drop it
            for handler in logger.handlers:
                if handler not in handlers:
                    handler.close()
            logger.handlers[:] = handlers
            logger.setLevel(level)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def hostile():
    """One sandbox seeded with hostile names, shared by the terminal-safety modules (read-only use)."""
    from tests.sandbox_fixture import start_sandbox

    info, stop = start_sandbox(seed=5, subscriptions=40, hostile_names=True, traffic=False)
    yield info
    stop()


@pytest.fixture
def short_backoff(monkeypatch):
    """Exponential back-off without Retry-After (0.8 s, 1.6 s, ...) only costs test time: cut it.
    A 429's Retry-After is still honoured to the second (the fault matrix checks that)."""
    from azure.core.pipeline.policies import RetryPolicy

    monkeypatch.setattr(RetryPolicy, "get_backoff_time", lambda self, settings: 0.01)
