"""Where a ramp broke the target: read from the ramp's timeline, interval by interval.

Three signs, the earliest of which is the breaking point:

* **slo**: an interval's own latency percentiles or error rate broke an ``--slo``
  threshold (throughput thresholds are left out: a ramp's first intervals are slow by
  design);
* **errors**: failed attempts appeared;
* **throughput**: the target stopped following the offered load. Open model: two
  intervals in a row carried under 90% of the sends due in them, and none after them
  carried 10% more (a slow start or a stall of the machine is no limit of the target,
  in either model); the breaking point is
  where the offered rate first reached the most the target carried over the ramp (two
  intervals' mean: its capacity, the rate reported). Closed model: two intervals in a
  row carried under 80% of what the writers allowed would carry at the unloaded latency
  (concurrency / the first intervals' mean latency, Little's law); the breaking point
  is where that first reached the most the target carried (the writers it takes).

Intervals shorter than half a step (a level's last part) are not judged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from bulkload.stats.histogram import LatencyHistogram
from bulkload.stats.thresholds import ERROR_RATE, LATENCY_METRICS, Threshold
from bulkload.stats.timeline import Interval

FOLLOWING_OPEN = 0.9
FOLLOWING_CLOSED = 0.8
SUSTAINED = 2  # intervals in a row


@dataclass(frozen=True, slots=True)
class BreakingPoint:
    cause: str  # slo | errors | throughput
    time_s: float  # after the ramp's start
    at: float  # wall clock, epoch seconds
    rate: float | None  # open model: the offered writes/s there
    concurrency: int | None  # closed model: the writers allowed there
    #: the target's capacity when it stopped following (the most it carried over two
    #: intervals, as the detail says); else the most it carried up to the break
    throughput: float
    detail: str
    #: every sign found: cause -> seconds after the ramp's start
    signs: dict[str, float]
    tag: str = ""  # the ramp's level

    def to_dict(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "cause": self.cause,
            "time_s": round(self.time_s, 3),
            "at": self.at,
            "rate": None if self.rate is None else round(self.rate, 2),
            "concurrency": self.concurrency,
            "throughput": round(self.throughput, 2),
            "detail": self.detail,
            "signs": {cause: round(t, 3) for cause, t in self.signs.items()},
        }

    def describe(self) -> str:
        where = f"{self.rate:,.0f} writes/s" if self.rate is not None else f"c={self.concurrency}"
        return f"broke at {self.time_s:.1f}s into the ramp, at {where}: {self.detail}"


def _judged(intervals: Sequence[Interval], step: float) -> list[Interval]:
    return [i for i in intervals if i.seconds >= step / 2]


def _metrics(interval: Interval) -> dict[str, float]:
    attempts = interval.batches + interval.errors
    return {
        **interval.latency.summary_ms(),
        ERROR_RATE: interval.errors / attempts if attempts else 0.0,
    }


def find_breaking_point(
    intervals: Sequence[Interval], slo: Sequence[Threshold], *, step: float
) -> BreakingPoint | None:
    """The earliest sign in ``intervals`` (one ramp's, in time order), or None."""
    judged = _judged(intervals, step)
    if not judged:
        return None
    origin = intervals[0].start
    # cause -> (interval, detail, rate, throughput): rate and throughput None where they
    # are read at the interval
    found: dict[str, tuple[Interval, str, float | None, float | None]] = {}
    judged_slo = [t for t in slo if t.metric in LATENCY_METRICS or t.metric == ERROR_RATE]
    for interval in judged:
        if "slo" not in found and judged_slo and interval.batches:
            broken = [r for t in judged_slo if not (r := t.check(_metrics(interval))).ok]
            if broken:
                found["slo"] = (interval, f"SLO {broken[0]}", None, None)
        if "errors" not in found and interval.errors:
            found["errors"] = (interval, f"{interval.errors} failed attempt(s) began", None, None)
    if (fell := _fell_behind(judged)) is not None:
        found["throughput"] = fell
    if not found:
        return None
    cause, (interval, detail, rate, capacity) = min(
        found.items(), key=lambda item: item[1][0].start
    )
    # a stall in the interval at the break must not pass for the target's limit
    carried = (
        capacity
        if capacity is not None
        else max(i.ops_per_s for i in judged if i.start <= interval.start)
    )
    return BreakingPoint(
        cause=cause,
        time_s=interval.start - origin,
        at=interval.start,
        rate=rate if rate is not None else interval.offered_per_s,
        concurrency=interval.concurrency,
        throughput=carried,
        detail=detail,
        signs={name: sign[0].start - origin for name, sign in found.items()},
        tag=interval.tag,
    )


def breaking_points(
    intervals: Sequence[Interval], slo: Sequence[Threshold], *, step: float
) -> list[dict[str, Any]]:
    """Each ramp's breaking point (a ramp per batch size), by the intervals' tags;
    a ramp that never broke says so with cause None."""
    tags = list(dict.fromkeys(i.tag for i in intervals))
    found = []
    for tag in tags:
        own = [i for i in intervals if i.tag == tag]
        point = find_breaking_point(own, slo, step=step)
        found.append(point.to_dict() if point else {"tag": tag, "cause": None})
    return found


def _fell_behind(
    judged: list[Interval],
) -> tuple[Interval, str, float | None, float | None] | None:
    open_model = judged[0].offered is not None
    expected = _expected(judged, open_model)
    limit = FOLLOWING_OPEN if open_model else FOLLOWING_CLOSED
    run = 0
    for k, interval in enumerate(judged):
        wanted = expected(interval)
        run = run + 1 if wanted > 0 and interval.ops_per_s < limit * wanted else 0
        if run < SUSTAINED:
            continue
        later = max((i.ops_per_s for i in judged[k + 1 :]), default=0.0)
        if later > 1.1 * max(i.ops_per_s for i in judged[: k + 1]):
            run = 0  # it carried more afterwards (a slow start, a stall): not its limit
            continue
        carried = _most_carried(judged)
        # where the load offered (open), or what the writers allowed would carry at the
        # unloaded latency (closed), first reached the most the target carried
        reached = (i for i in judged[: k + 1] if expected(i) >= carried)
        at = next(reached, judged[k - SUSTAINED + 1])
        if not open_model:
            detail = f"the writers could carry more than the target did ({carried:,.0f}/s)"
            return at, detail, None, carried
        detail = f"the offered load passed the most the target carried ({carried:,.0f} writes/s)"
        return at, detail, carried, carried
    return None


def _most_carried(judged: list[Interval]) -> float:
    """The most writes/s the target carried over two intervals in a row, over the whole
    ramp: its capacity, from the saturated intervals after the break too (a stall of the
    machine, or a burst as a backlog clears, moves one interval, not two)."""
    rates = [i.ops_per_s for i in judged]
    if len(rates) < 2:
        return max(rates, default=0.0)
    return max((a + b) / 2 for a, b in pairwise(rates))


def _expected(judged: list[Interval], open_model: bool) -> Any:
    if open_model:
        return lambda interval: interval.offered_per_s or 0.0
    early = [i for i in judged if i.latency.count][:SUSTAINED]
    unloaded_s = sum(i.latency.mean_ms for i in early) / len(early) / 1000 if early else 0.0
    if unloaded_s <= 0:
        return lambda interval: 0.0
    return lambda interval: (interval.concurrency or 0) / unloaded_s


def before_break(intervals: Sequence[Interval], point: dict[str, Any]) -> list[Interval]:
    """The intervals of ``point``'s ramp (its tag) that began before its breaking point:
    the whole ramp when it never broke (cause None)."""
    own = [i for i in intervals if i.tag == point.get("tag")]
    if point.get("cause") is None:
        return own
    return [i for i in own if i.start < float(point["at"])]


def window_metrics(intervals: Sequence[Interval]) -> dict[str, float]:
    """What thresholds check, over ``intervals`` taken as one window: their histograms
    added, their counters summed, rates over their summed lengths (latencies in ms)."""
    seconds = sum(i.seconds for i in intervals)
    latency = LatencyHistogram()
    for interval in intervals:
        if interval.latency_count:
            latency.merge(interval.latency)
    batches = sum(i.batches for i in intervals)
    errors = sum(i.errors for i in intervals)

    def per_s(count: float) -> float:
        return count / seconds if seconds > 0 else 0.0

    metrics = latency.summary_ms() if latency.count else {}
    return {
        **metrics,
        "rows_per_s": per_s(sum(i.rows for i in intervals)),
        "batches_per_s": per_s(batches),
        "mb_per_s": per_s(sum(i.bytes for i in intervals) / 1e6),
        ERROR_RATE: errors / (batches + errors) if batches + errors else 0.0,
        "retries": float(sum(i.retries for i in intervals)),
        "errors": float(errors),
    }
