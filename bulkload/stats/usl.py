# The formulas read as in the literature: Greek letters in docstrings and comments.
# ruff: noqa: RUF002, RUF003
"""Universal Scalability Law (Gunther): how throughput grows, then falls, with concurrency.

    X(N) = λN / (1 + σ(N-1) + κN(N-1))

λ is the throughput of one client (rows/s at N = 1), σ the contention (the serial
fraction: queueing for a shared resource) and κ the coherency cost (crosstalk: every
client waiting on every other). σ = κ = 0 is linear scaling; κ > 0 gives a peak at
N* = sqrt((1-σ)/κ), after which more concurrency lowers throughput.

    :func:`fit_usl` fits (σ, κ, λ) to measured (concurrency, throughput) pairs the way the
reference implementations do (R package ``usl``: ``nls`` with the "port" algorithm;
usl4j; Gunther's worked examples), so that their coefficients and bulkload's agree:

- the objective is the sum of squared *absolute* throughput errors,
  Σ (X_i − λN_i / (1 + σ(N_i−1) + κN_i(N_i−1)))², with R ``usl``'s bounds
  0 ≤ σ ≤ 1, 0 ≤ κ ≤ 1, λ > 0;
- it is minimised by Levenberg-Marquardt, projected onto those bounds, from R ``usl``'s
  start (λ = max X/N, σ = 0.01, κ = 0.0001) and from a linearised estimate (least
  squares on N/X = a + b(N−1) + cN(N−1)); the fits with σ, κ or both pinned to 0 are
  tried too, and the one with the smallest error is kept: the bounded optimum, even
  when it lies on a bound.

It returns None when the data cannot determine three parameters: fewer than 3 distinct
concurrency levels, a non-finite or non-positive value, or no fit with λ > 0.
``r_squared`` is the coefficient of determination of X. Below :data:`POOR_FIT` (0.8)
the model does not describe the measurements (``UslFit.poor``): its coefficients and
peak mean little, and reports say so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Levenberg-Marquardt iterations at most; it converges in tens.
_MAX_STEPS = 500
_MIN_LEVELS = 3
#: R usl's bounds on (λ, σ, κ)
_LOWER = np.array([0.0, 0.0, 0.0])
_UPPER = np.array([math.inf, 1.0, 1.0])
#: below this R², the fit is said to be poor and no conclusion is drawn from it
POOR_FIT = 0.8


@dataclass(frozen=True, slots=True)
class UslFit:
    """Fitted USL coefficients; ``max_measured`` is the highest concurrency fitted."""

    sigma: float
    kappa: float
    lam: float
    r_squared: float
    max_measured: float

    def throughput(self, n: float) -> float:
        """Modelled throughput at concurrency ``n`` (same unit as the fitted data)."""
        return usl_throughput(n, self.sigma, self.kappa, self.lam)

    @property
    def poor(self) -> bool:
        """The model does not describe the measurements (R² below :data:`POOR_FIT`)."""
        return is_poor_fit(self.r_squared)

    @property
    def peak_concurrency(self) -> float | None:
        """Concurrency of the highest modelled throughput, sqrt((1-σ)/κ), at least 1.

        None when κ == 0: without the coherency term, throughput never falls."""
        if self.kappa <= 0:
            return None
        return max(1.0, math.sqrt(max(0.0, 1 - self.sigma) / self.kappa))

    @property
    def peak_throughput(self) -> float | None:
        """Modelled throughput at ``peak_concurrency`` (None when there is no peak)."""
        peak = self.peak_concurrency
        return None if peak is None else self.throughput(peak)

    def curve(self, points: int = 64, *, up_to: float | None = None) -> list[tuple[float, float]]:
        """(N, X(N)) at ``points`` concurrencies from 1 to ``up_to`` (default: the highest
        level measured), spaced geometrically, as sweeps double their levels."""
        if points < 2:
            raise ValueError("a curve needs at least 2 points")
        end = max(up_to if up_to is not None else self.max_measured, 1.0)
        return [(float(n), self.throughput(float(n))) for n in np.geomspace(1.0, end, points)]


def is_poor_fit(r_squared: float) -> bool:
    """Whether a fit with this R² is too poor to draw conclusions from (or R² unknown)."""
    return not r_squared >= POOR_FIT


def usl_throughput(n: float, sigma: float, kappa: float, lam: float) -> float:
    """X(N) = λN / (1 + σ(N-1) + κN(N-1))."""
    return lam * n / (1 + sigma * (n - 1) + kappa * n * (n - 1))


def fit_usl(concurrency: Sequence[float], throughput: Sequence[float]) -> UslFit | None:
    """Fit the USL to measured levels (repeats of a level are fine). None when degenerate."""
    if len(concurrency) != len(throughput):
        raise ValueError("concurrency and throughput must have the same length")
    n = np.asarray(concurrency, dtype=np.float64)
    x = np.asarray(throughput, dtype=np.float64)
    if len(np.unique(n)) < _MIN_LEVELS:
        return None
    if not (np.all(np.isfinite(n)) and np.all(np.isfinite(x))):
        return None
    if np.any(n <= 0) or np.any(x <= 0):
        return None
    starts = [(float(np.max(x / n)), 0.01, 0.0001)]  # R usl's
    linear = _linear_fit(n, x)
    if linear is not None:
        starts.append(linear)
    # Simplest model first; a fuller one must do better than rounding noise (so linear
    # data gives κ = 0 exactly, not 1e-21 and a peak at N = 10^10).
    noise = 1e-12 * float(np.sum(x**2))
    best: tuple[float, np.ndarray] | None = None
    for free in _FREE_SETS:
        for start in starts:
            params = _least_squares(n, x, np.array(start) * free, free)
            error = _squared_error(n, x, params)
            if math.isfinite(error) and (best is None or error < best[0] - noise):
                best = (error, params)
    if best is None:
        return None
    params = best[1]
    lam, sigma, kappa = (float(p) for p in params)
    return UslFit(
        sigma=sigma,
        kappa=kappa,
        lam=lam,
        r_squared=_r_squared(x, _model(n, params)),
        max_measured=float(n.max()),
    )


#: which of (λ, σ, κ) are fitted, simplest first: σ and κ pinned to 0, one of them, none
_FREE_SETS = tuple(
    np.array(mask, dtype=np.float64) for mask in ((1, 0, 0), (1, 1, 0), (1, 0, 1), (1, 1, 1))
)


def _linear_fit(n: np.ndarray, x: np.ndarray) -> tuple[float, float, float] | None:
    """(λ, σ, κ) from the linearised form N/X = a + b(N-1) + cN(N-1), each row weighted
    by X/N, with σ, κ ≥ 0: a starting point that is already near the fit."""
    target = n / x
    weight = 1 / target
    columns = {"a": np.ones_like(n), "b": n - 1, "c": n * (n - 1)}
    best: tuple[float, dict[str, float]] | None = None
    for free in (("b", "c"), ("b",), ("c",), ()):
        names = ("a", *free)
        design = np.column_stack([columns[name] for name in names]) * weight[:, None]
        solution, *_ = np.linalg.lstsq(design, target * weight, rcond=None)
        coefficients = {"b": 0.0, "c": 0.0} | dict(zip(names, solution.tolist(), strict=True))
        if coefficients["a"] <= 0 or coefficients["b"] < 0 or coefficients["c"] < 0:
            continue
        error = float(np.sum((design @ solution - target * weight) ** 2))
        if best is None or error < best[0]:
            best = (error, coefficients)
    if best is None:
        return None
    a, b, c = best[1]["a"], best[1]["b"], best[1]["c"]
    return 1 / a, min(b / a, 1.0), min(c / a, 1.0)


def _least_squares(n: np.ndarray, x: np.ndarray, start: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Levenberg-Marquardt on the absolute error of X over the ``free`` parameters (the
    others stay as in ``start``), each step projected onto R usl's bounds. Returns
    [λ, σ, κ], never worse than ``start``: only improving steps are taken."""
    params: np.ndarray = np.asarray(np.clip(start, _LOWER, _UPPER))
    error = _squared_error(n, x, params)
    if not math.isfinite(error):
        return params
    damping = 1e-3
    for _ in range(_MAX_STEPS):
        jacobian = _jacobian(n, params)
        gradient = jacobian.T @ (_model(n, params) - x)
        # A parameter on a bound that the step would push past stays there this step:
        # projecting such a step instead would crawl along the bound for hundreds.
        pushed_out = ((params <= _LOWER) & (gradient > 0)) | ((params >= _UPPER) & (gradient < 0))
        fitted = np.flatnonzero((free > 0) & ~pushed_out)
        if fitted.size == 0:
            break
        jacobian, gradient = jacobian[:, fitted], gradient[fitted]
        normal = jacobian.T @ jacobian
        improved = False
        while damping < 1e12:
            scaled = normal + damping * np.diag(np.diag(normal) + 1e-300)
            try:
                step = np.linalg.solve(scaled, -gradient)
            except np.linalg.LinAlgError:  # a flat direction: no step to take
                damping *= 10
                continue
            candidate = params.copy()
            candidate[fitted] += step
            candidate = np.asarray(np.clip(candidate, _LOWER, _UPPER))
            candidate_error = _squared_error(n, x, candidate)
            if candidate_error < error:
                improved = error - candidate_error > 1e-10 * error  # nls "port": rel.tol
                params, error = candidate, candidate_error
                damping = max(damping / 10, 1e-12)
                break
            damping *= 10
        if not improved or error == 0:
            break
    return params


