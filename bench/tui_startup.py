"""Console start-up and filtering at size: process start → first rows → all rows, UI stalls,
filter keystroke latency and peak RSS, for 1k, 10k and 100k subscriptions; plus cold --help.

Each size runs in a fresh process against its own sandbox (no traffic). Prints one JSON object.

    python bench/tui_startup.py [--sizes 1000,10000,100000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.sandbox_fixture import start_sandbox  # noqa: E402


def cold_help(runs: int = 5) -> float:
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "aiconsole", "--help"], capture_output=True, check=True)
        best = min(best, time.perf_counter() - t)
    return round(best * 1000, 1)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,100000")
    a = ap.parse_args()
    result: dict = {"benchmark": "tui_startup", "help_ms_best_of_5": cold_help(), "sizes": {}}
    for n in (int(x) for x in a.sizes.split(",")):
        info, stop = start_sandbox(subscriptions=n, traffic=False, timeout=120)
        try:
            env = {**os.environ, "BENCH_T0": repr(time.time())}
            proc = subprocess.run([sys.executable, str(ROOT / "bench" / "_tui_driver.py"), info["management_url"]],
                                  capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)
            if proc.returncode != 0:
                result["sizes"][n] = {"error": proc.stderr[-2000:]}
            else:
                result["sizes"][n] = json.loads(proc.stdout.strip().splitlines()[-1])
        finally:
            stop()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
