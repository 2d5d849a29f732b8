# The coefficients read as in the literature: Greek letters in docstrings and comments.
# ruff: noqa: RUF002, RUF003
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from bulkload.stats.usl import POOR_FIT, UslFit, fit_usl, usl_throughput

LEVELS = [1, 2, 4, 8, 16, 32, 64, 128]
SIGMA, KAPPA, LAM = 0.05, 0.001, 1000.0


def _model_data(levels: list[int] = LEVELS) -> list[float]:
    return [usl_throughput(n, SIGMA, KAPPA, LAM) for n in levels]


def test_recovers_known_coefficients_exactly():
    fit = fit_usl(LEVELS, _model_data())
    assert fit is not None
    assert fit.sigma == pytest.approx(SIGMA, rel=1e-6)
    assert fit.kappa == pytest.approx(KAPPA, rel=1e-6)
    assert fit.lam == pytest.approx(LAM, rel=1e-6)
    assert fit.r_squared == pytest.approx(1.0, abs=1e-9)
    assert fit.peak_concurrency == pytest.approx(math.sqrt((1 - SIGMA) / KAPPA), rel=1e-6)
    assert fit.throughput(32) == pytest.approx(usl_throughput(32, SIGMA, KAPPA, LAM), rel=1e-6)


@pytest.mark.parametrize("seed", range(5))
def test_recovers_known_coefficients_through_noise(seed):
    rng = np.random.default_rng(seed)
    noisy = [x * (1 + rng.normal(0, 0.03)) for x in _model_data()]  # 3% measurement noise
    fit = fit_usl(LEVELS, noisy)
    assert fit is not None
    # Least squares on absolute rows/s (as the references fit) weighs the high levels
    # most, so λ (the N = 1 throughput) and σ come out a little looser than κ and the peak.
    assert fit.sigma == pytest.approx(SIGMA, abs=0.015)
    assert fit.kappa == pytest.approx(KAPPA, rel=0.15)
    assert fit.lam == pytest.approx(LAM, rel=0.08)
    assert fit.peak_concurrency == pytest.approx(30.8, rel=0.1)
    assert fit.r_squared > 0.98


#: SPEC SDM91 (Gunther), the R package usl's data set ``specsdm91``
SDM91_LOAD = [1, 18, 36, 72, 108, 144, 216]
SDM91_THROUGHPUT = [64.9, 995.9, 1652.4, 1853.2, 1828.9, 1775.0, 1702.2]

#: the Cisco benchmark of Baron Schwartz's "Practical Scalability Analysis with the
#: Universal Scalability Law", as usl4j's tests use it (concurrency 1..32)
CISCO_THROUGHPUT = [
    955.16, 1878.91, 2688.01, 3548.68, 4315.54, 5130.43, 5931.37, 6531.08,
    7219.8, 7867.61, 8278.71, 8646.7, 9047.84, 9426.55, 9645.37, 9897.24,
    10097.6, 10240.5, 10532.39, 10798.52, 11151.43, 11518.63, 11806, 12089.37,
    12075.41, 12177.29, 12211.41, 12158.93, 12155.27, 12118.04, 12140.4, 12074.39,
]  # fmt: skip


def test_reproduces_r_usl_on_spec_sdm91():
    """R usl 3.0.3, ``usl(throughput ~ load, specsdm91)``: σ 0.0277285, κ 0.0001044,
    λ 89.995, peak at load 96.51956 (its test peak-scalability.R), throughput 1884."""
    fit = fit_usl(SDM91_LOAD, SDM91_THROUGHPUT)
    assert fit is not None
    assert fit.sigma == pytest.approx(0.0277285, rel=1e-4)
    assert fit.kappa == pytest.approx(0.0001044, rel=1e-3)  # all the digits R prints
    assert fit.lam == pytest.approx(89.995, rel=1e-4)
    assert fit.peak_concurrency == pytest.approx(96.51956, rel=1e-5)
    assert fit.peak_throughput == pytest.approx(1884, rel=1e-3)
    assert not fit.poor


def test_reproduces_usl4j_on_the_cisco_benchmark():
    """usl4j's ModelTest: the book's coefficients within 0.02%, and its modelled
    throughput at 20 and 35 clients."""
    fit = fit_usl(list(range(1, 33)), CISCO_THROUGHPUT)
    assert fit is not None
    assert fit.sigma == pytest.approx(0.02671591, rel=2e-4)
    assert fit.kappa == pytest.approx(7.690945e-4, rel=2e-4)
    assert fit.lam == pytest.approx(995.6486, rel=2e-4)
    assert fit.throughput(20) == pytest.approx(11063.63312570436, rel=2e-4)
    assert fit.throughput(35) == pytest.approx(12341.745655201905, rel=2e-4)


def test_the_fit_minimises_the_absolute_squared_error():
    """No nearby coefficients (within the bounds) fit the rows/s better."""
    fit = fit_usl(SDM91_LOAD, SDM91_THROUGHPUT)
    assert fit is not None
    n, x = np.array(SDM91_LOAD, dtype=float), np.array(SDM91_THROUGHPUT)

    def error(sigma: float, kappa: float, lam: float) -> float:
        return float(np.sum((lam * n / (1 + sigma * (n - 1) + kappa * n * (n - 1)) - x) ** 2))

    best = error(fit.sigma, fit.kappa, fit.lam)
    for d_sigma, d_kappa, d_lam in itertools.product((-1e-3, 0, 1e-3), repeat=3):
        nudged = (fit.sigma * (1 + d_sigma), fit.kappa * (1 + d_kappa), fit.lam * (1 + d_lam))
        assert error(*nudged) >= best


