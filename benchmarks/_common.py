"""Helpers shared by the benchmark scripts: timing commands and measuring peak RSS."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BULKLOAD = [sys.executable, "-m", "bulkload"]


def generate_csv(rows: int, path: Path) -> Path:
    """The generated mixed-type order data, cached between runs of the same size."""
    if not path.exists():
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "sample-data" / "generate.py"),
                "--rows",
                str(rows),
                "--out",
                str(path.with_suffix("")),
                "--csv-only",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return path


def timed(command: list[str], **kwargs: object) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one command run to completion."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, **kwargs)  # type: ignore[call-overload]
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"benchmark command failed: {' '.join(command)}")
    return elapsed, usage.ru_maxrss * 1024


def median(values: list[float]) -> float:
    return statistics.median(values)


def clean(*paths: Path) -> None:
    for path in paths:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(path) + suffix).unlink(missing_ok=True)


__all__ = ["BULKLOAD", "ROOT", "clean", "generate_csv", "median", "resource", "timed"]
