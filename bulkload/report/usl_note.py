# ruff: noqa: RUF001, RUF002  (the USL fit is described with its own Greek letters)
"""How a saved USL fit is described: its coefficients, and whether to believe them.

A fit with R² below :data:`~bulkload.stats.usl.POOR_FIT` does not describe the measured
levels: the reports say so, give no peak, and point at the recommendation, which is
made from the measurements alone. Results saved before the ``poor_fit`` key existed are
judged by their R².
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from bulkload.stats.usl import POOR_FIT, is_poor_fit


def fit_is_poor(usl: Mapping[str, Any]) -> bool:
    if "poor_fit" in usl:
        return bool(usl["poor_fit"])
    r_squared = usl.get("r_squared")
    return is_poor_fit(float(r_squared) if r_squared is not None else math.nan)


def coefficients(usl: Mapping[str, Any]) -> str:
    """σ 0.0277  κ 0.000104  λ 90 rows/s  R² 0.990"""
    return (
        f"σ {usl['sigma']:.4f}  κ {usl['kappa']:.6f}  λ {usl['lambda']:,.0f} rows/s"
        f"  R² {usl['r_squared']:.3f}"
    )


def verdict(usl: Mapping[str, Any]) -> str:
    """Where the model peaks, or, for a poor fit, that it says nothing."""
    if fit_is_poor(usl):
        return (
            f"the fit is poor (R² below {POOR_FIT}): the model does not describe these "
            "levels, so its coefficients and peak mean little; the recommendation is made "
            "from the measurements alone"
        )
    peak = usl.get("peak_concurrency")
    return f"peak at concurrency {peak:,.1f}" if peak else "no peak (κ = 0)"