@pytest.mark.parametrize(
    ("r_squared", "poor"),
    [(-0.03, True), (0.5, True), (POOR_FIT - 1e-9, True), (POOR_FIT, False), (0.99, False)],
)
def test_a_fit_below_r_squared_0_8_is_poor(r_squared, poor):
    fit = UslFit(sigma=0.1, kappa=0.01, lam=5.0, r_squared=r_squared, max_measured=8)
    assert fit.poor is poor


def test_measurements_with_no_scaling_shape_fit_poorly():
    fit = fit_usl([1, 2, 4, 8, 16], [100.0, 300.0, 90.0, 310.0, 95.0])
    assert fit is not None and fit.r_squared < POOR_FIT and fit.poor


def test_linear_scaling_has_no_contention():
    fit = fit_usl(LEVELS, [250.0 * n for n in LEVELS])
    assert fit is not None
    assert fit.sigma == pytest.approx(0, abs=1e-9) and fit.kappa == pytest.approx(0, abs=1e-12)
    assert fit.lam == pytest.approx(250)
    assert fit.peak_concurrency is None and fit.peak_throughput is None


def test_contention_only_fits_with_kappa_pinned_to_zero():
    """Throughput that flattens but never falls, the last level a little high: the free
    fit would make kappa negative, so kappa is pinned to 0 and sigma refitted."""
    levels = [1, 2, 4, 8, 16, 32]
    throughput = [usl_throughput(n, 0.2, 0.0, 100) for n in levels]
    throughput[-1] *= 1.05
    fit = fit_usl(levels, throughput)
    assert fit is not None
    # the high last level pulls σ down a little (it counts by its absolute error)
    assert fit.kappa == 0 and fit.sigma == pytest.approx(0.2, abs=0.02)
    assert fit.lam == pytest.approx(100, rel=0.05)
    assert fit.peak_concurrency is None


def test_capacity_bound_peaks_where_the_throughput_stops_growing():
    """Doubling up to 16, flat after: the modelled peak lies inside the plateau."""
    short = [1, 2, 4, 8, 16, 32]
    fit = fit_usl(short, [100.0 * min(n, 16) for n in short])
    assert fit is not None and fit.peak_concurrency is not None
    assert 8 <= fit.peak_concurrency <= 32
    # The smooth model has no flat part: a longer plateau pulls its peak to the middle.
    long = [1, 2, 4, 8, 16, 32, 64]
    fit = fit_usl(long, [100.0 * min(n, 16) for n in long])
    assert fit is not None and fit.peak_concurrency is not None
    assert 16 <= fit.peak_concurrency <= 64
    assert fit.peak_throughput == pytest.approx(1600, rel=0.15)
    assert fit.r_squared > 0.9


def test_retrograde_from_the_start_peaks_at_one():
    fit = fit_usl([1, 2, 4, 8], [100.0, 80.0, 60.0, 40.0])
    assert fit is not None
    assert fit.peak_concurrency == 1.0
    assert fit.throughput(8) < fit.throughput(1)


def test_repeated_levels_count_as_one():
    assert fit_usl([1, 1, 2, 2], [10.0, 11.0, 19.0, 20.0]) is None
    fit = fit_usl([1, 1, 2, 2, 4, 4], [10.0, 10.0, 20.0, 20.0, 40.0, 40.0])
    assert fit is not None and fit.lam == pytest.approx(10)


@pytest.mark.parametrize(
    ("levels", "throughput"),
    [
        ([], []),
        ([4, 8], [1.0, 2.0]),
        ([1, 2, 4], [1.0, 2.0, 0.0]),
        ([1, 2, 4], [1.0, 2.0, -3.0]),
        ([0, 2, 4], [1.0, 2.0, 3.0]),
        ([1, 2, 4], [1.0, 2.0, math.nan]),
        ([1, 2, math.inf], [1.0, 2.0, 3.0]),
    ],
)
def test_degenerate_data_has_no_fit(levels, throughput):
    assert fit_usl(levels, throughput) is None


def test_mismatched_lengths_are_a_programming_error():
    with pytest.raises(ValueError, match="same length"):
        fit_usl([1, 2, 3], [1.0, 2.0])


def test_curve_spans_one_to_the_highest_level():
    fit = fit_usl(LEVELS, _model_data())
    assert fit is not None
    curve = fit.curve(20)
    assert len(curve) == 20
    assert curve[0][0] == pytest.approx(1) and curve[-1][0] == pytest.approx(128)
    assert all(x == pytest.approx(fit.throughput(n)) for n, x in curve)
    assert fit.curve(5, up_to=1000)[-1][0] == pytest.approx(1000)


def test_fit_is_a_frozen_value():
    fit = UslFit(sigma=0.1, kappa=0.01, lam=5.0, r_squared=1.0, max_measured=8)
    with pytest.raises(AttributeError):
        fit.sigma = 0.2  # type: ignore[misc]


def test_erratic_measurements_still_give_a_valid_fit():
    """Noise with no scaling shape (a loaded CI runner): the refinement must neither raise
    nor leave the constraints. These three levels once made it solve a singular system."""
    fit = fit_usl([2, 8, 16], [26.95882837, 3.74008863, 10.02873717])
    assert fit is not None and fit.sigma >= 0 and fit.kappa >= 0 and fit.lam > 0
    rng = np.random.default_rng(0)
    for _ in range(300):
        levels = np.sort(rng.choice([1, 2, 3, 4, 6, 8, 12, 16, 32, 64, 256, 1024], 5, False))
        throughput = 10 ** rng.uniform(-3, 9) * rng.uniform(0.01, 1, size=5)
        fit = fit_usl(levels.tolist(), throughput.tolist())
        assert fit is not None
        assert fit.sigma >= 0 and fit.kappa >= 0 and fit.lam > 0
        assert all(math.isfinite(v) for v in (fit.sigma, fit.kappa, fit.lam, fit.r_squared))
