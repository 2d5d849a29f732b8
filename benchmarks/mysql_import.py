"""bulkload import into MySQL/MariaDB vs the server's own client loading the same file
(``mariadb --local-infile=1 -e "LOAD DATA LOCAL INFILE ..."``), in one run.

    python benchmarks/mysql_import.py [--rows 1000000] [--repeat 5] [--concurrency 4]
                                      [--url mysql://user:pw@host:port/db --socket PATH]

Without ``--url`` a throwaway MariaDB is started (the test suite's: mariadb-install-db
into a temporary directory, mariadbd on a free port); a server the machine runs is never
used unless named. Both load the same generated mixed-type CSV into an empty InnoDB
table of the same columns, alternating, ``--repeat`` rounds; the median of the
per-round ratios is reported with its min-max, and bulkload's peak RSS. Target:
bulkload <= 0.9x the client's time (several LOAD DATA streams against one).

Both sides reach the server the same way: with ``--socket`` (set for the server it
starts) bulkload connects through that socket too (``?unix_socket=``), as the client
does. For a server it starts, the server's own CPU time (user + system, from
``/proc/PID/stat``) during each side's load is printed as well: on one machine the
client's CPU is taken from the server.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    BULKLOAD,
    ROOT,
    alternate,
    generate_csv,
    median,
    ratio_line,
    ratios,
    spread,
    timed_cpu,
)

COLUMNS = (
    "order_id BIGINT, customer LONGTEXT, product LONGTEXT, quantity BIGINT, unit_price DOUBLE,"
    " paid BOOLEAN, order_date DATE, created_at DATETIME(6), note LONGTEXT"
)


def client(url: str, socket: str | None, *args: str) -> list[str]:
    parts = urlsplit(url)
    where = [f"--socket={socket}"] if socket else [f"-h{parts.hostname}", f"-P{parts.port or 3306}"]
    return [
        shutil.which("mariadb") or "mysql",
        "--no-defaults",
        *where,
        f"-u{unquote(parts.username or 'root')}",
        f"-p{unquote(parts.password or '')}",
        parts.path.lstrip("/"),
        *args,
    ]


def reset(url: str, socket: str | None, table: str) -> None:
    statement = (
        f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} ({COLUMNS}) "
        "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
    )
    subprocess.run(client(url, socket, "-e", statement), check=True)


def server_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) the server process has used so far; 0 if unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", help="mysql://user:password@host:port/db (default: start one)")
    parser.add_argument("--socket", help="the server's socket, for its client")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    server = None
    url, socket = args.url, args.socket
    if url is None:
        sys.path.insert(0, str(ROOT))
        from tests.servers.mariadb import start_mariadb

        server = start_mariadb(Path(tempfile.mkdtemp(prefix="bulkload-mariadb-")))
        if server is None:
            print("no MariaDB binaries (apt-get install mariadb-server)", file=sys.stderr)
            return 2
        url, socket = server.url(), str(server.socket)
    pid = server.proc.pid if server is not None and server.proc is not None else None
    # the client's transport for bulkload as well
    target = f"{url}{'&' if '?' in url else '?'}unix_socket={socket}" if socket else url
    csv = generate_csv(args.rows, Path(tempfile.gettempdir()) / f"bulkload-bench-{args.rows}.csv")
    rss: list[int] = []
    cpu: dict[str, list[float]] = {"client": [], "bulkload": []}
    served: dict[str, list[float]] = {"client": [], "bulkload": []}

    def measured(name: str, command: list[str]) -> tuple[float, int]:
        before = server_cpu(pid)
        seconds, peak, used = timed_cpu(command)
        cpu[name].append(used)
        served[name].append(server_cpu(pid) - before)
        return seconds, peak

    def bulkload() -> float:
        reset(url, socket, "bench_bulkload")
        command = [*BULKLOAD, "import", str(csv), "--to", target, "--table", "bench_bulkload",
                   "--concurrency", str(args.concurrency), "--quiet"]  # fmt: skip
        seconds, peak = measured("bulkload", command)
        rss.append(peak)
        return seconds

    def load_data() -> float:
        reset(url, socket, "bench_client")
        statement = (
            f"LOAD DATA LOCAL INFILE '{csv}' INTO TABLE bench_client CHARACTER SET utf8mb4 "
            "FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '' "
            "LINES TERMINATED BY '\\n' IGNORE 1 LINES "
            "(order_id, customer, product, quantity, unit_price, @paid, order_date, "
            "created_at, note) SET paid = (@paid = 'true')"
        )
        seconds, _ = measured("client", client(url, socket, "--local-infile=1", "-e", statement))
        return seconds

    try:
        times = alternate({"client": load_data, "bulkload": bulkload}, args.repeat)
        c, b = times["client"], times["bulkload"]
        print(f"rows: {args.rows:,}   rounds: {args.repeat}   (median wall time, min-max)")
        print(f"mariadb LOAD DATA LOCAL : {spread(c)}  {args.rows / median(c):12,.0f} rows/s")
        label = f"bulkload import (c={args.concurrency})"
        print(f"{label:24}: {spread(b)}  {args.rows / median(b):12,.0f} rows/s")
        print(f"bulkload peak RSS: {max(rss) / 2**20:.0f} MB (target: under 400 MB)")
        for name, used in cpu.items():  # the process's own CPU, not the server's
            print(f"CPU of the {name} process: {spread(used)} (user + system, median, min-max)")
        if pid is not None:
            for name, used in served.items():
                print(f"CPU of the server while {name} loads: {spread(used)}")
        print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        print(ratio_line("bulkload/client", ratios(b, c), 0.9))
        subprocess.run(
            client(url, socket, "-e", "DROP TABLE bench_client; DROP TABLE bench_bulkload"),
            check=True,
        )
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
