from __future__ import annotations

import pytest

from bulkload.stats.analysis import (
    KNEE_TOLERANCE,
    LevelPoint,
    recommend,
    refine_levels,
    saturation_level,
    usl_fits,
)
from bulkload.stats.thresholds import parse_slo
from bulkload.stats.usl import usl_throughput


def level(
    concurrency: int, rows_per_s: float, *, batch: int = 1000, p99: float = 10.0
) -> LevelPoint:
    return LevelPoint(
        concurrency=concurrency,
        measured_concurrency=concurrency * 0.95,
        batch_size=batch,
        rows_per_s=rows_per_s,
        metrics={"p99": p99, "error_rate": 0.0},
    )


def sweep(throughputs: dict[int, float], *, batch: int = 1000) -> list[LevelPoint]:
    # Latency grows with concurrency, as it does when a target saturates.
    return [level(c, x, batch=batch, p99=2.0 * c) for c, x in throughputs.items()]


PLATEAU = {1: 1000, 2: 1900, 4: 3600, 8: 6500, 16: 9000, 32: 9600, 64: 9400}


def test_knee_is_the_lowest_level_within_ten_percent_of_the_best():
    assert KNEE_TOLERANCE == 0.10
    choice = recommend(sweep(PLATEAU))
    # best 9600 at 32; 16 gives 9000 >= 8640: the knee
    assert (choice.concurrency, choice.batch_size) == (16, 1000)
    assert choice.reason == (
        "concurrency 16 x batch 1,000: 9,000 rows/s, the lowest level within 10% of the best"
        " (9,600 rows/s at concurrency 32)"
    )


def test_knee_just_outside_the_tolerance_moves_up():
    points = sweep({**PLATEAU, 16: 8600})  # 8600 < 0.9 * 9600
    assert recommend(points).concurrency == 32


def test_without_a_knee_the_best_level_is_chosen():
    choice = recommend(sweep({1: 1000, 2: 2000, 4: 4000, 8: 8000}))
    assert choice.concurrency == 8
    assert choice.reason.endswith("8,000 rows/s, the best measured throughput")


def test_slo_picks_the_fastest_level_that_meets_it():
    slo = parse_slo("p99<40ms")  # p99 = 2 ms x concurrency: levels up to 16 pass
    choice = recommend(sweep(PLATEAU), slo)
    assert (choice.concurrency, choice.batch_size) == (16, 1000)
    assert choice.reason == (
        "concurrency 16 x batch 1,000: 9,000 rows/s, the fastest level meeting the SLO"
        " (p99 < 40 ms)"
    )
    assert recommend(sweep(PLATEAU), parse_slo("p99<20ms")).concurrency == 8


def test_slo_ties_go_to_the_lower_concurrency():
    points = sweep({1: 1000, 2: 2000, 4: 3000, 8: 3000})
    assert recommend(points, parse_slo("p99<100ms")).concurrency == 4


def test_slo_that_no_level_meets():
    choice = recommend(sweep(PLATEAU), parse_slo("p99<1ms,error_rate<0.1%"))
    assert (choice.concurrency, choice.batch_size) == (None, None)
    assert choice.reason == (
        "no level meets the SLO (p99 < 1 ms, error_rate < 0.1%); closest, concurrency 1 x"
        " batch 1,000: p99 < 1 ms: measured 2 ms ✗"
    )
    assert choice.usl is not None  # the sweep is still described


def test_slo_checks_every_metric_it_names():
    points = [
        LevelPoint(1, 1.0, 1000, 1000, {"p99": 5.0, "error_rate": 0.0}),
        LevelPoint(2, 2.0, 1000, 2000, {"p99": 6.0, "error_rate": 0.02}),
        LevelPoint(4, 4.0, 1000, 2500, {"p99": 9.0}),  # error_rate not measured: fails
    ]
    assert recommend(points, parse_slo("p99<10ms")).concurrency == 4
    assert recommend(points, parse_slo("p99<10ms,error_rate<1%")).concurrency == 1


def test_slo_threshold_pinned_to_a_level_judges_only_that_level():
    slo = parse_slo("p99<200ms,p99@32<50ms")  # 32 (p99 64 ms) fails @32; 64 is not judged by it
    assert recommend(sweep(PLATEAU), slo).concurrency == 64
    assert recommend(sweep(PLATEAU), parse_slo("p99@all<50ms")).concurrency == 16


def test_grid_picks_the_batch_size_with_the_fastest_best_level_then_its_knee():
    small = sweep({1: 500, 2: 1000, 4: 2000, 8: 3800, 16: 4000}, batch=100)
    large = sweep(PLATEAU, batch=10_000)
    choice = recommend(small + large)
    assert (choice.concurrency, choice.batch_size) == (16, 10_000)
    assert choice.reason.endswith(", with the batch size whose best level is fastest")


