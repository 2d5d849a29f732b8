"""Soak: a long bench level keeps constant memory while its timeline grows.

Runs one open-model level against ``sim://`` for ``--minutes`` (default 10) with a 1 s
timeline, samples the bulkload process's RSS every 10 s from /proc, and prints the
series and the growth from the end of minute 1 to the end: a timeline that kept live
histograms per interval (~180 KB each) grew by ~100 MB in 10 minutes; encoded, the
intervals cost a few hundred bytes each.

    .venv/bin/python benchmarks/soak_rss.py [--minutes 10] [--rate 200]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from _common import BULKLOAD


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=200.0)
    args = parser.parse_args()
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory() as scratch:
        result = Path(scratch) / "soak.json"
        command = [
            *BULKLOAD, "bench", "--to", "sim://?latency=5ms&jitter=2ms&seed=1",
            "--synthetic", "rows=100000,columns=4", "--batch-size", "100",
            "--sweep-rate", f"{args.rate:g}", "--warmup", "0", "--duration", f"{seconds:g}s",
            "--processes", "1", "--json", str(result), "-q",
        ]  # fmt: skip
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        samples: list[tuple[float, float]] = []
        started = time.monotonic()
        while process.poll() is None:
            time.sleep(10)
            if (mb := rss_mb(process.pid)) is not None:
                samples.append((time.monotonic() - started, mb))
                print(f"{samples[-1][0]:7.0f} s  RSS {mb:7.1f} MB", flush=True)
        assert process.returncode == 0, process.returncode
        text = result.read_text()
    after_a_minute = next(mb for t, mb in samples if t >= 60)
    last = samples[-1][1]
    print(f"intervals in the timeline: {text.count('latency_hdr') - 3}")
    print(f"RSS after 1 min {after_a_minute:.1f} MB, at the end {last:.1f} MB: "
          f"{last - after_a_minute:+.1f} MB over {args.minutes - 1:g} min")  # fmt: skip


if __name__ == "__main__":
    main()
