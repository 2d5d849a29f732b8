from __future__ import annotations

import math

import numpy as np
import pytest

from bulkload.stats.usl import UslFit, fit_usl, usl_throughput

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
    assert fit.sigma == pytest.approx(SIGMA, abs=0.01)
    assert fit.kappa == pytest.approx(KAPPA, rel=0.15)
    assert fit.lam == pytest.approx(LAM, rel=0.05)
    assert fit.peak_concurrency == pytest.approx(30.8, rel=0.1)
    assert fit.r_squared > 0.98


def test_noise_is_weighted_by_level_not_by_size():
    """A 3% error at the highest level must not outweigh the low levels (relative fit)."""
    data = _model_data()
    data[-1] *= 1.03
    fit = fit_usl(LEVELS, data)
    assert fit is not None
    assert fit.lam == pytest.approx(LAM, rel=0.02)


def test_linear_scaling_has_no_contention():
    fit = fit_usl(LEVELS, [250.0 * n for n in LEVELS])
    assert fit is not None
    assert fit.sigma == pytest.approx(0, abs=1e-9) and fit.kappa == pytest.approx(0, abs=1e-12)
    assert fit.lam == pytest.approx(250)
    assert fit.peak_concurrency is None and fit.peak_throughput is None


def test_contention_only_fits_with_kappa_pinned_to_zero():
    """Throughput that flattens but never falls, the last level a little high: the free
    linear fit makes kappa negative (-5e-6 here), so kappa is pinned to 0 and sigma refitted."""
    levels = [1, 2, 4, 8, 16, 32]
    throughput = [usl_throughput(n, 0.2, 0.0, 100) for n in levels]
    throughput[-1] *= 1.05
    fit = fit_usl(levels, throughput)
    assert fit is not None
    assert fit.kappa == 0 and fit.sigma == pytest.approx(0.2, abs=0.01)
    assert fit.lam == pytest.approx(100, rel=0.02)
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