def test_grid_under_an_slo_compares_only_levels_that_meet_it():
    # batch 10000 is faster overall, but its levels that meet the SLO are slower
    fast_but_slow_latency = [level(c, x, batch=10_000, p99=20.0 * c) for c, x in PLATEAU.items()]
    small = sweep({1: 900, 2: 1800, 4: 3400, 8: 5000, 16: 5200}, batch=100)
    choice = recommend(small + fast_but_slow_latency, parse_slo("p99<50ms"))
    # batch 100: every level passes, best 5200 at 16; batch 10000: up to 2 pass, 1900
    assert (choice.concurrency, choice.batch_size) == (16, 100)


def test_grid_ties_go_to_the_smaller_batch():
    choice = recommend(sweep({1: 100, 2: 200}, batch=500) + sweep({1: 100, 2: 200}, batch=50))
    assert choice.batch_size == 50


def test_usl_is_fitted_on_measured_concurrency_of_the_chosen_batch_size():
    points = [
        LevelPoint(n, n * 0.5, 1000, usl_throughput(n * 0.5, 0.05, 0.002, 400))
        for n in (1, 2, 4, 8, 16, 32, 64)
    ]
    other = sweep({1: 10, 2: 20, 4: 30}, batch=5)
    choice = recommend(points + other)
    assert choice.batch_size == 1000 and choice.usl is not None
    assert choice.usl.sigma == pytest.approx(0.05, rel=1e-4)
    assert choice.usl.kappa == pytest.approx(0.002, rel=1e-4)
    assert choice.usl.lam == pytest.approx(400, rel=1e-4)
    fits = usl_fits(points + other)
    assert list(fits) == [5, 1000] and fits[1000] == choice.usl


def test_usl_leaves_out_levels_with_nothing_measured():
    points = [*sweep({1: 1000, 2: 1900, 4: 3600, 8: 6500}), LevelPoint(16, 0.0, 1000, 0.0)]
    assert recommend(points).usl is not None
    assert recommend(sweep({1: 1000, 2: 1900})).usl is None  # two levels: no fit


def test_no_points():
    choice = recommend([])
    assert (choice.concurrency, choice.batch_size, choice.usl) == (None, None, None)
    assert choice.reason == "no levels were measured"


@pytest.mark.parametrize(
    ("throughputs", "saturated"),
    [
        ({1: 1000, 2: 1900, 4: 3600, 8: 6500, 16: 9000, 32: 9400, 64: 9300}, 16),
        ({1: 1000, 2: 1900, 4: 3600}, None),
        ({1: 1000, 2: 1049}, 1),
        ({1: 1000, 2: 1050}, None),  # exactly 5% more still counts as growing
        ({1: 1000}, None),
        ({8: 6500, 1: 1000, 4: 3600, 2: 1900, 16: 6600}, 8),  # order does not matter
    ],
)
def test_saturation_level(throughputs, saturated):
    assert saturation_level(sweep(throughputs)) == saturated


@pytest.mark.parametrize(
    ("throughputs", "extra"),
    [
        ({8: 6500, 16: 9000, 32: 8000}, [11, 23]),  # 16 is the geometric middle
        ({1: 1000, 2: 1900, 4: 3600, 8: 6500, 16: 9000}, [10, 11, 13]),  # best at the top
        ({4: 9000, 8: 6000, 16: 5000}, [5, 6, 7]),  # best at the bottom
        ({1: 2000, 2: 1000}, []),  # no integer between 1 and 2
        ({2: 1000, 4: 2000}, [3]),
        ({8: 6500, 11: 8000, 16: 9000, 23: 8800, 32: 8000}, [13, 19]),  # 16 measured
        ({16: 100}, []),
        ({}, []),
        ({4: 3600, 8: 6600, 16: 6800, 32: 7000}, [6, 11]),  # a plateau: around its knee, 8
    ],
)
def test_refine_levels(throughputs, extra):
    proposed = refine_levels(sweep(throughputs))
    assert proposed == extra
    assert len(proposed) <= 3 and not set(proposed) & set(throughputs)


def test_sweep_helpers_want_one_batch_size():
    mixed = sweep({1: 1, 2: 2}, batch=10) + sweep({1: 1, 2: 2}, batch=20)
    with pytest.raises(ValueError, match="one batch size"):
        saturation_level(mixed)
    with pytest.raises(ValueError, match="one batch size"):
        refine_levels(mixed)
