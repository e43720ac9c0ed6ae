"""What an operator feels: time to first screen and search latency per keystroke.

    .venv/bin/python tests/benchmarks/bench_tui.py --db /tmp/bench200k.db

Make the database first with bench_search.py (200,000 customers by default).
Time to first screen runs the real ``clientbook`` command in tmux at 80x24 and
polls the screen until the first customer row is drawn. Keystroke latency runs
the app in-process (``run_test``), puts each key of a query into the search
box as a key press would, and times it until that query's page is on screen.
(``pilot.press`` is not used as the stopwatch: it waits for the app to go
idle, which adds 200-400 ms that no user sees.)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

QUERIES = ["nordic", "zoe lift", "aarhus 12", "info1234@x1234.dk", "45 87", "boreal"]


def first_screen_seconds(db: Path, runs: int) -> list[float]:
    command = Path(sys.executable).with_name("clientbook")
    samples = []
    for run in range(runs):
        server = f"cb-bench-{run}"
        started = time.perf_counter()
        subprocess.run(["tmux", "-L", server, "new-session", "-d", "-x", "80", "-y", "24",
                        f"{command} --db {db}"], check=True)
        try:
            while time.perf_counter() - started < 30:
                screen = subprocess.run(["tmux", "-L", server, "capture-pane", "-p"],
                                        capture_output=True, text=True).stdout
                if " of " in screen and "sorted by" in screen:
                    samples.append(time.perf_counter() - started)
                    break
                time.sleep(0.02)
        finally:
            subprocess.run(["tmux", "-L", server, "kill-server"], capture_output=True)
    return samples


async def keystroke_latencies(db: Path) -> list[float]:
    from tui.cli import open_context
    from tui.app import ClientbookApp
    from tui.domain.config import load_config
    from textual.widgets import Input

    ctx = open_context(load_config(), db)
    app = ClientbookApp(ctx)
    latencies: list[float] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        screen = app.screen
        search = screen.query_one("#search", Input)
        arrived = asyncio.Event()
        original = screen.show_page

        def show_page(page):
            original(page)
            if page_for["text"] == search.value:
                arrived.set()

        page_for = {"text": None}
        screen.show_page = show_page
        for query in QUERIES:
            search.value = ""
            await app.workers.wait_for_complete()
            await pilot.pause()
            for key in query:
                arrived.clear()
                started = time.perf_counter()
                # What a key press does to the Input, without the Pilot's idle waits.
                search.insert_text_at_cursor(key)
                page_for["text"] = search.value
                await arrived.wait()
                await pilot.pause()  # the repaint
                latencies.append(time.perf_counter() - started)
    ctx.db.close()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    customers = subprocess.run(
        [str(Path(sys.executable).with_name("clientbook")), "--db", str(args.db), "customers",
         "list", "--limit", "0", "--json"], capture_output=True, text=True)
    print(f"database: {args.db} {customers.stdout.split(',')[0].strip('{ ')}")
    first = first_screen_seconds(args.db, args.runs)
    print(f"time to first screen (tmux, 80x24): median {statistics.median(first):.2f} s, "
          f"max {max(first):.2f} s over {len(first)} runs")
    latencies = asyncio.run(keystroke_latencies(args.db))
    ordered = sorted(latencies)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    print(f"search latency per keystroke ({len(latencies)} keys over {len(QUERIES)} queries): "
          f"median {statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
          f"max {ordered[-1] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
