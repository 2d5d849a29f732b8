"""HTTP client throughput: bulkload's HTTP backend against wrk, on one nginx.

    python benchmarks/http_throughput.py [--seconds 5] [--in-flight 50] [--processes 2]

Starts nginx on 127.0.0.1 (a free port, a config of its own in a temp dir, answering
``return 204``; installs ``nginx`` and ``wrk`` with apt-get when missing and run as
root), then measures, for 1-row batches (~200-byte bodies) and 64 KB NDJSON batches:

* wrk -t1 -cN            - the C load generator: what the server and loopback allow;
* bulkload h1            - the HTTP backend's default client (asyncio protocols parsed by
                           httptools), each write through the engine's BatchWriter
                           (throttle, breaker, timeout, retry and latency accounting)
                           with pre-encoded payloads, N writes in flight; also on the
                           plain asyncio loop;
* bulkload curl          - the same through the libcurl multi handle (--http-client curl);
* bulkload httpx         - the same through httpx, for comparison;
* bulkload bench CLI     - ``bulkload bench --to http://127.0.0.1:PORT/ --sweep N
                           --batch-size 1`` on synthetic rows, end to end, as a user
                           runs it: ``--processes`` left to its default, auto (a probe
                           decides whether one event loop is the limit; its decision
                           printed); then with ``--processes 1`` (one event loop; also
                           through curl, and on the plain asyncio loop with
                           ``BULKLOAD_EVENT_LOOP=asyncio``) and ``--processes P`` (N in
                           flight shared by P processes, their levels started together
                           and merged). For 64 KB: as many rows as make a 64 KB body,
                           the default and ``--processes 1``.

It prints requests/s and MB/s of each and the ratios to wrk (of requests/s for 1-row
batches, of MB/s for 64 KB ones). Goals: >= 0.5x wrk's
requests/s with 1-row batches, >= 0.6x wrk's MB/s with 64 KB batches. The event loop is
uvloop when installed, as for the CLI (bulkload.event_loop).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from bulkload import event_loop
from bulkload.backends.base import TableSpec
from bulkload.backends.http import HttpBackend
from bulkload.backends.http_options import HttpOptions
from bulkload.config import EngineOptions, TargetOptions
from bulkload.engine.batch_writer import BatchWriter
from bulkload.sources.synthetic import parse_synthetic, synthetic_batches
from bulkload.stats import RunStats

NGINX_CONF = """
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    client_max_body_size 16m;
    client_body_buffer_size 128k;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 204; }}
    }}
}}
"""


def ensure_tools() -> None:
    missing = [tool for tool in ("nginx", "wrk") if not shutil.which(tool)]
    if not missing:
        return
    if os.geteuid() != 0:
        raise SystemExit(f"install {' '.join(missing)} first (apt-get install nginx wrk)")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "-qq", "nginx", "wrk"], check=True, env=env)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_nginx(where: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    conf = where / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=where, port=port))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(where)])
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"nginx did not start; see {where}/error.log")


def wrk(url: str, body: bytes, seconds: float, in_flight: int, where: Path) -> float:
    script = where / "post.lua"
    script.write_text(
        f'wrk.method = "POST"\nwrk.body = {json.dumps(body.decode())}\n'
        'wrk.headers["Content-Type"] = "application/x-ndjson"\n'
    )
    out = subprocess.run(
        ["wrk", "-t1", f"-c{in_flight}", f"-d{seconds:g}s", "-s", str(script), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    if not match:
        raise SystemExit(f"cannot read wrk's output:\n{out}")
    return float(match.group(1))


def batch_of(target_bytes: int) -> pa.RecordBatch:
    """Rows of ~200 bytes of NDJSON each, enough to reach ``target_bytes``."""
    rows = max(1, target_bytes // 200)
    return pa.record_batch(
        {
            "id": list(range(rows)),
            "event": ["page_view"] * rows,
            "user": [f"user-{i:08d}" for i in range(rows)],
            "payload": ["x" * 120] * rows,
        }
    )


async def bulkload_rate(
    url: str, client: str, batch: pa.RecordBatch, seconds: float, in_flight: int
) -> tuple[float, int]:
    """Requests/s through the engine's writer, N in flight, and the body size."""
    backend = HttpBackend(url, TargetOptions(backends={"http": HttpOptions(http_client=client)}))
    await backend.open(TableSpec("bench", batch.schema, writers=in_flight))
    payload = backend.encode(batch)
    options = EngineOptions(concurrency=in_flight, timeout=30)
    writer = BatchWriter(backend, options, RunStats())
    done = 0
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < stop_at:
            error = await writer.write_with_retries(payload, batch, None)
            if error is not None:
                raise error
            done += 1

    started = time.perf_counter()
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(in_flight):
                group.create_task(worker())
    finally:
        await backend.close()
    return done / (time.perf_counter() - started), len(payload.body)


