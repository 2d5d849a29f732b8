"""The weighted picks of a mix or a query set: any stretch of them holds the weights."""

from __future__ import annotations

import itertools

import pytest

from bulkload.bench.weighted import spread, weighted_cycle


@pytest.mark.parametrize("weights", [(1, 3), (3, 1), (9, 1), (2.5, 0.7), (5, 3, 1, 1), (1,)])
def test_every_stretch_of_picks_holds_each_weight_within_two(weights):
    picks = list(itertools.islice(weighted_cycle(weights), 3 * len(spread(weights))))
    total = sum(weights)
    for length in (1, 4, 10, 37, 100, 1000):
        for start in range(0, len(picks) - length, 7):
            stretch = picks[start : start + length]
            for index, weight in enumerate(weights):
                expected = length * weight / total
                assert abs(stretch.count(index) - expected) < 2, (weights, start, length)


def test_whole_weights_cycle_seamlessly():
    assert len(spread((1, 3))) == 4096 and len(spread((9, 1))) == 4090
    assert spread((1, 3))[:4] == [1, 0, 1, 1]


def test_bad_weights_are_refused():
    with pytest.raises(ValueError):
        spread((0, 0))
