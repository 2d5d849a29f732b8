"""A run over time: one snapshot per interval (1 s by default), mergeable, bounded.

Each :class:`Interval` holds what completed in it (rows, writes, bytes, failed attempts,
retries), the writes in flight at its end and the most at once during it, and its own
latency histogram (from each write's start or due time), so its percentiles are that
interval's, not a running average. Intervals sit on a wall-clock grid (epoch seconds,
multiples of the step) and carry a tag (the level they belong to): shards and
processes that ran at the same time merge interval by interval (counters summed,
histograms added). A run of hours keeps constant memory: past ``max_intervals`` the
step doubles and neighbouring intervals are folded together (old detail is coarsened,
nothing is dropped).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bulkload.stats.histogram import LatencyHistogram

DEFAULT_INTERVAL_S = 1.0
#: a 1 s timeline keeps its detail for 2 hours, then halves it
MAX_INTERVALS = 7200
_COUNTERS = ("rows", "batches", "bytes", "errors", "retries")


_SETTABLE = frozenset(
    {"rows", "batches", "bytes", "errors", "retries", "in_flight", "in_flight_max", "offered",
     "concurrency"}
)  # fmt: skip


@dataclass(init=False)
class Interval:
    start: float  # wall clock (epoch s) when the interval's first snapshot was taken
    end: float
    tag: str = ""  # the level (or import) it belongs to
    rows: int = 0
    batches: int = 0  # operations (batch writes) that succeeded
    bytes: int = 0
    errors: int = 0  # failed attempts, retries included
    retries: int = 0
    in_flight: int = 0  # at the interval's end
    in_flight_max: int = 0
    #: open model: sends due in the interval (the offered load), None in the closed model
    offered: int | None = None
    concurrency: int | None = None  # closed model: writers allowed in the interval
    #: the interval's latency histogram, kept HDR-encoded (compressed): a live one holds
    #: ~180 KB of slots whatever it counts, an encoded one a few hundred bytes, so a
    #: timeline of thousands of intervals stays small. Read and set through ``latency``.
    latency_hdr: str | None = None
    latency_count: int = 0

    def __init__(
        self, start: float, end: float, tag: str = "", *, latency: LatencyHistogram | None = None,
        **counters: Any,
    ) -> None:  # fmt: skip
        self.start, self.end, self.tag = start, end, tag
        self.rows = self.batches = self.bytes = self.errors = self.retries = 0
        self.in_flight = self.in_flight_max = 0
        self.offered: int | None = None
        self.concurrency: int | None = None
        for name, value in counters.items():
            if name not in _SETTABLE:
                raise TypeError(f"Interval has no counter {name!r}")
            setattr(self, name, value)
        self.latency = latency if latency is not None else LatencyHistogram()

    @property
    def latency(self) -> LatencyHistogram:
        """A fresh copy of the interval's histogram (changing it changes nothing here)."""
        if self.latency_hdr is None:
            return LatencyHistogram()
        return LatencyHistogram.decode(self.latency_hdr)

    @latency.setter
    def latency(self, histogram: LatencyHistogram) -> None:
        self.latency_count = histogram.count
        self.latency_hdr = histogram.encode() if histogram.count else None

    @property
    def seconds(self) -> float:
        return max(self.end - self.start, 0.0)

    def _per_s(self, count: float) -> float:
        return count / self.seconds if self.seconds > 0 else 0.0

    @property
    def rows_per_s(self) -> float:
        return self._per_s(self.rows)

    @property
    def ops_per_s(self) -> float:
        return self._per_s(self.batches)

    @property
    def offered_per_s(self) -> float | None:
        return None if self.offered is None else self._per_s(self.offered)

    def add(self, other: Interval) -> None:
        """Fold ``other`` (the same interval of another shard, or a neighbour) into this."""
        # Writes in flight add up over time that overlaps (other shards, other processes,
        # at the same moment); over time that follows on (a neighbour folded in: a
        # coarsening timeline, or a last part interval in its predecessor's slot) the
        # peak is the larger one and the count at the end the later one's: summed, one
        # writer pool of 2 read as 4 in flight.
        follows = other.start >= self.end or other.end <= self.start
        if follows:
            self.in_flight_max = max(self.in_flight_max, other.in_flight_max)
            if other.end >= self.end:
                self.in_flight = other.in_flight
        else:
            self.in_flight += other.in_flight
            self.in_flight_max += other.in_flight_max
        self.start, self.end = min(self.start, other.start), max(self.end, other.end)
        for name in _COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if other.offered is not None:
            self.offered = (self.offered or 0) + other.offered
        if other.concurrency is not None:
            self.concurrency = max(self.concurrency or 0, other.concurrency)
        if other.latency_count:
            merged = self.latency
            merged.merge(other.latency)
            self.latency = merged

    def copy(self) -> Interval:
        twin = Interval(self.start, self.end, self.tag)
        twin.add(self)
        twin.start, twin.end = self.start, self.end
        return twin

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "tag": self.tag,
            "rows": self.rows,
            "batches": self.batches,
            "bytes": self.bytes,
            "errors": self.errors,
            "retries": self.retries,
            "in_flight": self.in_flight,
            "in_flight_max": self.in_flight_max,
            "offered": self.offered,
            "concurrency": self.concurrency,
            "rows_per_s": round(self.rows_per_s, 1),
            "ops_per_s": round(self.ops_per_s, 2),
            "mb_per_s": round(self._per_s(self.bytes / 1e6), 3),
            "offered_per_s": (None if self.offered_per_s is None else round(self.offered_per_s, 2)),
            "latency_ms": {**self.latency.summary_ms(), "count": self.latency_count},
            "latency_hdr": self.latency_hdr,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Interval:
        hdr = data.get("latency_hdr")
        return cls(
            start=float(data["start"]),
            end=float(data["end"]),
            tag=str(data.get("tag") or ""),
            **{name: int(data[name]) for name in _COUNTERS},
            in_flight=int(data["in_flight"]),
            in_flight_max=int(data["in_flight_max"]),
            offered=data.get("offered"),
            concurrency=data.get("concurrency"),
            latency=LatencyHistogram.decode(hdr) if hdr else LatencyHistogram(),
        )


