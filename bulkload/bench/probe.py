"""What the ``--processes auto`` probe measures, and the meter it reads: the event
loop's thread on a core, or waiting for one. Below the sweep, which runs the probe
level; the decision on top of it is :mod:`bulkload.bench.auto_processes`."""

from __future__ import annotations

import time
from dataclasses import dataclass

#: targets reached over the network: the only ones a second process may drive
NETWORK_SCHEMES = frozenset({"http", "https", "postgresql", "postgres", "mysql", "mariadb"})


@dataclass(frozen=True)
class Probe:
    """What the probe measured on the event loop's thread."""

    level: str  # e.g. "c=256 batch 1" or "400/s (cap 64) batch 1"
    seconds: float  # wall time of the probe
    busy: float  # share of it on a core (thread CPU time / wall time)
    runnable: float | None  # on a core or waiting for one; None where it cannot be read
    writes_per_s: float
    error: str | None = None  # the probe level failed: nothing to decide on

    @property
    def demand(self) -> float:
        """How much of the time the loop wanted a core: what the decision looks at."""
        return self.busy if self.runnable is None else max(self.busy, self.runnable)


class ThreadClock:
    """The calling thread's time on a core and waiting for one, since it was made."""

    _SCHEDSTAT = "/proc/thread-self/schedstat"  # ns on a core, ns in the run queue, slices

    def __init__(self) -> None:
        self._wall = time.perf_counter()
        self._cpu = time.thread_time()
        self._sched = self._read()

    def _read(self) -> tuple[int, int] | None:
        try:
            with open(self._SCHEDSTAT, encoding="ascii") as stat:
                ran, waited = stat.read().split()[:2]
            return int(ran), int(waited)
        except (OSError, ValueError):
            return None

    def shares(self) -> tuple[float, float, float | None]:
        """(wall seconds, share on a core, share on a core or waiting for one)."""
        wall = time.perf_counter() - self._wall
        if wall <= 0:
            return 0.0, 0.0, None
        busy = (time.thread_time() - self._cpu) / wall
        now, then = self._read(), self._sched
        if now is None or then is None or now[0] == then[0]:  # not kept by this kernel
            return wall, busy, None
        runnable = (now[0] - then[0] + now[1] - then[1]) / 1e9 / wall
        return wall, busy, min(runnable, 1.0)
