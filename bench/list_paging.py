"""Listing N subscriptions through the adapter (parallel $skip paging) against a plain SDK loop.

Both run in the same process against one sandbox with injected latency, so the ratio is
measured under identical conditions. Prints one JSON object.

    python bench/list_paging.py [--subscriptions 10000] [--latency-ms 20]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.sandbox_fixture import start_sandbox  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subscriptions", type=int, default=10_000)
    ap.add_argument("--latency-ms", type=int, default=20)
    ap.add_argument("--concurrency", type=int, default=8)
    a = ap.parse_args()
    info, stop = start_sandbox(subscriptions=a.subscriptions, traffic=False, latency_ms=a.latency_ms)
    try:
        from aiconsole.backends.connect import sandbox_connection

        conn = sandbox_connection(info["management_url"])
        backend = conn.backend()
        backend.get_service()  # warm the connection pool and the SDK

        t0 = time.perf_counter()
        first_page_at = None
        adapter_count = 0
        for page in backend.iter_subscription_pages(concurrency=a.concurrency):
            if first_page_at is None:
                first_page_at = time.perf_counter() - t0
            adapter_count += len(page)
        adapter_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        plain_count = sum(1 for _ in backend.client.subscription.list(conn.resource_group, conn.service_name))
        plain_s = time.perf_counter() - t0
    finally:
        stop()
    print(json.dumps({
        "benchmark": "list_paging",
        "subscriptions": a.subscriptions,
        "latency_ms": a.latency_ms,
        "concurrency": a.concurrency,
        "adapter_seconds": round(adapter_s, 3),
        "adapter_first_page_seconds": round(first_page_at or 0.0, 3),
        "adapter_items": adapter_count,
        "plain_sdk_seconds": round(plain_s, 3),
        "plain_sdk_items": plain_count,
        "speedup": round(plain_s / adapter_s, 2) if adapter_s else None,
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