class Timeline:
    """Intervals of ``interval_s`` on the wall-clock grid, at most ``max_intervals``."""

    def __init__(
        self, interval_s: float = DEFAULT_INTERVAL_S, *, max_intervals: int = MAX_INTERVALS
    ):
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.interval_s = interval_s
        self.max_intervals = max(max_intervals, 2)
        self._intervals: dict[tuple[int, str], Interval] = {}
        #: told of each interval as it is added (live metrics); not saved, not merged
        self.listeners: list[Callable[[Interval], None]] = []

    def slot(self, when: float) -> int:
        """The grid interval holding wall-clock time ``when``."""
        return math.floor(when / self.interval_s + 1e-9)

    def next_boundary(self, when: float) -> float:
        return (self.slot(when) + 1) * self.interval_s

    def add(self, interval: Interval) -> None:
        for listener in self.listeners:
            listener(interval)
        self._put(interval)

    def _put(self, interval: Interval) -> None:
        # by its middle: a shard's snapshot a moment after the boundary is the same slot
        key = (self.slot((interval.start + interval.end) / 2), interval.tag)
        if (held := self._intervals.get(key)) is not None:
            held.add(interval)
        else:
            self._intervals[key] = interval
        if len(self._intervals) > self.max_intervals:
            self._coarsen()

    def _coarsen(self) -> None:
        """Double the step until the intervals fit: neighbours fold into one."""
        while len(self._intervals) > self.max_intervals:
            self.interval_s *= 2
            held, self._intervals = sorted(self._intervals.values(), key=_order), {}
            for interval in held:
                self._put(interval)  # the listeners were told of it once

    @property
    def intervals(self) -> list[Interval]:
        return sorted(self._intervals.values(), key=_order)

    def __len__(self) -> int:
        return len(self._intervals)

    @classmethod
    def merge(cls, timelines: Sequence[Timeline]) -> Timeline:
        """Shards' timelines as one: the same grid interval and tag adds up."""
        step = max((t.interval_s for t in timelines), default=DEFAULT_INTERVAL_S)
        merged = cls(step, max_intervals=max((t.max_intervals for t in timelines), default=2))
        for timeline in timelines:
            for interval in timeline.intervals:
                merged.add(interval.copy())
        return merged

    def to_dict(self) -> dict[str, Any]:
        return {
            "interval_s": self.interval_s,
            "intervals": [interval.to_dict() for interval in self.intervals],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Timeline:
        if not data:
            return cls()
        timeline = cls(float(data["interval_s"]))
        timeline.extend(Interval.from_dict(item) for item in data["intervals"])
        return timeline

    def extend(self, intervals: Iterable[Interval]) -> None:
        for interval in intervals:
            self.add(interval)


def _order(interval: Interval) -> tuple[float, str]:
    return interval.start, interval.tag
