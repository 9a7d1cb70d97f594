"""``aiconsole demo``: the sandbox child starts, its JSON line is read, and it is always stopped."""

from __future__ import annotations

import argparse
import sys

import pytest

from aiconsole.cli.commands import demo
from aiconsole.domain.errors import ConnectionFailedError


def _args(**kw) -> argparse.Namespace:
    base = dict(seed=3, subscriptions=20, traffic=False, read_only=False, production=False, theme=None,
                sandbox=None, profile=None)
    base.update(kw)
    return argparse.Namespace(**base)


def test_sandbox_argv_passes_options_through():
    argv = demo.sandbox_argv(_args(seed=9, subscriptions=1234, traffic=True))
    assert argv[1:] == ["-m", "aiconsole", "sandbox", "--port", "0", "--seed", "9", "--subscriptions", "1234",
                        "--traffic"]
    assert demo.sandbox_argv(_args(seed=None, subscriptions=None))[-1] == "--no-traffic"


def test_demo_opens_the_console_on_the_sandbox_and_stops_it(monkeypatch):
    seen = {}

    def fake_open_console(args, *, connection=None, sandbox_process=None):
        seen["connection"] = connection
        seen["proc"] = sandbox_process
        assert sandbox_process.poll() is None, "the sandbox runs while the console is open"
        return 0

    monkeypatch.setattr("aiconsole.cli.tui_launch.open_console", fake_open_console)
    ctx = argparse.Namespace(args=_args())
    assert demo.run(ctx) == 0
    assert seen["connection"].kind == "sandbox"
    assert seen["connection"].management_url.startswith("http://127.0.0.1:")
    assert seen["proc"].poll() is not None, "the sandbox is stopped after the console closes"


def test_demo_stops_the_sandbox_when_the_console_fails(monkeypatch):
    seen = {}

    def boom(args, *, connection=None, sandbox_process=None):
        seen["proc"] = sandbox_process
        raise RuntimeError("console crashed")

    monkeypatch.setattr("aiconsole.cli.tui_launch.open_console", boom)
    with pytest.raises(RuntimeError):
        demo.run(argparse.Namespace(args=_args()))
    assert seen["proc"].poll() is not None


def test_a_sandbox_that_dies_is_one_clear_sentence():
    proc = demo.SandboxProcess([sys.executable, "-c", "import sys; sys.stderr.write('port in use\\n'); sys.exit(4)"])
    with pytest.raises(ConnectionFailedError) as err:
        proc.start(timeout=10)
    assert "exited with code 4" in err.value.message and "port in use" in err.value.message
    proc.stop()


def test_a_sandbox_that_prints_garbage_is_refused_and_stopped():
    proc = demo.SandboxProcess([sys.executable, "-c", "import time; print('hello', flush=True); time.sleep(30)"])
    with pytest.raises(ConnectionFailedError) as err:
        proc.start(timeout=10)
    assert "not its JSON start line" in err.value.message
    assert proc.proc.poll() is not None


def test_a_sandbox_that_never_answers_times_out_and_is_stopped():
    proc = demo.SandboxProcess([sys.executable, "-c", "import time; time.sleep(30)"])
    with pytest.raises(ConnectionFailedError) as err:
        proc.start(timeout=0.5)
    assert "did not start within" in err.value.message
    assert proc.proc.poll() is not None
