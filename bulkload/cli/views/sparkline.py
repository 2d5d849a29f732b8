"""A compact sparkline of throughput over the last intervals of a run's timeline."""

from __future__ import annotations

from collections.abc import Sequence

from bulkload.stats.timeline import Timeline

_BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float]) -> str:
    """One block per value, scaled from 0 to the largest (all zero: the lowest block)."""
    top = max(values, default=0.0)
    if top <= 0:
        return _BLOCKS[0] * len(values)
    last = len(_BLOCKS) - 1
    return "".join(_BLOCKS[min(round(v / top * last), last)] for v in values)


def throughput_line(timeline: Timeline | None, tag: str, width: int) -> str | None:
    """``rows/s ▂▃▅▇█▇ 12,345`` over the last intervals of ``tag`` that fit in ``width``,
    None until two intervals are there."""
    if timeline is None:
        return None
    # the last part interval of a level is short: its rate would draw a false dip
    step = timeline.interval_s
    rates = [i.rows_per_s for i in timeline.intervals if i.tag == tag and i.seconds >= step / 2]
    if len(rates) < 2:
        return None
    last = f" {rates[-1]:,.0f}"
    room = max(width - len("rows/s ") - len(last), 4)
    return f"rows/s {sparkline(rates[-room:])}{last}"
