"""Where the time of a large import goes, per thread and phase, without a profiler.

    python benchmarks/time_breakdown.py [--rows 5000000] [--to sqlite|postgresql://...]
                                        [--concurrency 4]

Runs ``bulkload import`` once on a generated mixed-type CSV with ``BULKLOAD_PHASE_TIMES``
set: each phase (read/parse, rebatch, type, encode, write, waiting for room in the queue,
the event loop) adds its thread's CPU time and wall time to a counter, written as JSON
at exit. Printed per thread: CPU and wall of each phase, and the thread's idle time
(its span minus the time spent in phases). Wall much above CPU in a phase means the
thread waited there (for the GIL, the disk or a free core); the busiest thread is the
bottleneck.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BULKLOAD, clean, generate_csv

from bulkload.phase_times import ENV_VAR


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--to", default="sqlite", help="sqlite (a temporary file) or a URL")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workdir", default=tempfile.gettempdir())
    args = parser.parse_args()
    work = Path(args.workdir)
    csv = generate_csv(args.rows, work / f"bulkload-bench-{args.rows}.csv")
    database = work / "bench-breakdown.db"
    target = f"sqlite:///{database}" if args.to == "sqlite" else args.to
    report = work / "bench-breakdown.json"
    command = [*BULKLOAD, "import", str(csv), "--to", target, "--table", "breakdown"]
    command += ["--if-exists", "replace", "--concurrency", str(args.concurrency), "--quiet"]
    clean(database)
    started = time.perf_counter()
    subprocess.run(
        command, check=True, stdout=subprocess.DEVNULL, env={**os.environ, ENV_VAR: str(report)}
    )
    elapsed = time.perf_counter() - started
    data = json.loads(report.read_text())
    clean(database)
    report.unlink()

    print(f"{args.rows:,} rows into {args.to}: {elapsed:.2f} s wall for the whole process,")
    print(f"{data['wall']:.2f} s from the first import of the package to exit, ", end="")
    print(f"{data['process_cpu']:.2f} s of CPU (all threads, start-up included)\n")
    by_thread: dict[str, list[dict[str, float]]] = defaultdict(list)
    for entry in data["phases"]:
        by_thread[entry["thread"]].append(entry)
    print(f"{'thread':<18}{'phase':<30}{'CPU s':>8}{'wall s':>9}{'calls':>8}")
    for thread, phases in by_thread.items():
        span = data["threads"][thread]
        for entry in sorted(phases, key=lambda e: -e["wall"]):
            print(
                f"{thread:<18}{entry['phase']:<30}{entry['cpu']:8.2f}{entry['wall']:9.2f}"
                f"{entry['count']:8.0f}"
            )
        in_phases = sum(e["wall"] for e in phases)
        idle = max(0.0, span["end"] - span["start"] - in_phases)
        print(f"{thread:<18}{'idle (outside any phase)':<30}{'':8}{idle:9.2f}")
        print(f"{thread:<18}{'span':<30}{'':8}{span['end'] - span['start']:9.2f}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
