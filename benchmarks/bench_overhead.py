"""bench overhead: how many batch writes `bulkload bench` can drive, vs a bare asyncio loop.

    python benchmarks/bench_overhead.py [--duration 3] [--levels 1,16,256]

For each concurrency level it runs, against targets that do nothing:

* bare loop - N asyncio tasks, each awaiting a no-op write in a loop (yielding to the
              loop every 64 writes, as bench's writers do), counting: the floor any
              asyncio load generator pays per write;
* timed loop - the same, also timing each write (two clock reads and an append): the
              least a load generator that reports latencies does;
* task loop - a task per write under an asyncio.Semaphore of N (the common asyncio
              load-generator pattern, and the reference of engine_overhead.py);
* bench     - `bulkload bench --to null:// --sweep N` from the CLI: the closed-model
              driver with everything it does per write (throttle/breaker/timeout gates,
              retry wrapper, in-flight gauge, HDR latency recording, accounting).

It prints writes/s of each, bench's cost per write in microseconds, and bench's ratio
to each reference (the issue's target: >= 0.5).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BULKLOAD


async def bare_loop(concurrency: int, duration: float, *, timed: bool = False) -> float:
    """Writes/s of N tasks awaiting a no-op write until ``duration`` has passed."""

    async def write() -> None:
        return None

    count = 0
    latencies: list[float] = []
    clock = time.perf_counter
    end = clock() + duration

    async def writer() -> None:
        nonlocal count
        written = 0
        while clock() < end:
            if timed:
                started = clock()
                await write()
                latencies.append(clock() - started)
            else:
                await write()
            count += 1
            written += 1
            if written % 64 == 0:
                await asyncio.sleep(0)
                latencies.clear()  # keep memory flat; the append is what is measured

    started = clock()
    await asyncio.gather(*(writer() for _ in range(concurrency)))
    return count / (clock() - started)


async def task_loop(concurrency: int, duration: float) -> float:
    """Writes/s of a task per no-op write, at most ``concurrency`` at once."""
    semaphore = asyncio.Semaphore(concurrency)

    async def write() -> None:
        return None

    async def one() -> None:
        async with semaphore:
            await write()

    count = 0
    clock = time.perf_counter
    started = clock()
    end = started + duration
    pending: set[asyncio.Task[None]] = set()
    while clock() < end:
        if len(pending) >= concurrency:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            count += len(done)
        pending.add(asyncio.create_task(one()))
    await asyncio.gather(*pending)
    return (count + len(pending)) / (clock() - started)


def bench(levels: list[int], duration: float) -> dict[int, float]:
    """Writes/s per level of `bulkload bench` against null://, from its JSON."""
    command = [
        *BULKLOAD,
        "bench",
        "--synthetic",
        "rows=100000,columns=4",
        "--to",
        "null://",
        "--sweep",
        ",".join(map(str, levels)),
        "--batch-size",
        "100",
        "--warmup",
        "0.5s",
        "--duration",
        f"{duration}s",
        "--json",
        "-",
        "--quiet",
    ]
    done = subprocess.run(command, capture_output=True, check=True, text=True)
    result = json.loads(done.stdout)
    return {level["concurrency"]: level["batches_per_s"] for level in result["levels"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--levels", default="1,16,256")
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(",")]
    measured = bench(levels, args.duration)
    print(
        f"{'concurrency':>11} {'bare/s':>10} {'timed/s':>10} {'task/s':>9} {'bench/s':>9} "
        f"{'µs/write':>8} {'vs bare':>8} {'vs timed':>9} {'vs task':>8}"
    )
    for level in levels:
        bare = asyncio.run(bare_loop(level, args.duration))
        timed = asyncio.run(bare_loop(level, args.duration, timed=True))
        tasks = asyncio.run(task_loop(level, args.duration))
        ours = measured[level]
        print(
            f"{level:>11} {bare:>10,.0f} {timed:>10,.0f} {tasks:>9,.0f} {ours:>9,.0f} "
            f"{1e6 / ours:>8.2f} {ours / bare:>8.2f} {ours / timed:>9.2f} {ours / tasks:>8.2f}"
        )


if __name__ == "__main__":
    main()
