"""bulkload import into PostgreSQL vs `psql \\copy`, in one run, against the same server.

    python benchmarks/pg_import.py [--dsn postgresql://postgres@127.0.0.1:5432/test]
                                   [--rows 1000000] [--repeat 3]

Both load the same generated mixed-type CSV into an empty table, alternating; medians are
compared. bulkload runs parallel COPY streams (--concurrency = connections); its rows/s
at concurrency 1, 2, 4 and 8 are printed too. Target: bulkload <= 1.0x psql's time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BULKLOAD, generate_csv, median, timed

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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--dsn",
        default=os.environ.get("BULKLOAD_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=2, help="for the head-to-head run")
    args = parser.parse_args()
    if shutil.which("psql") is None:
        print("psql not found (apt-get install postgresql-client)", file=sys.stderr)
        return 2
    csv = generate_csv(args.rows, Path(tempfile.gettempdir()) / f"bulkload-bench-{args.rows}.csv")

    def bulkload(concurrency: int) -> float:
        reset(args.dsn, "bench_bulkload")
        seconds, _ = timed(
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
        return seconds

    psql_times, bulk_times = [], []
    for _ in range(args.repeat):
        reset(args.dsn, "bench_psql")
        seconds, _ = timed(psql(args.dsn, "-c", f"\\copy bench_psql FROM '{csv}' csv header"))
        psql_times.append(seconds)
        bulk_times.append(bulkload(args.concurrency))
    p, b = median(psql_times), median(bulk_times)
    print(f"rows: {args.rows:,}   repeats: {args.repeat}   (median wall time)")
    print(f"psql \\copy            : {p:6.2f} s  {args.rows / p:12,.0f} rows/s")
    print(f"bulkload import (c={args.concurrency}) : {b:6.2f} s  {args.rows / b:12,.0f} rows/s")
    print(f"ratio bulkload/psql = {b / p:.2f}   (target <= 1.00)")
    print("\nbulkload by concurrency (connections):")
    for concurrency in (1, 2, 4, 8):
        seconds = bulkload(concurrency)
        print(f"  c={concurrency}: {seconds:6.2f} s  {args.rows / seconds:12,.0f} rows/s")
    subprocess.run(
        psql(args.dsn, "-c", "DROP TABLE bench_psql; DROP TABLE bench_bulkload"), check=True
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
