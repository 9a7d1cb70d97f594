"""Start a real sandbox for tests: a subprocess on a loopback port, as users run it.

``start_sandbox(**options)`` runs ``python -m aiconsole sandbox --port 0 ...``, reads the one
JSON line it prints (with a timeout) and returns ``(info, stop)``; ``stop()`` sends SIGTERM
and waits. Keyword options become flags: ``subscriptions=250`` → ``--subscriptions 250``,
``traffic=False`` → ``--no-traffic``, ``latency_ms=5`` → ``--latency-ms 5``.

The ``sandbox`` fixture (module scope) starts one with the defaults for a whole test module;
``sandbox_session`` shares one across the session. Also: ``sdk_client(info)`` builds the real
``ApiManagementClient`` against a sandbox with a static token and plain HTTP for loopback only,
``set_faults(info, **values)`` switches the sandbox's faults at run time and
``sandbox_clock(info, ...)`` reads or moves its clock; ``wait_for(check, what)`` polls for a
condition with a deadline.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30.0


def _flags(options: dict[str, Any]) -> list[str]:
    argv: list[str] = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is None:
            continue
        if value is True:
            argv.append(flag)
        elif value is False:
            argv.append("--no-" + name.replace("_", "-"))
        else:
            argv += [flag, str(value)]
    return argv


def start_sandbox(*, timeout: float = START_TIMEOUT, **options: Any) -> tuple[dict[str, Any], Callable[[], int]]:
    """Run a sandbox subprocess; return its info object and a ``stop()`` that returns the exit code."""
    options = {"port": 0, **options}
    argv = [sys.executable, "-m", "aiconsole", "sandbox", *_flags(options)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        text=True,
    )
    line = _read_line(proc, timeout)
    if not line:
        err = _finish(proc)
        raise RuntimeError(f"the sandbox did not start (exit {proc.returncode}): {err[-2000:]}")
    info = json.loads(line)

    def stop() -> int:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        _finish(proc)
        return proc.returncode

    return info, stop


def _read_line(proc: subprocess.Popen, timeout: float) -> str:
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if selector.select(timeout=max(0.0, deadline - time.monotonic())):
                return proc.stdout.readline().strip()
            if proc.poll() is not None:
                return ""
    finally:
        selector.close()
    proc.kill()
    return ""


def _finish(proc: subprocess.Popen) -> str:
    try:
        _out, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        _out, err = proc.communicate()
    return err or ""


@pytest.fixture(scope="module")
def sandbox():
    """A default sandbox (seed 1, 200 subscriptions, no traffic) for one test module."""
    info, stop = start_sandbox(seed=1, subscriptions=200)
    yield info
    stop()


@pytest.fixture(scope="session")
def sandbox_session():
    """One default sandbox shared by the whole session (read-only use, please)."""
    info, stop = start_sandbox(seed=1, subscriptions=200)
    yield info
    stop()


NO_FAULTS = dict(latency_ms=0, error_rate=0.0, arm_throttle_rate=0.0, retry_after_seconds=1, drop_rate=0.0,
                 drop_response_rate=0.0)


def set_faults(info: dict[str, Any], **values: Any) -> None:
    """Switch faults at run time (``POST /_sandbox/faults``: never itself faulted). Every knob not
    named is reset to ``NO_FAULTS``, so ``set_faults(info)`` ends every fault."""
    import httpx

    httpx.post(info["management_url"] + "/_sandbox/faults", json={**NO_FAULTS, **values},
               timeout=10).raise_for_status()


def wait_for(check: Callable[[], Any], what: str, *, timeout: float = 20.0, interval: float = 0.05,
             details: Callable[[], Any] | None = None) -> Any:
    """Call ``check()`` until it returns something truthy and return that: a bounded poll for a
    condition another process (a sandbox, its traffic) makes true. On timeout the test fails
    naming ``what``, with ``details()`` appended when given."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}" + (f": {details()}" if details is not None else ""))


def sandbox_clock(info: dict[str, Any], **body: Any) -> datetime:
    """The sandbox's clock (``POST /_sandbox/clock``), after moving it if asked: ``set=ISO`` or
    ``advance_seconds=N``. Returns the sandbox's now as an aware datetime."""
    import httpx

    r = httpx.post(info["management_url"] + "/_sandbox/clock", json=body, timeout=10)
    r.raise_for_status()
    return datetime.fromisoformat(r.json()["now"].replace("Z", "+00:00"))


def sdk_client(info: dict[str, Any], **kwargs: Any):
    """The real ``ApiManagementClient`` against a sandbox: static token, HTTP for loopback only."""
    from azure.core.credentials import AccessToken
    from azure.core.pipeline.policies import SansIOHTTPPolicy
    from azure.mgmt.apimanagement import ApiManagementClient

    from aiconsole.backends.urls import is_loopback_url

    class StaticToken:
        def get_token(self, *scopes: str, **_: Any) -> AccessToken:
            return AccessToken("sandbox-token", int(time.time()) + 3600)

    class LoopbackHttp(SansIOHTTPPolicy):
        def on_request(self, request) -> None:
            if is_loopback_url(request.http_request.url):
                request.context.options["enforce_https"] = False

    kwargs.setdefault("retry_total", 0)
    return ApiManagementClient(
        StaticToken(), info["subscription_id"], base_url=info["management_url"],
        per_call_policies=[LoopbackHttp()], **kwargs,
    )
