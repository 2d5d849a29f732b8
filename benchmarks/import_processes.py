"""``bulkload import --processes 2`` against one process, into nginx answering 204.

    python benchmarks/import_processes.py [--rows 100000] [--in-flight 50] [--rounds 3]

Starts nginx on 127.0.0.1 (a free port, ``return 204``; see http_throughput.py), writes
a CSV of ``--rows`` rows (id, name, amount, note), then imports it with 1-row batches
(one request per row, NDJSON bodies, the default) and ``--in-flight`` writes in flight,
with ``--processes 1`` and ``--processes 2`` alternately, ``--rounds`` times each.
Prints each run's rows/s (the summary's: rows over the union of the workers' windows)
and wall time (the command end to end: interpreter start-up, preparing the target, the
children's start-up), the medians and the ratios (2 processes / 1). The machine is
shared: the ratio of the medians of alternate runs is the figure to read.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_throughput import ensure_tools, start_nginx


def write_rows(path: Path, rows: int) -> None:
    with path.open("w") as fh:
        fh.write("id,name,amount,note\n")
        for i in range(rows):
            fh.write(f"{i},name {i},{i * 7 % 1000}.25,a note of some forty characters {i}\n")


def import_once(
    url: str, data: Path, processes: int, in_flight: int, where: Path
) -> tuple[float, float]:
    """(rows/s from the summary, wall seconds of the command)."""
    summary = where / f"p{processes}.json"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "bulkload", "import", str(data), "--to", url, "--table", "t",
         "--batch-size", "1", "-c", str(in_flight), "--processes", str(processes),
         "--json", str(summary), "-q"],
        check=True, stdout=subprocess.DEVNULL, cwd=where, timeout=600,
    )  # fmt: skip
    wall = time.perf_counter() - started
    document = json.loads(summary.read_text())
    if document["rows_loaded"] != document["rows_read"]:
        raise SystemExit(f"rows lost: {document}")
    return float(document["rows_per_s"]), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ensure_tools()
    with tempfile.TemporaryDirectory(prefix="bulkload-import-processes-") as tmp:
        where = Path(tmp)
        data = where / "rows.csv"
        write_rows(data, args.rows)
        nginx, port = start_nginx(where)
        url = f"http://127.0.0.1:{port}/"
        runs: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
        try:
            print(f"nginx on {url} (return 204); {args.rows:,} rows, 1-row batches, "
                  f"{args.in_flight} in flight")  # fmt: skip
            for round_ in range(1, args.rounds + 1):
                for processes in (1, 2):
                    rate, wall = import_once(url, data, processes, args.in_flight, where)
                    runs[processes].append((rate, wall))
                    print(f"  round {round_}, --processes {processes}: {rate:>9,.0f} rows/s "
                          f"(summary)  {wall:6.2f} s wall")  # fmt: skip
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)
    rates = {p: statistics.median(r for r, _ in runs[p]) for p in runs}
    walls = {p: statistics.median(w for _, w in runs[p]) for p in runs}
    ratios = [two[0] / one[0] for one, two in zip(runs[1], runs[2], strict=True)]
    print(f"medians: 1 process {rates[1]:,.0f} rows/s ({walls[1]:.2f} s), "
          f"2 processes {rates[2]:,.0f} rows/s ({walls[2]:.2f} s)")  # fmt: skip
    print(f"ratio 2/1: {rates[2] / rates[1]:.2f}x rows/s (per round: "
          f"{', '.join(f'{r:.2f}' for r in ratios)}), {walls[1] / walls[2]:.2f}x wall")  # fmt: skip


if __name__ == "__main__":
    main()
