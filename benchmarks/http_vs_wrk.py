"""Requests/s and client CPU per request of ``bulkload bench`` against wrk (and hey), 1-row
batches, N in flight, on one nginx, in alternating rounds.

    python benchmarks/http_vs_wrk.py [--rounds 5] [--seconds 5] [--in-flight 50]
                                     [--processes auto,1]

Starts nginx on 127.0.0.1 answering 204 (as ``http_throughput.py`` does), then runs, in
turn in every round: ``wrk -t1 -cN`` posting the body bulkload sends for one of its
synthetic rows; ``hey -c N`` with the same body, when hey is installed (``apt-get install
hey``); and ``bulkload bench --to URL --sweep N --batch-size 1`` once per ``--processes``
value (``auto``: the default, a probe decides). A busy neighbour then slows every side
alike. Printed per client: requests/s (median, min-max over the rounds), the median of
the per-round ratios to wrk's requests/s, and the client's CPU (user + sys) per request:

* wrk, hey: the whole process (``wait4``), over the requests it made;
* bulkload, one process: its measured window (the level's CPU over its requests);
* bulkload, every ``--processes`` value: the whole process tree (``wait4``: start-up,
  warm-up and the probe of ``auto`` included) over every request it sent.

The load average is printed with each round: on a shared machine the wall-clock ratios
move with it, the CPU per request much less. Goal (issue #26): >= 0.7x wrk's requests/s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_throughput import SYNTHETIC, ensure_tools, start_nginx

from bulkload.backends.http import HttpBackend
from bulkload.config import TargetOptions
from bulkload.sources.synthetic import parse_synthetic, synthetic_batches

GOAL = 0.7


def body_of(url: str) -> bytes:
    """The request body bench sends for one of its synthetic rows."""
    batch = next(synthetic_batches(parse_synthetic(SYNTHETIC), 1))
    return HttpBackend(url, TargetOptions(url=url)).encode(batch).body


def run_timed(command: list[str], **kwargs: object) -> tuple[str, float]:
    """stdout, and the CPU seconds (user + sys) of the process and its waited children."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, **kwargs)  # type: ignore[call-overload]
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(command)}\n{out}")
    return out, usage.ru_utime + usage.ru_stime


def wrk(url: str, script: Path, seconds: float, in_flight: int) -> tuple[float, float]:
    """Requests/s and CPU µs per request."""
    out, cpu = run_timed(
        ["wrk", "-t1", f"-c{in_flight}", f"-d{seconds:g}s", "-s", str(script), url]
    )
    rate = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    count = re.search(r"(\d+) requests in", out)
    if not rate or not count:
        raise SystemExit(f"cannot read wrk's output:\n{out}")
    return float(rate.group(1)), 1e6 * cpu / int(count.group(1))


def hey(url: str, body: Path, seconds: float, in_flight: int) -> tuple[float, float]:
    out, cpu = run_timed(
        [
            *("hey", "-z", f"{seconds:g}s", "-c", str(in_flight), "-m", "POST"),
            *("-D", str(body), "-T", "application/x-ndjson", url),
        ]
    )
    rate = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    answers = sum(int(n) for n in re.findall(r"\[\d+\]\s+(\d+) responses", out))
    if not rate or not answers:
        raise SystemExit(f"cannot read hey's output:\n{out}")
    return float(rate.group(1)), 1e6 * cpu / answers


