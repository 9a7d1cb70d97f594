"""Driven by bench/tui_startup.py in a fresh process: opens the console headless on a sandbox
and reports when the first rows and all rows are visible, the longest UI-loop stall while
loading, filter keystroke latencies and peak RSS. Prints one JSON object."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time

T0 = float(os.environ["BENCH_T0"])  # wall time just before the parent started this process


async def run(url: str, filter_text: str) -> dict:
    from aiconsole.backends.connect import sandbox_connection
    from aiconsole.tui.app import AiConsoleApp

    app = AiConsoleApp(connection=sandbox_connection(url), cursor_blink=False)
    out: dict = {}
    stalls: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        out["first_frame_s"] = round(time.time() - T0, 3)
        last = time.perf_counter()

        def tick() -> None:  # a 10 ms heartbeat on the UI loop: gaps are stalls
            nonlocal last
            now = time.perf_counter()
            stalls.append(now - last)
            last = now

        timer = app.set_interval(0.01, tick)
        screen = app.screen
        while not (hasattr(screen, "table") and len(screen.table.model) > 0):
            await asyncio.sleep(0.005)
            screen = app.screen
        out["first_rows_s"] = round(time.time() - T0, 3)
        while screen.loading_pages is not None:
            await asyncio.sleep(0.01)
        await pilot.pause()
        out["all_rows_s"] = round(time.time() - T0, 3)
        out["rows"] = len(screen.table.model)
        timer.stop()
        out["max_ui_stall_ms_while_loading"] = round(max(stalls) * 1000, 1) if stalls else None

        await pilot.press("slash")
        keys = []
        for ch in filter_text:
            t = time.perf_counter()
            await pilot.press(ch)
            await pilot.pause()
            keys.append((time.perf_counter() - t) * 1000)
        out["filter_keystroke_ms"] = [round(k, 1) for k in keys]
        out["filter_keystroke_ms_max"] = round(max(keys), 1)
        out["visible_after_filter"] = screen.table.model.visible_count
        model = screen.table.model
        t = time.perf_counter()
        model.set_filter(filter_text[:2])
        _ = model.view
        out["filter_model_only_ms"] = round((time.perf_counter() - t) * 1000, 2)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "team"))))
