"""AsyncLoader.add() throughput against null://, three ways of handing over rows.

    python benchmarks/loader_add.py [--rows 1000000] [--batch-size 10000]

* single dict  - loader.add({"id": i, ...}) once per row (the ArcadeDB / driver style);
* list of 1000 - loader.add([...1000 dicts...]);
* RecordBatch  - loader.add(batch) with batches of 1000 rows built beforehand.

Rows/s counts from the first add() to close() returning, so conversion and writing are
included. Target: single-dict add() >= 200,000 rows/s.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import pyarrow as pa

import bulkload

TARGET_SINGLE_DICT = 200_000


def _row(i: int) -> dict[str, object]:
    return {"id": i, "name": f"name-{i}", "amount": i * 0.5, "active": i % 2 == 0}


def _timed(rows: int, batch_size: int, feed: Callable[[bulkload.AsyncLoader], None]) -> float:
    loader = bulkload.AsyncLoader("null://", "t", batch_size=batch_size)
    started = time.perf_counter()
    with loader:
        feed(loader)
    elapsed = time.perf_counter() - started
    if loader.stats.rows_loaded != rows:
        raise SystemExit(f"loaded {loader.stats.rows_loaded} rows of {rows}")
    return rows / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    args = parser.parse_args()
    rows, batch_size = args.rows, args.batch_size

    dicts = [_row(i) for i in range(rows)]
    chunks = [dicts[i : i + 1000] for i in range(0, rows, 1000)]
    batches = [pa.RecordBatch.from_pylist(chunk) for chunk in chunks]

    def one_by_one(loader: bulkload.AsyncLoader) -> None:
        for row in dicts:
            loader.add(row)

    def in_lists(loader: bulkload.AsyncLoader) -> None:
        for chunk in chunks:
            loader.add(chunk)

    def as_batches(loader: bulkload.AsyncLoader) -> None:
        for batch in batches:
            loader.add(batch)

    results = {
        "single dict": _timed(rows, batch_size, one_by_one),
        "list of 1000": _timed(rows, batch_size, in_lists),
        "RecordBatch": _timed(rows, batch_size, as_batches),
    }
    base = results["RecordBatch"]
    print(f"AsyncLoader.add() into null://, {rows:,} rows, batch_size={batch_size:,}")
    for name, rate in results.items():
        print(f"  {name:<13} {rate:>12,.0f} rows/s   {rate / base:5.2f}x RecordBatch")
    verdict = "ok" if results["single dict"] >= TARGET_SINGLE_DICT else "BELOW TARGET"
    print(f"single-dict add() target {TARGET_SINGLE_DICT:,} rows/s: {verdict}")


if __name__ == "__main__":
    main()
