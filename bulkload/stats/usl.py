# The formulas read as in the literature: Greek letters in docstrings and comments.
# ruff: noqa: RUF002, RUF003
"""Universal Scalability Law (Gunther): how throughput grows, then falls, with concurrency.

    X(N) = λN / (1 + σ(N-1) + κN(N-1))

λ is the throughput of one client (rows/s at N = 1), σ the contention (the serial
fraction: queueing for a shared resource) and κ the coherency cost (crosstalk: every
client waiting on every other). σ = κ = 0 is linear scaling; κ > 0 gives a peak at
N* = sqrt((1-σ)/κ), after which more concurrency lowers throughput.

:func:`fit_usl` fits (σ, κ, λ) to measured (concurrency, throughput) pairs:

1. Linear least squares on the linearised form N/X = a + b(N-1) + cN(N-1), with
   a = 1/λ, b = σ/λ, c = κ/λ. Each row is divided by its N/X, so each level counts by
   its *relative* error (measurement noise is roughly proportional to throughput; an
   unweighted fit would let the highest levels decide everything).
2. σ, κ ≥ 0: when the free fit makes one negative, the fits with it (or both) pinned
   to 0 are tried and the feasible one with the smallest error is kept — the exact
   solution of the constrained problem, since there are only two constraints.
3. A few damped Gauss-Newton (Levenberg-Marquardt) steps on the relative error of X
   itself, keeping σ, κ ≥ 0, refine the linearised estimate.

It returns None when the data cannot determine three parameters: fewer than 3 distinct
concurrency levels, a non-finite or non-positive value, or a fit with λ ≤ 0.
``r_squared`` is the coefficient of determination of X (not of N/X).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Levenberg-Marquardt iterations after the linear fit; it converges in a handful.
_REFINE_STEPS = 100
_MIN_LEVELS = 3


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
    start = _linear_fit(n, x)
    if start is None:
        return None
    params = _refine(n, x, start)
    lam, sigma, kappa = (float(p) for p in params)
    return UslFit(
        sigma=sigma,
        kappa=kappa,
        lam=lam,
        r_squared=_r_squared(x, _model(n, params)),
        max_measured=float(n.max()),
    )


def _linear_fit(n: np.ndarray, x: np.ndarray) -> tuple[float, float, float] | None:
    """(λ, σ, κ) from the linearised form, with σ, κ ≥ 0 (see the module docstring)."""
    target = n / x
    weight = 1 / target  # relative residuals
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
    return 1 / a, b / a, c / a


def _refine(n: np.ndarray, x: np.ndarray, start: tuple[float, float, float]) -> np.ndarray:
    """Levenberg-Marquardt on the relative error of X, projected onto σ, κ ≥ 0.

    Returns [λ, σ, κ]; never worse than ``start``, since only improving steps are taken."""
    params = np.array(start)
    error = _squared_error(n, x, params)
    damping = 1e-3
    for _ in range(_REFINE_STEPS):
        jacobian = _jacobian(n, x, params)
        normal = jacobian.T @ jacobian
        gradient = jacobian.T @ (_model(n, params) / x - 1)
        improved = False
        while damping < 1e9:
            scaled = normal + damping * np.diag(np.diag(normal) + 1e-12)
            try:
                candidate = params + np.linalg.solve(scaled, -gradient)
            except np.linalg.LinAlgError:  # a flat direction: no step to take
                damping *= 10
                continue
            candidate[1:] = np.maximum(candidate[1:], 0.0)  # σ, κ ≥ 0
            candidate_error = _squared_error(n, x, candidate)
            if candidate_error < error:
                improved = error - candidate_error > 1e-12 * error
                params, error = candidate, candidate_error
                damping = max(damping / 10, 1e-9)
                break
            damping *= 10
        if not improved:
            break
    return params


def _model(n: np.ndarray, params: np.ndarray) -> np.ndarray:
    lam, sigma, kappa = params
    return np.asarray(lam * n / (1 + sigma * (n - 1) + kappa * n * (n - 1)))


def _squared_error(n: np.ndarray, x: np.ndarray, params: np.ndarray) -> float:
    if params[0] <= 0:
        return math.inf
    return float(np.sum((_model(n, params) / x - 1) ** 2))


def _jacobian(n: np.ndarray, x: np.ndarray, params: np.ndarray) -> np.ndarray:
    """d(X(N)/x - 1) / d(λ, σ, κ) for every level."""
    lam, sigma, kappa = params
    denominator = 1 + sigma * (n - 1) + kappa * n * (n - 1)
    columns: list[np.ndarray] = [
        n / denominator,
        -lam * n * (n - 1) / denominator**2,
        -lam * n * n * (n - 1) / denominator**2,
    ]
    return np.asarray(np.column_stack(columns) / x[:, None])


def _r_squared(measured: np.ndarray, predicted: np.ndarray) -> float:
    residual = float(np.sum((measured - predicted) ** 2))
    total = float(np.sum((measured - measured.mean()) ** 2))
    if total == 0:
        # Every level measured the same throughput: perfect if the model is flat too.
        return 1.0 if residual <= 1e-12 * float(np.sum(measured**2)) else 0.0
    return 1 - residual / total
