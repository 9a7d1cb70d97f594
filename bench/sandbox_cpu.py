"""CPU used by ``aiconsole sandbox --traffic`` at the default rate; prints one JSON object.

Reads utime+stime of the sandbox process from /proc/PID/stat over a window (default 30 s)
after a short warm-up, and the requests the gateway served in that window from /metrics.

    python bench/sandbox_cpu.py [--seconds 30] [--rps N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from _sandbox_proc import cpu_seconds, start, stop  # noqa: E402


def served(url: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(httpx.get(url, timeout=10).text):
        for s in family.samples:
            if s.name == "azure_apim_requests_total":
                code = s.labels["gateway_response_code"]
                out[code] = out.get(code, 0) + s.value
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rps", type=float, default=None, help="default: the sandbox's own default")
    parser.add_argument("--warmup", type=float, default=5.0)
    args = parser.parse_args()
    flags = ["--traffic"] + (["--rps", str(args.rps)] if args.rps is not None else [])
    proc, info = start(*flags)
    try:
        time.sleep(args.warmup)
        before, cpu0, t0 = served(info["metrics_url"]), cpu_seconds(proc.pid), time.monotonic()
        time.sleep(args.seconds)
        cpu1, t1 = cpu_seconds(proc.pid), time.monotonic()
        after = served(info["metrics_url"])
    finally:
        stop(proc)
    delta = {k: int(after.get(k, 0) - before.get(k, 0)) for k in sorted(after)}
    print(json.dumps({
        "benchmark": "sandbox_cpu_with_traffic",
        "rps_setting": info["traffic"]["rps"],
        "window_seconds": round(t1 - t0, 1),
        "cpu_percent_of_one_core": round(100 * (cpu1 - cpu0) / (t1 - t0), 1),
        "requests_served": sum(delta.values()),
        "requests_per_second": round(sum(delta.values()) / (t1 - t0), 2),
        "by_status": delta,
    }))


if __name__ == "__main__":
    main()
