"""Gateway throughput with traffic off: a bounded load loop on loopback; prints one JSON object.

The sandbox runs as a subprocess (``aiconsole sandbox --no-traffic``) so the load generator does
not share its interpreter. The default client is a minimal keep-alive HTTP/1.1 loop on asyncio
streams (one connection per worker): httpx's async pool costs several times the gateway's own
CPU per request, and on a busy machine the benchmark would measure the client (``--client
httpx`` is there to compare). Requests go round-robin over the seeded active subscriptions that
can call the Azure OpenAI API (keys from an identically seeded twin state), so per-key token
limits do not turn the run into a 429 benchmark; 429s are counted separately anyway.

    python bench/gateway_throughput.py [--seconds 10] [--concurrency 32] [--seed 1] [--client raw|httpx]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from _sandbox_proc import cpu_seconds, start, stop  # noqa: E402


def keys_for(seed: int, subscriptions: int) -> list[str]:
    from aiconsole.sandbox.seed import build_state

    twin = build_state(seed, subscriptions)
    out = []
    for sub in twin.iter_subscriptions():
        if sub.state == "active" and sub.covers_api("azure-openai", twin.products):
            product = twin.products.get(sub.scope_id or "") if sub.scope_kind == "product" else None
            if product is None or product.pid not in ("starter", "trial"):
                out.append(sub.primary_key)
    return out


async def load(url: str, keys: list[str], seconds: float, concurrency: int) -> dict:
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    body = {"messages": [{"role": "user", "content": "Say hello to the gateway."}], "max_tokens": 16}
    path = "/openai/deployments/gpt-4o-mini/chat/completions"
    deadline = time.monotonic() + seconds
    counter = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal counter
        while time.monotonic() < deadline:
            counter += 1
            key = keys[counter % len(keys)]
            t0 = time.perf_counter()
            r = await client.post(path, params={"api-version": "2024-10-21"}, json=body, headers={"api-key": key})
            latencies.append(time.perf_counter() - t0)
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        started = time.monotonic()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.monotonic() - started
    total = sum(statuses.values())
    latencies.sort()
    return {
        "requests": total,
        "seconds": round(elapsed, 2),
        "requests_per_second": round(total / elapsed, 1),
        "ok_per_second": round(statuses.get(200, 0) / elapsed, 1),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "latency_ms_p50": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "latency_ms_p99": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1) if latencies else None,
    }


async def load_raw(url: str, keys: list[str], seconds: float, concurrency: int) -> dict:
    """The same loop over raw keep-alive connections: request bytes out, Content-Length body in."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    body = json.dumps({"messages": [{"role": "user", "content": "Say hello to the gateway."}], "max_tokens": 16}).encode()
    path = "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21"
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    counter = 0

    async def worker() -> None:
        nonlocal counter
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.monotonic() < deadline:
                counter += 1
                key = keys[counter % len(keys)]
                head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\napi-key: {key}\r\n"
                        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
                t0 = time.perf_counter()
                writer.write(head + body)
                raw_head = await reader.readuntil(b"\r\n\r\n")
                lines = raw_head.decode("latin-1").split("\r\n")
                status = int(lines[0].split()[1])
                length = next(int(v) for k, _, v in (l.partition(":") for l in lines[1:]) if k.lower() == "content-length")
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - t0)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    total = sum(statuses.values())
    latencies.sort()
    return {
        "requests": total,
        "seconds": round(elapsed, 2),
        "requests_per_second": round(total / elapsed, 1),
        "ok_per_second": round(statuses.get(200, 0) / elapsed, 1),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "latency_ms_p50": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "latency_ms_p99": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1) if latencies else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--subscriptions", type=int, default=400)
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw")
    args = parser.parse_args()
    proc, info = start("--no-traffic", "--seed", str(args.seed), "--subscriptions", str(args.subscriptions))
    try:
        keys = keys_for(args.seed, args.subscriptions)
        run = load_raw if args.client == "raw" else load
        asyncio.run(run(info["gateway_url"], keys, 1.0, args.concurrency))  # warm-up
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        cpu0, wall0 = cpu_seconds(proc.pid), time.monotonic()
        result = asyncio.run(run(info["gateway_url"], keys, args.seconds, args.concurrency))
        cpu = cpu_seconds(proc.pid) - cpu0
        usage1 = resource.getrusage(resource.RUSAGE_SELF)
        client_cpu = usage1.ru_utime + usage1.ru_stime - usage0.ru_utime - usage0.ru_stime
        per_request = cpu / max(1, result["requests"])
        result.update({
            "benchmark": "gateway_throughput",
            "concurrency": args.concurrency,
            "client": args.client,
            "keys": len(keys),
            "sandbox_cpu_percent_of_one_core": round(100 * cpu / (time.monotonic() - wall0), 1),
            "load_generator_cpu_percent_of_one_core": round(100 * client_cpu / (time.monotonic() - wall0), 1),
            # Robust to a busy machine: the sandbox's CPU per request and the rate it implies on one core.
            "sandbox_cpu_ms_per_request": round(per_request * 1000, 2),
            "cpu_bound_requests_per_second_one_core": round(1 / per_request, 0) if per_request else None,
            "load_average_1m": round(os.getloadavg()[0], 2),
            "note": "chat completions via loopback HTTP; includes the synthetic model's small asyncio.sleep latency",
        })
    finally:
        stop(proc)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
