"""Engine overhead: bulkload's engine vs a bare asyncio loop, in one run.

    python benchmarks/engine_overhead.py [--rows 1000000] [--batch-size 1000]

For each concurrency (1, 100, 1000) it runs:

* bare loop   - the same number of no-op awaits, each under an asyncio.Semaphore of
                that concurrency: the floor any asyncio fan-out pays per batch;
* engine      - bulkload's Engine (queue, writers, throttle/breaker/timeout gates,
                retries wrapper, HDR latency recording, accounting) writing the same
                number of batches to null://, fed from memory so parsing is not counted;
* end to end  - `bulkload import data.csv --to null://` from the CLI, parsing and typing
                included (for information: CSV parsing dominates it).

It prints batches/s for each and the ratio engine / bare loop. Target: >= 0.5.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BULKLOAD, generate_csv

from bulkload.backends.null import NullBackend
from bulkload.config import EngineOptions, TargetOptions
from bulkload.engine import Engine
from bulkload.sources.batch import SourceBatch
from bulkload.sources.discovery import SourceFile
from bulkload.stats import RunStats


async def bare_loop(batches: int, concurrency: int) -> float:
    semaphore = asyncio.Semaphore(concurrency)

    async def noop() -> None:
        return None

    async def one() -> None:
        async with semaphore:
            await noop()

    started = time.perf_counter()
    # a bounded window of tasks, as the engine's writers are
    pending: set[asyncio.Task[None]] = set()
    for _ in range(batches):
        if len(pending) >= concurrency:
            _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        pending.add(asyncio.create_task(one()))
    await asyncio.gather(*pending)
    return time.perf_counter() - started


class MemorySource:
    """The BatchSource interface over batches already in memory (no parsing)."""

    def __init__(self, batches: list[SourceBatch]):
        self._batches = batches
        self.files = [batches[0].file]
        self.total_bytes = None
        self.schema = batches[0].data.schema

    def batches_of(self, file: SourceFile) -> Iterator[SourceBatch]:
        return iter(self._batches)


def memory_batches(rows: int, batch_size: int) -> list[SourceBatch]:
    file = SourceFile("memory", "csv", None, None, None)
    data = pa.RecordBatch.from_pydict({"id": list(range(batch_size)), "v": [1.5] * batch_size})
    lines = pa.array(range(1, batch_size + 1))
    return [
        SourceBatch(data=data, file=file, index=i, lines=lines, rows_read=batch_size)
        for i in range(rows // batch_size)
    ]


async def engine_run(batches: list[SourceBatch], concurrency: int) -> float:
    backend = NullBackend("null://", TargetOptions())
    stats = RunStats(batch_size=batches[0].num_rows)
    engine = Engine(backend, EngineOptions(concurrency=concurrency), stats)
    started = time.perf_counter()
    await engine.run(MemorySource(batches), "t", "append")  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    assert stats.rows_loaded == sum(b.num_rows for b in batches)
    return elapsed


def end_to_end(csv: Path, batch_size: int, concurrency: int) -> float:
    out = subprocess.run(
        [
            *BULKLOAD,
            "import",
            str(csv),
            "--to",
            "null://",
            "--table",
            "t",
            "--batch-size",
            str(batch_size),
            "-c",
            str(concurrency),
            "--json",
            "-",
            "-q",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(json.loads(out)["elapsed_s"])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", default="1,100,1000")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    count = args.rows // args.batch_size
    batches = memory_batches(args.rows, args.batch_size)
    csv = generate_csv(args.rows, Path(tempfile.gettempdir()) / f"bulkload-bench-{args.rows}.csv")

    print(f"{count:,} batches of {args.batch_size:,} rows (best of {args.repeat})\n")
    print(
        f"{'concurrency':>11}  {'bare loop':>14}  {'engine':>14}  {'ratio':>6}  {'end to end':>14}"
    )
    worst = float("inf")
    for level in levels:
        bare = min(asyncio.run(bare_loop(count, level)) for _ in range(args.repeat))
        engine = min(asyncio.run(engine_run(batches, level)) for _ in range(args.repeat))
        e2e = end_to_end(csv, args.batch_size, level)
        ratio = bare / engine
        worst = min(worst, ratio)
        print(
            f"{level:>11}  {count / bare:>10,.0f} b/s  {count / engine:>10,.0f} b/s  "
            f"{ratio:>6.2f}  {count / e2e:>10,.0f} b/s"
        )
    print(f"\nworst ratio engine/bare loop = {worst:.2f}   (target >= 0.50)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
