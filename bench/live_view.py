"""Benchmark of the live view (``:top``) with 1,000 subscriptions carrying traffic.

Not a test: run by hand (``python bench/live_view.py``); prints one JSON object.

Set-up: a synthetic Prometheus endpoint (in this process, on loopback) whose counters grow at
seeded per-subscription rates — 1,000 subscriptions over two APIs, 5% of them throttled — and the
console in a child process on a pseudo-terminal of 120x40, opening ``:top`` with the real
Prometheus adapter, refreshing once a second. Binding limits and the subscription list come
from in-memory stand-ins (no management API), so what is measured is the view, the scrape and
the rate computation, not ARM.

Figures:
- ``ui_loop_ms_per_refresh``: CPU time of the UI thread per refresh cycle (applying rows,
  re-sorting, painting — everything that runs on the event loop), mean and p95;
- ``apply_ms``: wall time of putting one reading's rows into the table (mean, p95);
- ``poll_ms``: one scrape + parse + rates + joins in the worker thread (mean, p95);
- ``cpu_share_of_one_core``: the console process's user+system CPU over wall time;
- ``bytes_per_refresh``: bytes written to the terminal per refresh (read from the pty master).

The synthetic counters grow at constant rates, so in the steady state a refresh changes only
the numbers that really move; bursty real traffic changes more lines per refresh.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sandbox_proc import cpu_seconds  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SUBSCRIPTIONS = 1000
WIDTH, HEIGHT = 120, 40


# -- the synthetic endpoint ------------------------------------------------------------------------
class Exposition:
    """Counters that grow linearly from process start at seeded rates (per second)."""

    def __init__(self, n: int, seed: int = 7) -> None:
        rnd = random.Random(seed)
        self.start = time.monotonic()
        self.subs = []
        for i in range(n):
            sid = f"sub-{i:04d}"
            product = ("starter", "standard", "premium")[i % 3]
            api = "llm" if i % 2 else "azure-openai"
            ok = rnd.uniform(0.05, 2.0)
            throttled = rnd.uniform(0.5, 3.0) if i % 20 == 0 else 0.0
            tokens = ok * rnd.uniform(200, 900)
            self.subs.append((sid, product, api, ok, throttled, tokens))

    def text(self) -> str:
        t = time.monotonic() - self.start
        req, tok, ptok, ctok, thr = [], [], [], [], []
        for sid, product, api, ok, throttled, tokens in self.subs:
            lab = f'api_id="{api}",product_id="{product}",subscription_id="{sid}"'
            req.append(f'azure_apim_requests_total{{{lab},gateway_response_code="200"}} {int(ok * t)}')
            if throttled:
                req.append(f'azure_apim_requests_total{{{lab},gateway_response_code="429"}} {int(throttled * t)}')
                thr.append(f'aiconsole_sandbox_throttled_requests_total{{{lab},reason="token-rate",'
                           f'policy="llm-token-limit",scope="product:{product}",gateway_response_code="429"}} '
                           f'{int(throttled * t)}')
            total = int(tokens * t)
            tok.append(f'azure_apim_total_tokens_total{{{lab},namespace="API Management"}} {total}')
            ptok.append(f'azure_apim_prompt_tokens_total{{{lab},namespace="API Management"}} {int(total * 0.8)}')
            ctok.append(f'azure_apim_completion_tokens_total{{{lab},namespace="API Management"}} {total - int(total * 0.8)}')
        parts = []
        for name, lines in (("azure_apim_requests", req), ("azure_apim_total_tokens", tok),
                            ("azure_apim_prompt_tokens", ptok), ("azure_apim_completion_tokens", ctok),
                            ("aiconsole_sandbox_throttled_requests", thr)):
            parts.append(f"# TYPE {name}_total counter\n" + "\n".join(lines))
        return "\n".join(parts) + "\n"


def serve(expo: Exposition) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server API
            body = expo.text().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/metrics"


# -- the console under test (child process) ----------------------------------------------------------
def child(url: str, stats_path: str, duration: float) -> None:
    from types import SimpleNamespace

    sys.path.insert(0, str(ROOT))
    import aiconsole.tui.screens.top as top
    from aiconsole.backends.connect import Connection
    from aiconsole.services.triage import LimitCache, LimitInfo, SubscriptionDirectory, TriageService
    from aiconsole.telemetry.prometheus import PrometheusSource
    from aiconsole.tui.app import AiConsoleApp

    def fake_sub(i: int):
        return SimpleNamespace(name=f"sub-{i:04d}", owner=f"owner{i % 37}", display_name="",
                               state=SimpleNamespace(value="active"),
                               scope=SimpleNamespace(kind=SimpleNamespace(value="product"),
                                                     id=("starter", "standard", "premium")[i % 3]))

    def build(app, source):
        return TriageService(
            PrometheusSource(url),
            limits=LimitCache(lambda kind, name: LimitInfo(20000, None, None, "product:standard", "llm-token-limit",
                                                           "per subscription")),
            directory=SubscriptionDirectory(lambda: [fake_sub(i) for i in range(SUBSCRIPTIONS)]),
            lookups_per_poll=50,
        )

    top.build_triage = build
    top.TopScreen.poll_interval = 1.0
    ui_cpu: list[float] = []
    apply_ms: list[float] = []
    poll_ms: list[float] = []
    last = {"cpu": None}
    original_polled = top.LiveScreen.on_live_screen_polled
    original_apply = top.TopScreen.apply
    original_poll = top.LiveFeed.poll

    def polled(self, message):
        now = time.thread_time()
        if last["cpu"] is not None:
            ui_cpu.append((now - last["cpu"]) * 1000)
        last["cpu"] = now
        return original_polled(self, message)

    def apply(self, report, rows):
        t0 = time.perf_counter()
        original_apply(self, report, rows)
        self.table.sync_now()  # count the view recompute here, not later
        apply_ms.append((time.perf_counter() - t0) * 1000)

    def poll(self, window, by):
        t0 = time.perf_counter()
        try:
            return original_poll(self, window, by)
        finally:
            poll_ms.append((time.perf_counter() - t0) * 1000)

    top.LiveScreen.on_live_screen_polled = polled
    top.TopScreen.apply = apply
    top.LiveFeed.poll = poll

    class BenchApp(AiConsoleApp):
        CSS_PATH = str(ROOT / "aiconsole" / "tui" / "app.tcss")  # relative paths resolve beside the subclass

        def on_mount(self) -> None:
            super().on_mount()
            self.set_timer(duration, self.finish)

        def finish(self) -> None:
            screen = self.screen
            Path(stats_path).write_text(json.dumps({
                "refreshes": getattr(screen, "polls", 0), "ui_cpu_ms": ui_cpu, "apply_ms": apply_ms,
                "poll_ms": poll_ms, "rows": len(screen.table.model) if hasattr(screen, "table") else 0,
                "full_repaints": screen.table.full_repaints, "cell_repaints": screen.table.cell_repaints,
            }))
            self.exit(0)

    conn = Connection(kind="sandbox", management_url="http://127.0.0.1:9", subscription_id="0", resource_group="rg",
                      service_name="apim-bench", label="bench", sandbox_info={"metrics_url": url})
    app = BenchApp(connection=conn, backend=SimpleNamespace(), cursor_blink=False, start_command="top")
    if os.environ.get("BENCH_PROFILE"):  # where the UI thread's time goes (main thread only)
        import cProfile

        cProfile.runctx("app.run()", globals(), {"app": app}, os.environ["BENCH_PROFILE"])
    else:
        app.run()


def run(duration: float, warmup: float) -> dict:
    import fcntl
    import pty
    import select
    import struct
    import termios

    expo = Exposition(SUBSCRIPTIONS)
    server, url = serve(expo)
    scrape_bytes = len(expo.text().encode())
    stats_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"aiconsole-bench-{os.getpid()}.json"
    pid, fd = pty.fork()
    if pid == 0:  # the console
        os.environ.update({"TERM": "xterm-256color", "COLUMNS": str(WIDTH), "LINES": str(HEIGHT),
                           "TEXTUAL_ANIMATIONS": "none"})
        try:
            child(url, str(stats_path), duration + warmup)
        finally:
            os._exit(0)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", HEIGHT, WIDTH, 0, 0))
    total = 0
    counted = 0
    tail = b""
    started = time.monotonic()
    cpu0 = None
    while True:
        r, _, _ = select.select([fd], [], [], 0.5)
        elapsed = time.monotonic() - started
        if cpu0 is None and elapsed >= warmup:
            cpu0 = (cpu_seconds(pid), time.monotonic())
            counted = 0
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            total += len(data)
            tail = (tail + data)[-4000:]
            if os.environ.get("BENCH_DUMP") and cpu0 is not None:
                with open(os.environ["BENCH_DUMP"], "ab") as dump:
                    dump.write(data)
            if cpu0 is not None:
                counted += len(data)
            if b"\x1b[6n" in data:  # answer a cursor-position query so the app does not wait
                os.write(fd, b"\x1b[1;1R")
        if elapsed > duration + warmup + 30:
            break
    cpu1 = (cpu_seconds(pid), time.monotonic())
    os.waitpid(pid, 0)
    server.shutdown()
    if not stats_path.exists():
        raise SystemExit("the console did not finish; its last output:\n" + tail.decode(errors="replace"))
    stats = json.loads(stats_path.read_text())
    stats_path.unlink()
    # refreshes during the measured part (the child counts all of them; scale by time)
    measured_refreshes = max(1, round(stats["refreshes"] * duration / (duration + warmup)))

    def mean_p95(values: list[float]) -> dict:
        if not values:
            return {"mean": None, "p95": None}
        ordered = sorted(values)
        return {"mean": round(statistics.fmean(values), 1), "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 1)}

    cpu_share = (cpu1[0] - cpu0[0]) / (cpu1[1] - cpu0[1]) if cpu0 else None
    return {
        "subscriptions": SUBSCRIPTIONS,
        "rows_on_screen_table": stats["rows"],
        "terminal": f"{WIDTH}x{HEIGHT}",
        "refresh_interval_s": 1.0,
        "duration_s": duration,
        "refreshes": stats["refreshes"],
        "exposition_bytes_per_scrape": scrape_bytes,
        "ui_loop_ms_per_refresh": mean_p95(stats["ui_cpu_ms"][2:]),
        "apply_ms": mean_p95(stats["apply_ms"][2:]),
        "poll_ms_in_worker": mean_p95(stats["poll_ms"][2:]),
        "cpu_share_of_one_core": round(cpu_share, 3) if cpu_share is not None else None,
        "bytes_per_refresh": round(counted / measured_refreshes),
        "table_repaints": {"full": stats["full_repaints"], "changed_cells_only": stats["cell_repaints"]},
        "bytes_total": total,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds (default 30)")
    parser.add_argument("--warmup", type=float, default=70.0,
                        help="seconds before measuring (default 70: the 1-minute rate window must fill first, "
                             "or every reading changes every number)")
    args = parser.parse_args()
    print(json.dumps(run(args.duration, args.warmup)))


if __name__ == "__main__":
    main()