def _model(n: np.ndarray, params: np.ndarray) -> np.ndarray:
    lam, sigma, kappa = params
    return np.asarray(lam * n / (1 + sigma * (n - 1) + kappa * n * (n - 1)))


def _squared_error(n: np.ndarray, x: np.ndarray, params: np.ndarray) -> float:
    if params[0] <= 0:
        return math.inf
    error = float(np.sum((_model(n, params) - x) ** 2))
    return error if math.isfinite(error) else math.inf


def _jacobian(n: np.ndarray, params: np.ndarray) -> np.ndarray:
    """d X(N) / d(λ, σ, κ) for every level."""
    lam, sigma, kappa = params
    denominator = 1 + sigma * (n - 1) + kappa * n * (n - 1)
    columns: list[np.ndarray] = [
        n / denominator,
        -lam * n * (n - 1) / denominator**2,
        -lam * n * n * (n - 1) / denominator**2,
    ]
    return np.asarray(np.column_stack(columns))


def _r_squared(measured: np.ndarray, predicted: np.ndarray) -> float:
    residual = float(np.sum((measured - predicted) ** 2))
    total = float(np.sum((measured - measured.mean()) ** 2))
    if total == 0:
        # Every level measured the same throughput: perfect if the model is flat too.
        return 1.0 if residual <= 1e-12 * float(np.sum(measured**2)) else 0.0
    return 1 - residual / total
