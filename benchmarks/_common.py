"""Helpers shared by the benchmark scripts: timing commands and measuring peak RSS."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BULKLOAD = [sys.executable, "-m", "bulkload"]


def compile_bytecode() -> None:
    """Time bulkload as installed: pip compiles a wheel's modules when it installs it.
    An editable checkout run with PYTHONDONTWRITEBYTECODE set (as on the CI machines)
    would otherwise compile the package from source in every run (~50 ms)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "bulkload")], check=True)


compile_bytecode()


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
    elapsed, peak, _ = timed_cpu(command, **kwargs)
    return elapsed, peak


def timed_cpu(command: list[str], **kwargs: object) -> tuple[float, int, float]:
    """Wall seconds, peak RSS (bytes) and CPU seconds (user + system, all threads) of one
    command run to completion (the children it waited for included). CPU time holds on a
    loaded machine; wall time does not."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, **kwargs)  # type: ignore[call-overload]
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"benchmark command failed: {' '.join(command)}")
    return elapsed, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime


def median(values: list[float]) -> float:
    return statistics.median(values)


def alternate(runs: dict[str, Callable[[], float]], pairs: int) -> dict[str, list[float]]:
    """Run each contender once per round, in turn, ``pairs`` rounds: a noisy neighbour
    then slows both sides alike, and the medians compare like with like."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(pairs):
        for name, run in runs.items():
            times[name].append(run())
    return times


def spread(values: list[float]) -> str:
    """Median with min-max: "1.23 s (1.10-1.40)"."""
    return f"{median(values):5.2f} s ({min(values):.2f}-{max(values):.2f})"


def ratios(numerators: list[float], denominators: list[float]) -> list[float]:
    """Ratio of each round's pair: both ran side by side, under the same load."""
    return [n / d for n, d in zip(numerators, denominators, strict=True)]


def ratio_line(label: str, values: list[float], target: float) -> str:
    met = "met" if median(values) <= target else "NOT met"
    return (
        f"ratio {label} = {median(values):.2f} (per-round min-max {min(values):.2f}-"
        f"{max(values):.2f}); target <= {target:.2f}: {met}"
    )


def clean(*paths: Path) -> None:
    for path in paths:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(path) + suffix).unlink(missing_ok=True)


__all__ = [
    "BULKLOAD",
    "ROOT",
    "alternate",
    "clean",
    "generate_csv",
    "median",
    "ratio_line",
    "ratios",
    "resource",
    "spread",
    "timed",
    "timed_cpu",
]