def bench(
    url: str, seconds: float, in_flight: int, processes: str, where: Path
) -> tuple[float, float | None, float]:
    """Requests/s of the level's window; CPU µs per request of the window (one process,
    else None) and of the whole process tree over every request sent."""
    summary = where / "bench.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULKLOAD_")}
    _, cpu = run_timed(
        [
            *(sys.executable, "-m", "bulkload", "bench", "--to", url, "--table", "t"),
            *("--synthetic", SYNTHETIC, "--batch-size", "1", "--sweep", str(in_flight)),
            *("--duration", f"{seconds:g}s", "--warmup", "1s", "--json", str(summary), "-q"),
            *(("--processes", processes) if processes != "auto" else ()),
        ],
        cwd=where,
        env=env,
        stderr=subprocess.DEVNULL,
    )
    level = json.loads(summary.read_text())["levels"][0]
    rate = level["batches"] / level["elapsed_s"]
    window = None
    if processes == "1":
        window = 1e6 * level["cpu_process"] * level["elapsed_s"] / level["batches"]
    return rate, window, 1e6 * cpu / level["rows_written"]


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def spread(values: list[float], fmt: str = ",.0f") -> str:
    return f"{statistics.median(values):{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument(
        "--processes", default="auto,1", help="bench's --processes values, comma-separated"
    )
    args = parser.parse_args()
    ensure_tools()
    settings = args.processes.split(",")
    with tempfile.TemporaryDirectory(prefix="bulkload-wrk-") as tmp:
        where = Path(tmp)
        nginx, port = start_nginx(where)
        url = f"http://127.0.0.1:{port}/"
        body = body_of(url)
        body_file = where / "request-body.ndjson"  # (where/body is nginx's)
        body_file.write_bytes(body)
        script = where / "post.lua"
        script.write_text(
            f'wrk.method = "POST"\nwrk.body = {json.dumps(body.decode())}\n'
            'wrk.headers["Content-Type"] = "application/x-ndjson"\n'
        )
        clients = ["wrk", *(["hey"] if shutil.which("hey") else [])]
        clients += [f"bulkload --processes {p}" for p in settings]
        rates: dict[str, list[float]] = {c: [] for c in clients}
        cpu: dict[str, list[float]] = {c: [] for c in clients}
        window_cpu: list[float] = []
        ratios: dict[str, list[float]] = {c: [] for c in clients}
        print(
            f"nginx on {url} (return 204), {args.in_flight} in flight, 1-row bodies of "
            f"{len(body)} bytes, {args.rounds} rounds of {args.seconds:g} s"
        )
        try:
            for round_ in range(1, args.rounds + 1):
                print(f"round {round_} (load average {load()}):", end="", flush=True)
                wrk_rate, wrk_cpu = wrk(url, script, args.seconds, args.in_flight)
                rates["wrk"].append(wrk_rate)
                cpu["wrk"].append(wrk_cpu)
                if "hey" in rates:
                    rate, per = hey(url, body_file, args.seconds, args.in_flight)
                    rates["hey"].append(rate)
                    cpu["hey"].append(per)
                for processes in settings:
                    name = f"bulkload --processes {processes}"
                    rate, window, per = bench(url, args.seconds, args.in_flight, processes, where)
                    rates[name].append(rate)
                    cpu[name].append(per)
                    if window is not None:
                        window_cpu.append(window)
                for name in clients:
                    ratios[name].append(rates[name][-1] / wrk_rate)
                print(
                    " ".join(
                        f"{name.split(' --processes ')[-1]}={rates[name][-1]:,.0f}/s"
                        for name in clients
                    )
                )
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)
    print(f"\nload average at the end: {load()}")
    print(f"{'client':<28}{'requests/s, median (min-max)':>34}{'x wrk':>20}{'CPU us/request':>26}")
    for name in clients:
        ratio = "" if name == "wrk" else spread(ratios[name], ".2f")
        print(f"{name:<28}{spread(rates[name]):>34}{ratio:>20}{spread(cpu[name], '.1f'):>26}")
    if window_cpu:
        print(
            f"bulkload --processes 1, CPU us/request in its measured window: "
            f"{spread(window_cpu, '.1f')}"
        )
    print(
        "(CPU of wrk and hey: the whole process; of bulkload: the whole process tree, "
        "start-up and warm-up included, over every request sent)"
    )
    for name in clients[1:]:
        if name.startswith("bulkload"):
            met = "met" if statistics.median(ratios[name]) >= GOAL else "NOT met"
            print(f"goal >= {GOAL}x wrk, {name}: {statistics.median(ratios[name]):.2f}x, {met}")


if __name__ == "__main__":
    main()
