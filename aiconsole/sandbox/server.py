"""Run the sandbox: one state, several loopback apps (one uvicorn server per port), one loop.

``Sandbox`` owns the ``SandboxState`` and a list of apps. The management app is always there;
further apps (gateway data plane, metrics, ...) are added by *extensions*: modules named
``aiconsole.sandbox.<package>.extension`` or ``aiconsole.sandbox.ext_<name>`` that define
``install(sandbox, options)``. An extension calls ``sandbox.add_app(name, factory, ...)``,
``sandbox.add_info(hook)``, ``sandbox.on_start(hook)`` / ``sandbox.on_stop(hook)``; the app's
URL is announced as ``<name>_url`` unless its ``info`` callback says otherwise.

Use it from the CLI (``serve_forever`` until SIGINT/SIGTERM) or in-process from tests
(``start_in_thread`` returns the info dict; ``stop`` shuts everything down).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import logging
import pkgutil
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiconsole.backends.urls import is_loopback_host
from aiconsole.sandbox.state import SandboxState

log = logging.getLogger("aiconsole.sandbox")

AppFactory = Callable[[SandboxState], Any]  # state -> ASGI app
InfoFn = Callable[[str], dict[str, Any]]  # url -> keys for the info object
Hook = Callable[["Sandbox"], Any]  # may return an awaitable


class SandboxError(Exception):
    """The sandbox cannot start (bad host, port in use...): one plain sentence."""


@dataclass
class AppSpec:
    name: str
    factory: AppFactory
    port: int = 0
    info: InfoFn | None = None
    url: str | None = None


def _quiet_server_class():
    """A uvicorn Server that leaves signals to us (it would re-raise them after shutdown)."""
    import uvicorn

    class QuietServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):  # uvicorn >= 0.29
            yield

        def install_signal_handlers(self) -> None:  # older uvicorn
            return None

    return QuietServer


def discover_extensions() -> list[Any]:
    """Import every sandbox extension module that exists (a missing one is simply absent)."""
    import aiconsole.sandbox as pkg

    found: list[Any] = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.ispkg:
            name = f"aiconsole.sandbox.{info.name}.extension"
        elif info.name.startswith("ext_"):
            name = f"aiconsole.sandbox.{info.name}"
        else:
            continue
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        if hasattr(module, "install"):
            found.append(module)
    return found


class Sandbox:
    """The running sandbox: state, apps and their servers, and the info object."""

    def __init__(
        self,
        state: SandboxState,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        options: dict[str, Any] | None = None,
    ) -> None:
        if not is_loopback_host(host):
            raise SandboxError(f"Refusing to serve on {host}: the sandbox listens on loopback addresses only.")
        self.state = state
        self.host = host
        self.options = dict(options or {})
        self.apps: list[AppSpec] = []
        self._info_hooks: list[Callable[[], dict[str, Any]]] = []
        self._start_hooks: list[Hook] = []
        self._stop_hooks: list[Hook] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._info: dict[str, Any] | None = None
        from aiconsole.sandbox.arm import create_management_app
        from aiconsole.sandbox.faults import with_connection_drops

        self.add_app(
            "management", lambda st: with_connection_drops(create_management_app(st, self.info), st.faults), port=port,
        )

    # ------------------------------------------------------------------ extension API

    def add_app(self, name: str, factory: AppFactory, *, port: int = 0, info: InfoFn | None = None) -> None:
        """Serve ``factory(state)`` on its own loopback port; announce it via ``info(url)``."""
        self.apps.append(AppSpec(name=name, factory=factory, port=port, info=info))

    def add_info(self, hook: Callable[[], dict[str, Any]]) -> None:
        """Merge ``hook()`` into the info object (called once the apps are listening)."""
        self._info_hooks.append(hook)

    def on_start(self, hook: Hook) -> None:
        """Run ``hook(sandbox)`` on the loop once every app listens (e.g. start traffic)."""
        self._start_hooks.append(hook)

    def on_stop(self, hook: Hook) -> None:
        """Run ``hook(sandbox)`` on the loop before the servers shut down."""
        self._stop_hooks.append(hook)

    def url(self, name: str) -> str | None:
        for spec in self.apps:
            if spec.name == name:
                return spec.url
        return None

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        return self._loop

    def install_extensions(self) -> None:
        for module in discover_extensions():
            module.install(self, self.options)

    # ------------------------------------------------------------------ info

    def base_info(self) -> dict[str, Any]:
        state = self.state
        svc = state.service
        info: dict[str, Any] = {
            "management_url": self.url("management"),
            "subscription_id": svc.subscription_id,
            "resource_group": svc.resource_group,
            "service_name": svc.name,
            "resource_id": svc.resource_id,
            "app_insights_resource_id": svc.app_insights_resource_id,
            "log_analytics_workspace_id": svc.log_analytics_workspace_id,
            "api_version": "2024-05-01",
            "seed": state.seed,
            "subscriptions": len(state.subscriptions),
            "gateways": list(state.gateways),
            "noisy_subscriptions": list(state.noisy_subscription_ids),
            "quota_subscriptions": list(state.quota_subscription_ids),
        }
        if state.noisy_subscription_ids:
            info["noisy_subscription"] = state.noisy_subscription_ids[0]
        return info

    def info(self) -> dict[str, Any]:
        """The start-up object (also ``GET /_sandbox/info``); computed once all apps listen."""
        if self._info is not None:
            return dict(self._info)
        info = self.base_info()
        for spec in self.apps:
            if spec.name == "management" or spec.url is None:
                continue
            info.update(spec.info(spec.url) if spec.info else {f"{spec.name}_url": spec.url})
        for hook in self._info_hooks:
            info.update(hook())
        if self._ready.is_set():
            self._info = info
        return dict(info)

    # ------------------------------------------------------------------ running

    def _bind(self, port: int) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted connections only when
        # the listening socket says TCP, and without it every response waits ~40 ms (Nagle).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, port))
        except OSError as exc:
            sock.close()
            raise SandboxError(f"Cannot listen on {self.host}:{port} ({exc.strerror or exc}).") from None
        sock.listen(128)
        sock.setblocking(False)
        return sock

    async def run(self, ready: Callable[[dict[str, Any]], None] | None = None) -> None:
        """Serve every app until ``stop()``; call ``ready(info)`` once all of them listen."""
        import uvicorn

        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        server_cls = _quiet_server_class()
        servers: list[tuple[Any, socket.socket]] = []
        try:
            for spec in self.apps:
                sock = self._bind(spec.port)
                host, port = sock.getsockname()[:2]
                shown = f"[{host}]" if ":" in host else host
                spec.url = f"http://{shown}:{port}"
                config = uvicorn.Config(
                    spec.factory(self.state),
                    log_level="warning",
                    access_log=False,
                    lifespan="off",
                    timeout_graceful_shutdown=2,
                )
                servers.append((server_cls(config), sock))
        except BaseException:
            for _server, sock in servers:
                sock.close()
            raise
        tasks = [asyncio.create_task(server.serve(sockets=[sock])) for server, sock in servers]
        try:
            while not all(server.started for server, _ in servers):
                if any(t.done() for t in tasks):
                    failed = next(t for t in tasks if t.done())
                    exc = failed.exception()
                    raise SandboxError(f"A sandbox server failed to start ({exc or 'exited'}).")
                await asyncio.sleep(0.01)
            for hook in self._start_hooks:
                await _maybe_await(hook(self))
            self._ready.set()
            info = self.info()
            if ready is not None:
                ready(info)
            await self._stop_event.wait()
        finally:
            for hook in self._stop_hooks:
                try:
                    await _maybe_await(hook(self))
                except Exception:  # noqa: BLE001 - shutting down: log and go on
                    log.exception("sandbox stop hook failed")
            for server, _ in servers:
                server.should_exit = True
            await asyncio.gather(*tasks, return_exceptions=True)
            for _server, sock in servers:
                with contextlib.suppress(OSError):
                    sock.close()

    def request_stop(self) -> None:
        """Ask a running sandbox to shut down (safe from any thread or a signal handler)."""
        loop, event = self._loop, self._stop_event
        if loop is None or event is None:
            return
        if loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        else:
            loop.call_soon_threadsafe(event.set)

    def serve_forever(self, ready: Callable[[dict[str, Any]], None] | None = None) -> None:
        """Run in the current (main) thread until SIGINT or SIGTERM."""
        import signal

        async def main() -> None:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, self.request_stop)
            await self.run(ready)

        asyncio.run(main())

    def start_in_thread(self, timeout: float = 15.0) -> dict[str, Any]:
        """Start in a background thread and return the info object once ready (for tests)."""

        def target() -> None:
            try:
                asyncio.run(self.run())
            except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
                self._failure = exc
                self._ready.set()

        self._thread = threading.Thread(target=target, name="aiconsole-sandbox", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise SandboxError(f"The sandbox did not start within {timeout:g} s.")
        if self._failure is not None:
            raise SandboxError(str(self._failure)) from self._failure
        return self.info()

    def stop(self, timeout: float = 10.0) -> None:
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


async def _maybe_await(value: Any) -> None:
    if inspect.isawaitable(value):
        await value  # type: ignore[misc]


def build_sandbox(
    *,
    seed: int = 1,
    subscriptions: int = 200,
    host: str = "127.0.0.1",
    port: int = 0,
    options: dict[str, Any] | None = None,
    extensions: bool = True,
) -> Sandbox:
    """Seed a world, apply fault options, and install every available extension."""
    from aiconsole.sandbox.clock import Clock, parse_instant
    from aiconsole.sandbox.faults import Faults
    from aiconsole.sandbox.seed import build_state

    options = dict(options or {})
    if not is_loopback_host(host):
        raise SandboxError(f"Refusing to serve on {host}: the sandbox listens on loopback addresses only.")
    faults = Faults(
        seed=seed,
        latency_ms=float(options.get("latency_ms") or 0.0),
        error_rate=float(options.get("error_rate") or 0.0),
        arm_throttle_rate=float(options.get("arm_throttle_rate") or 0.0),
        retry_after_seconds=int(options.get("retry_after_seconds") or 5),
    )
    clock = Clock()
    if options.get("clock_start"):
        clock.set(parse_instant(str(options["clock_start"])))
    state = build_state(seed, subscriptions, faults=faults, clock=clock)
    if options.get("hostile_names"):
        from aiconsole.sandbox.hostile import apply_hostile_names

        apply_hostile_names(state)
    sandbox = Sandbox(state, host=host, port=port, options={**options, "seed": seed, "subscriptions": subscriptions})
    if extensions:
        sandbox.install_extensions()
    return sandbox

