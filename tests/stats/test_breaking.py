"""The breaking point read from a ramp's timeline, on intervals made by hand."""

from __future__ import annotations

import pytest

from bulkload.stats.breaking import find_breaking_point
from bulkload.stats.timeline import Interval


def _open_ramp(carried: list[int]) -> list[Interval]:
    # half-second intervals offering 20, 30, 40, ... writes/s
    return [
        Interval(100 + k / 2, 100.5 + k / 2, "ramp", batches=done, offered=10 + 5 * k)
        for k, done in enumerate(carried)
    ]


def test_a_stall_at_the_break_does_not_pass_for_the_targets_capacity():
    # the target carries 40/s; the interval where the offered load reached 40/s stalled
    # (13 of its 20 sends carried), and the saturated intervals after it carried 40/s
    point = find_breaking_point(_open_ramp([10, 15, 13, 20, 20, 20, 20]), [], step=0.5)
    assert point is not None and point.cause == "throughput"
    assert point.time_s == pytest.approx(1.0)  # where the offered load reached 40/s
    assert point.rate == pytest.approx(40)
    assert point.throughput == pytest.approx(40)


def test_an_error_break_reports_the_most_carried_up_to_it():
    intervals = _open_ramp([10, 15, 20, 25, 30])
    intervals[3].errors = 2
    point = find_breaking_point(intervals, [], step=0.5)
    assert point is not None and point.cause == "errors"
    assert point.time_s == pytest.approx(1.5)
    assert point.throughput == pytest.approx(50)  # 25 in half a second, not the later 60/s