def bench_cli_rate(
    url: str,
    client: str,
    seconds: float,
    in_flight: int,
    where: Path,
    processes: int | None = None,
    loop: str = "auto",
    batch_size: int = 1,
) -> tuple[float, int]:
    """Requests/s and bytes per request of ``bulkload bench`` itself (synthetic batches of
    ``batch_size`` rows), as a user runs it: ``processes`` None leaves ``--processes`` to
    its default (auto: a probe decides), else gives it (the merged level's rate); ``loop``:
    the ``BULKLOAD_EVENT_LOOP`` it runs with."""
    summary = where / "bench.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULKLOAD_")}
    subprocess.run(
        [
            *(sys.executable, "-m", "bulkload", "bench", "--to", url, "--table", "t"),
            *("--synthetic", SYNTHETIC, "--batch-size", str(batch_size)),
            *("--sweep", str(in_flight), "--duration", f"{seconds:g}s", "--warmup", "1s"),
            *("--http-client", client, "--json", str(summary), "-q"),
            *(("--processes", str(processes)) if processes is not None else ()),
        ],
        check=True,
        capture_output=True,
        cwd=where,
        timeout=300,
        env={**env, event_loop.ENV_VAR: loop},
    )
    document = json.loads(summary.read_text())
    level = document["levels"][0]
    decision = document.get("processes_decision")
    if decision and decision.get("probe"):  # --processes auto: what it chose, and why
        print(f"  (--processes auto: {decision['reason']})")
    if document.get("processes"):  # how well the processes' windows overlapped
        overlap = document["processes"]["window_overlap"][0]
        count = document["processes"]["count"]
        print(f"  ({count} processes: the windows overlapped {overlap:.1%})")
    return float(level["batches"] / level["elapsed_s"]), cli_body_size(url, batch_size)


SYNTHETIC = "rows=1000000,columns=4,seed=1"


def cli_body_size(url: str, batch_size: int) -> int:
    """Bytes of the request body the bench CLI sends for a batch of its synthetic rows
    (the level's ``bytes`` counts the rows' Arrow bytes, not the NDJSON on the wire)."""
    batch = next(synthetic_batches(parse_synthetic(SYNTHETIC), batch_size))
    return len(HttpBackend(url, TargetOptions(url=url)).encode(batch).body)


def rows_for_body(url: str, body_bytes: int) -> int:
    """How many of the CLI's synthetic rows make a request body of ``body_bytes``."""
    per_row = cli_body_size(url, 1000) / 1000
    return max(1, round(body_bytes / per_row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument(
        "--processes", type=int, default=2, help="also the bench CLI with --processes P (1: not)"
    )
    args = parser.parse_args()
    ensure_tools()
    loop_name = event_loop.loop_name()
    with tempfile.TemporaryDirectory(prefix="bulkload-nginx-") as tmp:
        where = Path(tmp)
        nginx, port = start_nginx(where)
        url = f"http://127.0.0.1:{port}/"
        try:
            print(f"nginx on {url} (return 204), {args.in_flight} in flight, loop: {loop_name}")
            for label, size in (("1-row batches", 1), ("64 KB batches", 64 * 1024)):
                batch = batch_of(size)
                probe = HttpBackend(url, TargetOptions(url=url)).encode(batch).body
                # wrk before and after, the better one kept: on a shared machine the
                # ratios are then conservative, not flattered by a busy moment of wrk's
                wrk_rates = [wrk(url, probe, args.seconds, args.in_flight, where)]
                results = {}
                for client in ("h1", "curl", "httpx"):
                    results[client] = event_loop.run(
                        bulkload_rate(url, client, batch, args.seconds, args.in_flight)
                    )
                results["h1, asyncio loop"] = asyncio.run(  # the standard library's loop
                    bulkload_rate(url, "h1", batch, args.seconds, args.in_flight)
                )
                if size == 1:  # the CLI, end to end (synthetic rows, its own encoding)
                    # as a user runs it: --processes left to its default, auto
                    results["bench CLI (default: --processes auto)"] = bench_cli_rate(
                        url, "h1", args.seconds, args.in_flight, where
                    )
                    for client in ("h1", "curl"):
                        results[f"bench CLI, {client}, --processes 1"] = bench_cli_rate(
                            url, client, args.seconds, args.in_flight, where, processes=1
                        )
                    results["bench CLI, h1, --processes 1, asyncio loop"] = bench_cli_rate(
                        url, "h1", args.seconds, args.in_flight, where, 1, loop="asyncio"
                    )
                    if args.processes > 1:
                        results[f"bench CLI, h1, --processes {args.processes}"] = bench_cli_rate(
                            url, "h1", args.seconds, args.in_flight, where, args.processes
                        )
                else:  # as many of the CLI's synthetic rows as make the same body size
                    rows = rows_for_body(url, results["h1"][1])
                    results["bench CLI (default: --processes auto)"] = bench_cli_rate(
                        url, "h1", args.seconds, args.in_flight, where, batch_size=rows
                    )
                    results["bench CLI, h1, --processes 1"] = bench_cli_rate(
                        url, "h1", args.seconds, args.in_flight, where, 1, batch_size=rows
                    )
                body_size = results["h1"][1]
                wrk_bytes_s = max(wrk_rates) * body_size
                wrk_rates.append(wrk(url, probe, args.seconds, args.in_flight, where))
                wrk_rate = max(wrk_rates)
                print(f"\n{label} ({body_size:,} bytes per request)")
                print(
                    f"  {'wrk -t1 (best of 2)':<52}{wrk_rate:>12,.0f} req/s "
                    f"{_mb(wrk_rate, body_size)}"
                )
                for client, (rate, size_sent) in results.items():
                    # 1-row batches: requests/s against wrk's; 64 KB: MB/s against wrk's
                    ratio = rate / wrk_rate if size == 1 else rate * size_sent / wrk_bytes_s
                    print(
                        f"  {'bulkload ' + client:<52}{rate:>12,.0f} req/s "
                        f"{_mb(rate, size_sent)}  {ratio:.2f}x wrk"
                    )
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)


def _mb(rate: float, size: int) -> str:
    return f"{rate * size / 1e6:>9,.1f} MB/s"


if __name__ == "__main__":
    main()
