"""bulkload bench --query vs pgbench -S (select-only, prepared), queries/s per level.

    python benchmarks/query_vs_pgbench.py [--dsn postgresql://postgres@127.0.0.1:5432/test]
                                          [--levels 1,4,16,64] [--seconds 10] [--rounds 1]

A throwaway database (``--database``, default ``bulkload_pgbench``, dropped at the end
unless ``--keep``) on the server of ``--dsn`` is initialised with ``pgbench -i -s 10``
(1,000,000 accounts). At each level C, ``pgbench -S -M prepared -c C -j 2 -T S`` and
``bulkload bench --query 'SELECT abalance FROM pgbench_accounts WHERE aid = :aid' --params-synthetic
'aid=uniform(1,1000000)' --sweep C --duration S`` run one after the other, in alternating
order, ``--rounds`` times; the medians and their ratio are printed. Goal: bulkload >=
0.8x pgbench at every level. As pgbench runs two client threads (-j 2), bulkload runs
two processes (``--processes``, default 2) at levels of 2 and more.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BULKLOAD, median

DATABASE = "bulkload_pgbench"
QUERY = "SELECT abalance FROM pgbench_accounts WHERE aid = :aid"
GOAL = 0.8


def with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


def psql(dsn: str, sql: str) -> None:
    subprocess.run(["psql", "-X", "-q", "-d", dsn, "-c", sql], check=True)


def pgbench_qps(dsn: str, clients: int, seconds: int) -> float:
    out = subprocess.run(
        ["pgbench", "-S", "-M", "prepared", "-n", "-c", str(clients), "-j", "2",
         "-T", str(seconds), dsn],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    found = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    if found is None:
        found = re.search(r"tps = ([\d.]+)", out)
    assert found, out
    return float(found.group(1))


def bulkload_qps(dsn: str, clients: int, seconds: int, processes: int) -> tuple[float, float]:
    """queries/s and rows returned/s of the level."""
    with tempfile.TemporaryDirectory() as work:
        saved = Path(work) / "run.json"
        subprocess.run(
            [*BULKLOAD, "bench", "--to", dsn, "--query", QUERY,
             "--params-synthetic", "aid=uniform(1,1000000)", "--sweep", str(clients),
             "--warmup", "1s", "--duration", f"{seconds}s", "--processes", str(processes),
             "--progress", "off", "--quiet", "--json", str(saved)],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        (level,) = json.loads(saved.read_text())["levels"]
        return float(level["batches_per_s"]), float(level["rows_per_s"])


def mixed_sanity(dsn: str, seconds: int) -> None:
    """``--mix write=1,read=3`` at c=8: the total and each operation's rate."""
    with tempfile.TemporaryDirectory() as work:
        saved = Path(work) / "run.json"
        subprocess.run(
            [*BULKLOAD, "bench", "--to", dsn, "--synthetic", "rows=1000000,columns=4",
             "--table", "bulkload_mixed", "--if-exists", "replace", "--batch-size", "100",
             "--query", f"name=read:{QUERY}", "--params-synthetic", "aid=uniform(1,1000000)",
             "--mix", "write=1,read=3", "--sweep", "8", "--warmup", "1s",
             "--duration", f"{seconds}s", "--processes", "1", "--progress", "off", "--quiet",
             "--json", str(saved)],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        (level,) = json.loads(saved.read_text())["levels"]
    print(f"mixed write=1,read=3 at c=8: {level['batches_per_s']:,.0f} ops/s in total")
    for name, operation in sorted(level["operations"].items()):
        print(
            f"  {name:>6}: {operation['per_s']:>9,.0f}/s  {operation['rows_per_s']:>10,.0f} rows/s"
            f"  p99 {operation['latency_ms']['p99']:.2f} ms  errors {operation['errors']}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--levels", default="1,4,16,64")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--processes", type=int, default=2,
        help="bulkload processes at levels of 2 and more (pgbench runs -j 2 threads)",
    )  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the pgbench database")
    parser.add_argument(
        "--database", default=DATABASE,
        help="the throwaway database's name (two runs on one server need two names)",
    )  # fmt: skip
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]
    database = args.database
    target = with_database(args.dsn, database)
    psql(args.dsn, f"DROP DATABASE IF EXISTS {database}")
    psql(args.dsn, f"CREATE DATABASE {database}")
    try:
        subprocess.run(["pgbench", "-i", "-s", "10", "-q", target], check=True,
                       capture_output=True)  # fmt: skip
        print(f"pgbench -S -M prepared -j 2 vs bulkload bench --query, {args.seconds} s a run")
        print(f"{'C':>4} {'pgbench q/s':>12} {'bulkload q/s':>13} {'rows/s':>10} {'ratio':>6}")
        worst = float("inf")
        for clients in levels:
            ours: list[float] = []
            theirs: list[float] = []
            rows: list[float] = []
            for round_ in range(args.rounds):
                runs = (
                    ["pgbench", "bulkload"] if (round_ + clients) % 2 else ["bulkload", "pgbench"]
                )
                for which in runs:
                    if which == "pgbench":
                        theirs.append(pgbench_qps(target, clients, args.seconds))
                    else:
                        processes = min(args.processes, clients)
                        qps, returned = bulkload_qps(target, clients, args.seconds, processes)
                        ours.append(qps)
                        rows.append(returned)
            ratio = median(ours) / median(theirs)
            worst = min(worst, ratio)
            mark = "" if ratio >= GOAL else "  < goal"
            print(
                f"{clients:>4} {median(theirs):>12,.0f} {median(ours):>13,.0f} "
                f"{median(rows):>10,.0f} {ratio:>5.2f}x{mark}",
                flush=True,
            )
        print(f"lowest ratio {worst:.2f}x (goal >= {GOAL}x at every level)")
        mixed_sanity(target, args.seconds)
    finally:
        if not args.keep:
            psql(args.dsn, f"DROP DATABASE IF EXISTS {database}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
