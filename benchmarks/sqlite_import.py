"""bulkload import into SQLite vs the sqlite3 shell's .import, in one run.

    python benchmarks/sqlite_import.py [--rows 1000000] [--repeat 7] [--rss-rows 5000000]

Both load the same generated mixed-type CSV into a fresh database file, alternating,
``--repeat`` rounds; the median of the per-round ratios is reported with its min-max.
The shell loads untyped text; bulkload infers and converts types, parsing on one core
while the writer thread inserts on the other. Target: bulkload <= 0.5x the shell's time.
The machine's load average is printed beside the figures, and each side's CPU time
(user + sys): on a busy machine it moves less with the neighbours than wall time does.

Then bulkload's peak RSS is measured at 1M and --rss-rows rows: it must stay under
400 MB and not grow with the input (streaming, constant memory).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    BULKLOAD,
    alternate,
    clean,
    generate_csv,
    median,
    ratio_line,
    ratios,
    resource,
    spread,
    timed,
)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--rss-rows", type=int, default=5_000_000)
    parser.add_argument("--workdir", default=tempfile.gettempdir())
    args = parser.parse_args()
    sqlite3 = shutil.which("sqlite3")
    if sqlite3 is None:
        print("sqlite3 command-line shell not found (apt-get install sqlite3)", file=sys.stderr)
        return 2

    work = Path(args.workdir)
    csv = generate_csv(args.rows, work / f"bulkload-bench-{args.rows}.csv")
    db_shell, db_bulk = work / "bench-shell.db", work / "bench-bulkload.db"

    cpu: dict[str, list[float]] = {"sqlite3": [], "bulkload": []}

    def cpu_seconds() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    def shell() -> float:
        clean(db_shell)
        before = cpu_seconds()
        seconds, _ = timed([sqlite3, str(db_shell), ".mode csv", f".import {csv} orders"])
        cpu["sqlite3"].append(cpu_seconds() - before)
        return seconds

    def bulkload() -> float:
        clean(db_bulk)
        command = [*BULKLOAD, "import", str(csv), "--to", f"sqlite:///{db_bulk}"]
        before = cpu_seconds()
        seconds, _ = timed([*command, "--table", "orders", "--quiet"])
        cpu["bulkload"].append(cpu_seconds() - before)
        return seconds

    times = alternate({"sqlite3": shell, "bulkload": bulkload}, args.repeat)
    s, b = times["sqlite3"], times["bulkload"]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"rows: {args.rows:,}   rounds: {args.repeat}   (median wall time, min-max)")
    print(f"load average after the rounds: {load}")
    print(f"sqlite3 .import : {spread(s)}   {args.rows / median(s):12,.0f} rows/s")
    print(f"bulkload import : {spread(b)}   {args.rows / median(b):12,.0f} rows/s")
    print(ratio_line("bulkload/sqlite3", ratios(b, s), 0.5))
    print(f"CPU (user + sys) sqlite3 .import : {spread(cpu['sqlite3'])}")
    print(f"CPU (user + sys) bulkload import : {spread(cpu['bulkload'])}")
    cpu_ratios = ratios(cpu["bulkload"], cpu["sqlite3"])
    print(f"CPU bulkload/sqlite3 = {median(cpu_ratios):.2f} (no target: two threads vs one)")

    print("\npeak RSS of bulkload import (must stay < 400 MB and flat):")
    for rows in sorted({args.rows, args.rss_rows} - {0}):  # --rss-rows 0: 1M rows only
        source = generate_csv(rows, work / f"bulkload-bench-{rows}.csv")
        clean(db_bulk)
        seconds, rss = timed(
            [
                *BULKLOAD,
                "import",
                str(source),
                "--to",
                f"sqlite:///{db_bulk}",
                "--table",
                "o",
                "--quiet",
            ]
        )
        print(f"  {rows:>11,} rows: {rss / 1e6:7.1f} MB   ({seconds:.1f} s)")
    clean(db_shell, db_bulk)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
