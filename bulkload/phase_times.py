"""Where each thread's time goes, phase by phase (read/parse, type, encode, write, ...).

Off by default, and then a phase costs one attribute test. Set ``BULKLOAD_PHASE_TIMES``
to a file path and every phase adds its thread's CPU time (``time.thread_time``) and its
wall time to a counter keyed by (thread, phase); at exit the counters are written there
as JSON, with each thread's first and last moment seen, so a reader can tell the idle
time (wall span - CPU) of every thread. ``benchmarks/time_breakdown.py`` prints them.
A counter per phase, not a profiler: it shows the bottleneck without slowing the run.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

ENV_VAR = "BULKLOAD_PHASE_TIMES"


class PhaseTimes:
    def __init__(self) -> None:
        self.enabled = False
        self._lock = threading.Lock()
        # (thread name, phase) -> [cpu seconds, wall seconds, times entered]
        self._totals: dict[tuple[str, str], list[float]] = {}
        # thread name -> [first wall moment, last wall moment] seen in a phase
        self._spans: dict[str, list[float]] = {}
        self._started = time.perf_counter()

    def enable(self) -> None:
        self.enabled = True
        self._started = time.perf_counter()

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        cpu, wall = time.thread_time(), time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.thread_time() - cpu, wall, time.perf_counter())

    def add(self, name: str, cpu: float, started: float, ended: float) -> None:
        thread = threading.current_thread().name
        with self._lock:
            total = self._totals.setdefault((thread, name), [0.0, 0.0, 0])
            total[0] += cpu
            total[1] += ended - started
            total[2] += 1
            span = self._spans.setdefault(thread, [started, ended])
            span[0], span[1] = min(span[0], started), max(span[1], ended)

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {
                "wall": time.perf_counter() - self._started,
                "phases": [
                    {"thread": thread, "phase": phase, "cpu": t[0], "wall": t[1], "count": t[2]}
                    for (thread, phase), t in self._totals.items()
                ],
                "threads": {
                    thread: {"start": s[0] - self._started, "end": s[1] - self._started}
                    for thread, s in self._spans.items()
                },
                "process_cpu": time.process_time(),
            }


PHASES = PhaseTimes()
phase = PHASES.phase


def _write_at_exit(path: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(PHASES.snapshot(), out, indent=1)
    except OSError as exc:  # a diagnostic aid: say so, and leave the exit code alone
        print(f"bulkload: warning: {ENV_VAR}: cannot write {path}: {exc.strerror}", file=sys.stderr)


if os.environ.get(ENV_VAR):
    PHASES.enable()
    atexit.register(_write_at_exit, os.environ[ENV_VAR])
