"""Bulk rotation of N subscriptions (the bulk runner) against a plain sequential SDK loop.

Both run in one process against one sandbox with injected latency. The bulk runner does, per
item, listSecrets (fingerprint before) + regenerate + listSecrets (fingerprint after), a journal
entry and two fsynced run-log lines, with 8 workers; the plain loop does regenerate + listSecrets
one after the other. The runner is measured twice: with ARM's write budget (token bucket, 200
burst then 10 writes/s — what a real ARM principal gets) and with the budget off (only 429s and
Retry-After pace it; the sandbox has no ARM rate limit unless faults are on). Prints one JSON
object; the ratio is plain-loop seconds divided by bulk seconds (higher is better).

    python bench/bulk_rotation.py [--subscriptions 500] [--latency-ms 20] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.sandbox_fixture import start_sandbox  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subscriptions", type=int, default=500)
    ap.add_argument("--latency-ms", type=int, default=20)
    ap.add_argument("--concurrency", type=int, default=8)
    a = ap.parse_args()
    state = tempfile.mkdtemp(prefix="aiconsole-bench-")
    os.environ["XDG_STATE_HOME"] = state
    info, stop = start_sandbox(subscriptions=a.subscriptions, traffic=False, latency_ms=a.latency_ms)
    try:
        from aiconsole.audit.journal import AuditJournal
        from aiconsole.backends.connect import sandbox_connection
        from aiconsole.services.bulk import BulkRunner, RotateSlotAction, WriteBudget
        from aiconsole.services.context import ServiceContext

        conn = sandbox_connection(info["management_url"])
        backend = conn.backend()
        backend.get_service()  # warm the connection pool and the SDK
        names = [s.name for page in backend.iter_subscription_pages() for s in page][: a.subscriptions]
        ctx = ServiceContext.from_connection(conn, backend=backend, journal=AuditJournal(Path(state) / "audit.jsonl"))

        def bulk(slot: str, rate: float) -> float:
            runner = BulkRunner(ctx, RotateSlotAction(ctx, slot), concurrency=a.concurrency,
                                budget=WriteBudget(rate=rate), root=Path(state) / "bulk")
            todo, prior = runner.open(f"bench:{slot}:{rate}", lambda: names)
            t0 = time.perf_counter()
            results = runner.run(todo, prior)
            elapsed = time.perf_counter() - t0
            bad = [r for r in results if r.result != "ok"]
            if bad:
                raise SystemExit(f"{len(bad)} items failed: {bad[0].error}")
            return elapsed

        budget_s = bulk("primary", 10.0)
        unbudgeted_s = bulk("secondary", 0.0)

        ops = backend.client.subscription
        t0 = time.perf_counter()
        for sid in names:
            ops.regenerate_primary_key(conn.resource_group, conn.service_name, sid)
            ops.list_secrets(conn.resource_group, conn.service_name, sid)
        plain_s = time.perf_counter() - t0
    finally:
        stop()
    print(json.dumps({
        "benchmark": "bulk_rotation",
        "subscriptions": len(names),
        "latency_ms": a.latency_ms,
        "concurrency": a.concurrency,
        "plain_sequential_sdk_seconds": round(plain_s, 2),
        "bulk_seconds_arm_write_budget": round(budget_s, 2),
        "bulk_seconds_no_client_budget": round(unbudgeted_s, 2),
        "ratio_with_arm_budget": round(plain_s / budget_s, 2),
        "ratio_no_client_budget": round(plain_s / unbudgeted_s, 2),
        "calls_per_item": {"bulk": 3, "plain": 2},
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
