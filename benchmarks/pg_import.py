"""bulkload import into PostgreSQL vs `psql \\copy`, in one run, against the same server.

    python benchmarks/pg_import.py [--dsn postgresql://postgres@127.0.0.1:5432/test]
                                   [--rows 1000000] [--repeat 7] [--concurrency 4]

Both load the same generated mixed-type CSV into an empty (logged) table, alternating,
``--repeat`` rounds; the median of the per-round ratios is reported with its min-max.
bulkload runs parallel binary COPY streams (--concurrency = connections); its times at
1, 2, 4 and 8 streams are printed too, alternated the same way. Target: bulkload <= 0.7x
psql's time. The whole process is timed for both, interpreter start-up included; the
client CPU of each (user + sys, from ``wait4``) is printed beside the wall times, with the
load average: on a shared machine the CPU figures are the steadier ones.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    BULKLOAD,
    alternate,
    generate_csv,
    median,
    ratio_line,
    ratios,
    spread,
    timed_cpu,
)

COLUMNS = (
    "order_id bigint, customer text, product text, quantity bigint, unit_price double precision,"
    " paid boolean, order_date date, created_at timestamp, note text"
)


def psql(dsn: str, *args: str) -> list[str]:
    return ["psql", dsn, "-v", "ON_ERROR_STOP=1", "-q", *args]


def reset(dsn: str, table: str) -> None:
    subprocess.run(
        psql(dsn, "-c", f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} ({COLUMNS})"),
        check=True,
    )


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--dsn",
        default=os.environ.get("BULKLOAD_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=4, help="for the head-to-head run")
    parser.add_argument(
        "--sweep-repeat", type=int, default=3, help="rounds of the stream sweep (0: none)"
    )
    args = parser.parse_args()
    if shutil.which("psql") is None:
        print("psql not found (apt-get install postgresql-client)", file=sys.stderr)
        return 2
    csv = generate_csv(args.rows, Path(tempfile.gettempdir()) / f"bulkload-bench-{args.rows}.csv")

    cpu: dict[str, list[float]] = {}  # client CPU seconds per run, by label

    def bulkload(concurrency: int) -> float:
        reset(args.dsn, "bench_bulkload")
        seconds, _, used = timed_cpu(
            [
                *BULKLOAD,
                "import",
                str(csv),
                "--to",
                args.dsn,
                "--table",
                "bench_bulkload",
                "--concurrency",
                str(concurrency),
                "--quiet",
            ]
        )
        cpu.setdefault(f"c={concurrency}", []).append(used)
        return seconds

    def psql_copy() -> float:
        reset(args.dsn, "bench_psql")
        seconds, _, used = timed_cpu(
            psql(args.dsn, "-c", f"\\copy bench_psql FROM '{csv}' csv header")
        )
        cpu.setdefault("psql", []).append(used)
        return seconds

    times = alternate(
        {"psql": psql_copy, "bulkload": lambda: bulkload(args.concurrency)}, args.repeat
    )
    p, b = times["psql"], times["bulkload"]
    print(f"rows: {args.rows:,}   rounds: {args.repeat}   (median wall time, min-max)")
    print(f"psql \\copy              : {spread(p)}  {args.rows / median(p):12,.0f} rows/s")
    label = f"bulkload import (c={args.concurrency})"
    print(f"{label} : {spread(b)}  {args.rows / median(b):12,.0f} rows/s")
    print(ratio_line("bulkload/psql", ratios(b, p), 0.7))
    print(
        f"client CPU (user + sys): psql {spread(cpu['psql'])}, "
        f"bulkload {spread(cpu[f'c={args.concurrency}'])}; load average {_load()}"
    )
    levels = (1, 2, 4, 8) if args.sweep_repeat > 0 else ()  # 0: no stream sweep
    if levels:
        print("\nbulkload by COPY streams (--concurrency), alternated:")
    sweep = alternate(
        {str(c): functools.partial(bulkload, c) for c in levels},
        args.sweep_repeat,
    )
    for concurrency in levels:
        seconds = sweep[str(concurrency)]
        print(f"  c={concurrency}: {spread(seconds)}  {args.rows / median(seconds):12,.0f} rows/s")
    subprocess.run(
        psql(args.dsn, "-c", "DROP TABLE bench_psql; DROP TABLE bench_bulkload"), check=True
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
