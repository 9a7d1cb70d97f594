"""``aiconsole demo``: a local sandbox with live traffic, and the console opened on it.

For a newcomer with no Azure (journey J6). The sandbox runs as a child process exactly as a
user would run ``aiconsole sandbox``; we read the one JSON line it prints, open the console on
its ``management_url`` and always stop it afterwards — on quit, on an error and on SIGTERM/SIGHUP.
Only argparse is imported at module level: ``aiconsole --help`` must stay fast.
"""

from __future__ import annotations

import argparse

START_TIMEOUT = 30.0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="start a local sandbox with simulated traffic and open the console on it")
    p.add_argument("--seed", type=int, default=None, help="seed of the simulated world (default: the sandbox's)")
    p.add_argument("--subscriptions", type=int, metavar="N", default=None, help="number of subscriptions to seed")
    p.add_argument("--traffic", action=argparse.BooleanOptionalAction, default=True,
                   help="simulated consumers calling the gateway (default: on)")
    p.add_argument("--read-only", action="store_true", help="open the console as a read-only profile would")
    p.add_argument("--production", action="store_true", help="open the console as a production profile would")
    p.set_defaults(handler=run)


def sandbox_argv(args: argparse.Namespace) -> list[str]:
    import sys

    argv = [sys.executable, "-m", "aiconsole", "sandbox", "--port", "0"]
    if args.seed is not None:
        argv += ["--seed", str(args.seed)]
    if args.subscriptions is not None:
        argv += ["--subscriptions", str(args.subscriptions)]
    argv.append("--traffic" if args.traffic else "--no-traffic")
    return argv


class SandboxProcess:
    """The child sandbox: started, its JSON line read (with a timeout), and stopped for sure."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.proc = None
        self._out = None
        self._err = None

    def start(self, timeout: float = START_TIMEOUT) -> dict:
        import json
        import subprocess
        import tempfile
        import time

        from aiconsole.domain.errors import ConnectionFailedError

        # Files, not pipes: the child may keep writing while the console owns the terminal, and a
        # full pipe would stall it; nothing it prints may reach the console's screen.
        self._out = tempfile.TemporaryFile(mode="w+b")
        self._err = tempfile.TemporaryFile(mode="w+b")
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._err, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._out.seek(0)
            data = self._out.read()
            if b"\n" in data:
                line = data.split(b"\n", 1)[0].decode("utf-8", "replace")
                try:
                    info = json.loads(line)
                except ValueError:
                    self.stop()
                    raise ConnectionFailedError(
                        "The sandbox printed something that is not its JSON start line.",
                        "Run `aiconsole sandbox --port 0` by hand to see what it says.",
                    ) from None
                if not isinstance(info, dict) or "management_url" not in info:
                    self.stop()
                    raise ConnectionFailedError("The sandbox did not say its management_url.")
                return info
            if self.proc.poll() is not None:
                tail = self.stderr_tail()
                raise ConnectionFailedError(
                    f"The sandbox exited with code {self.proc.returncode} before it was ready"
                    + (f": {tail}" if tail else "."),
                    "Run `aiconsole sandbox --port 0` by hand to see the full message.",
                )
            time.sleep(0.05)
        self.stop()
        raise ConnectionFailedError(
            f"The sandbox did not start within {timeout:.0f} seconds.",
            "Run `aiconsole sandbox --port 0` by hand to see why.",
        )

    def stderr_tail(self, limit: int = 300) -> str:
        from aiconsole.domain.text import sanitize

        if self._err is None:
            return ""
        self._err.seek(0)
        lines = [ln for ln in self._err.read().decode("utf-8", "replace").splitlines() if ln.strip()]
        return sanitize(lines[-1], max_length=limit) if lines else ""

    def stop(self) -> None:
        import signal
        import subprocess

        proc = self.proc
        if proc is not None and proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            except ProcessLookupError:
                pass
        for f in (self._out, self._err):
            if f is not None:
                f.close()
        self._out = self._err = None


def run(ctx) -> int:
    import signal

    from aiconsole.backends.connect import sandbox_connection
    from aiconsole.cli.tui_launch import open_console

    args = ctx.args
    sandbox = SandboxProcess(sandbox_argv(args))

    def _terminate(signum, _frame):
        raise SystemExit(128 + signum)

    previous = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            previous[sig] = signal.signal(sig, _terminate)
        except (ValueError, OSError):  # not the main thread, or no such signal here
            pass
    try:
        info = sandbox.start()
        connection = sandbox_connection(info["management_url"], read_only=args.read_only,
                                        production=args.production)
        return open_console(args, connection=connection, sandbox_process=sandbox.proc)
    finally:
        sandbox.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
