"""Turns a run's running counters into a :class:`Timeline`, one snapshot per interval.

The engine keeps counting into its :class:`RunStats` as it always does; at each
boundary of the wall-clock grid the sampler reads them, and the difference from its
last reading (counters, and the latency histogram's slot counts) is the interval. So
the hot path pays nothing, and an interval's percentiles come from its own samples.
Runs on the event loop that updates the stats (no locking needed).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import numpy as np

from bulkload.stats.histogram import LatencyHistogram
from bulkload.stats.run import RunStats
from bulkload.stats.timeline import Interval, Timeline


@dataclass(frozen=True, slots=True)
class _Reading:
    counters: tuple[int, ...]
    slots: np.ndarray
    offered: int


class IntervalSampler:
    """Samples ``stats`` (their sum: a level's warm-up, window and drain) into
    ``timeline`` under ``tag``. ``in_flight`` gives the writes in flight now and the
    most since it was last asked; ``offered`` the sends due so far (open model);
    ``concurrency`` the writers allowed now (closed model)."""

    def __init__(
        self,
        timeline: Timeline,
        tag: str,
        stats: Sequence[RunStats],
        *,
        in_flight: Callable[[], tuple[int, int]],
        offered: Callable[[], int] | None = None,
        concurrency: Callable[[], int] | None = None,
        histogram: str = "latency_from_due",
        wall: Callable[[], float] = time.time,
    ):
        self.timeline = timeline
        self.tag = tag
        self._stats = stats
        self._in_flight = in_flight
        self._offered = offered
        self._concurrency = concurrency
        self._histogram = histogram
        self._wall = wall
        self._last = self._read()
        self._since = wall()

    def _read(self) -> _Reading:
        counters = tuple(
            sum(getattr(stats, name) for stats in self._stats)
            for name in ("rows_loaded", "batches", "bytes_read", "write_errors", "retries")
        )
        histograms: list[LatencyHistogram] = [getattr(s, self._histogram) for s in self._stats]
        slots = histograms[0].slot_counts()
        for histogram in histograms[1:]:
            slots += histogram.slot_counts()
        return _Reading(counters, slots, self._offered() if self._offered else 0)

    def tick(self) -> Interval:
        """Close the interval that ends now, and add it to the timeline."""
        now, reading = self._wall(), self._read()
        rows, batches, nbytes, errors, retries = (
            now_ - before
            for now_, before in zip(reading.counters, self._last.counters, strict=True)
        )
        current, most = self._in_flight()
        interval = Interval(
            start=self._since,
            end=now,
            tag=self.tag,
            rows=rows,
            batches=batches,
            bytes=nbytes,
            errors=errors,
            retries=retries,
            in_flight=current,
            in_flight_max=most,
            offered=None if self._offered is None else reading.offered - self._last.offered,
            concurrency=self._concurrency() if self._concurrency else None,
            latency=LatencyHistogram.from_slot_counts(reading.slots - self._last.slots),
        )
        self.timeline.add(interval)
        self._last, self._since = reading, now
        return interval

    async def run(self, sleep: Callable[[float], Awaitable[None]]) -> None:
        """Tick at every grid boundary until cancelled (the caller ticks the last part)."""
        while True:
            now = self._wall()
            await sleep(max(self.timeline.next_boundary(now) - now, 0.001))
            self.tick()
