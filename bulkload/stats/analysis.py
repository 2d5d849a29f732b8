"""Choosing a concurrency (and batch size) from the levels of a sweep.

A sweep measures one :class:`LevelPoint` per (concurrency, batch size). From them:

:func:`recommend` picks the level to use:

- **With an SLO** (thresholds from :func:`~bulkload.stats.thresholds.parse_slo`): among
  the levels that meet every threshold, the one with the highest rows/s; on a tie, the
  lower concurrency. A threshold pinned to another level (``p99@32<...``) does not
  judge this one; ``@all`` and unpinned thresholds judge every level. When no level
  meets the SLO there is no recommendation, and the reason names the SLO and what the
  closest level measured.
- **Without an SLO**, the *knee*: the lowest concurrency whose throughput is within
  :data:`KNEE_TOLERANCE` (10%) of the best measured throughput. Past the knee, more
  concurrency buys little throughput and costs latency and load on the target.
- **Several batch sizes** (a grid): first the batch size whose best level (under the
  SLO, if any) has the highest rows/s (on a tie, the smaller batch), then the rule
  above within that batch size.

It also fits the Universal Scalability Law (:mod:`bulkload.stats.usl`) to the chosen
batch size's (measured concurrency, rows/s); :func:`usl_fits` fits every batch size.
Levels with no measured concurrency or no throughput are left out of the fits.

For ``--sweep auto``, on the levels of one batch size:

- :func:`saturation_level`: the first level after which throughput rises by less than
  :data:`SATURATION_GAIN` (5%): doubling past it is not worth it.
- :func:`refine_levels`: up to 3 integer levels, not yet measured, spaced geometrically
  between the knee's neighbours, to locate the knee more closely.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from bulkload.stats.thresholds import Threshold, ThresholdResult
from bulkload.stats.usl import UslFit, fit_usl

#: the knee is the lowest level within this fraction of the best throughput
KNEE_TOLERANCE = 0.10
#: a level is saturated when the next one adds less than this fraction of throughput
SATURATION_GAIN = 0.05
#: extra levels refine_levels proposes at most
MAX_REFINE_LEVELS = 3


@dataclass(frozen=True, slots=True)
class LevelPoint:
    """One measured level: the concurrency asked, the mean in flight, the batch size,
    throughput, and the metrics thresholds check (latencies in ms, error_rate a
    fraction; see :mod:`bulkload.stats.thresholds`)."""

    concurrency: int
    measured_concurrency: float
    batch_size: int
    rows_per_s: float
    metrics: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Recommendation:
    """The level to use (None and None when none qualifies) and why, in one line."""

    concurrency: int | None
    batch_size: int | None
    reason: str
    usl: UslFit | None


def recommend(
    points: Sequence[LevelPoint], slo: Sequence[Threshold] = (), unit: str = "rows/s"
) -> Recommendation:
    """The recommended (concurrency, batch size); the rules are in the module docstring.
    ``unit`` names the points' throughput in the reason (queries/s of a read sweep)."""
    if not points:
        return Recommendation(None, None, "no levels were measured", None)
    candidates = [p for p in points if not _failures(p, slo)] if slo else list(points)
    if not candidates:
        return Recommendation(None, None, _no_level_meets(points, slo), _usl_of_best(points))
    batch_size = _fastest(candidates).batch_size
    same_batch = [p for p in candidates if p.batch_size == batch_size]
    usl = _fit([p for p in points if p.batch_size == batch_size])
    grid = len({p.batch_size for p in points}) > 1
    if slo:
        chosen = _fastest(same_batch)
        why = f"the fastest level meeting the SLO ({_listed(slo)})"
    else:
        best = _fastest(same_batch)
        chosen = _knee(same_batch)
        percent = f"{KNEE_TOLERANCE:.0%}"
        why = (
            f"the lowest level within {percent} of the best "
            f"({best.rows_per_s:,.0f} {unit} at concurrency {best.concurrency})"
            if chosen is not best
            else "the best measured throughput"
        )
    if grid:
        why += ", with the batch size whose best level is fastest"
    reason = f"{_level(chosen)}: {chosen.rows_per_s:,.0f} {unit}, {why}"
    return Recommendation(chosen.concurrency, chosen.batch_size, reason, usl)


def usl_fits(points: Iterable[LevelPoint]) -> dict[int, UslFit | None]:
    """The USL fitted to each batch size's levels, by batch size."""
    by_batch: dict[int, list[LevelPoint]] = {}
    for point in points:
        by_batch.setdefault(point.batch_size, []).append(point)
    return {size: _fit(levels) for size, levels in sorted(by_batch.items())}


def saturation_level(points: Sequence[LevelPoint]) -> int | None:
    """The first concurrency after which throughput rises by less than 5%, or None while
    every step still gains (or fewer than two levels). One batch size."""
    levels = _by_concurrency(points)
    for current, following in itertools.pairwise(levels):
        if following.rows_per_s < current.rows_per_s * (1 + SATURATION_GAIN):
            return current.concurrency
    return None


def refine_levels(points: Sequence[LevelPoint]) -> list[int]:
    """Up to 3 new integer levels between the knee's measured neighbours, spaced
    geometrically (next to the knee on one side only when it is at an edge). The knee,
    not the best level: on a plateau the best is whichever level the noise favoured,
    while the knee is where throughput stops growing, the level worth locating."""
    levels = _by_concurrency(points)
    if not levels:
        return []
    measured = sorted({p.concurrency for p in levels})
    knee = _knee(levels).concurrency
    where = measured.index(knee)
    low = measured[max(where - 1, 0)]
    high = measured[min(where + 1, len(measured) - 1)]
    if low == high:
        return []
    inside = np.geomspace(low, high, MAX_REFINE_LEVELS + 2)[1:-1]
    proposed = {round(float(level)) for level in inside}
    return sorted(level for level in proposed if low < level < high and level not in measured)


def _failures(point: LevelPoint, slo: Sequence[Threshold]) -> list[ThresholdResult]:
    """The SLO thresholds that judge this level and fail."""
    results = [
        t.check(point.metrics)
        for t in slo
        if t.selector in (None, "all") or t.selector == point.concurrency
    ]
    return [r for r in results if not r.ok]


def _no_level_meets(points: Sequence[LevelPoint], slo: Sequence[Threshold]) -> str:
    """Name the SLO and the closest level: fewest failed thresholds, then lowest level."""
    closest = min(points, key=lambda p: (len(_failures(p, slo)), p.concurrency, p.batch_size))
    failed = "; ".join(str(r) for r in _failures(closest, slo))
    return f"no level meets the SLO ({_listed(slo)}); closest, {_level(closest)}: {failed}"


def _fastest(points: Iterable[LevelPoint]) -> LevelPoint:
    """Highest rows/s; on a tie the lower concurrency, then the smaller batch."""
    return min(points, key=lambda p: (-p.rows_per_s, p.concurrency, p.batch_size))


def _knee(points: Sequence[LevelPoint]) -> LevelPoint:
    best = _fastest(points).rows_per_s
    near_best = [p for p in points if p.rows_per_s >= best * (1 - KNEE_TOLERANCE)]
    return min(near_best, key=lambda p: (p.concurrency, -p.rows_per_s))


def _by_concurrency(points: Sequence[LevelPoint]) -> list[LevelPoint]:
    if len({p.batch_size for p in points}) > 1:
        raise ValueError("expected the levels of one batch size")
    return sorted(points, key=lambda p: p.concurrency)


def _fit(points: Sequence[LevelPoint]) -> UslFit | None:
    usable = [p for p in points if p.measured_concurrency > 0 and p.rows_per_s > 0]
    return fit_usl([p.measured_concurrency for p in usable], [p.rows_per_s for p in usable])


def _usl_of_best(points: Sequence[LevelPoint]) -> UslFit | None:
    """With no recommendation, the fit of the batch size with the fastest level."""
    size = _fastest(points).batch_size
    return _fit([p for p in points if p.batch_size == size])


def _level(point: LevelPoint) -> str:
    return f"concurrency {point.concurrency} x batch {point.batch_size:,}"


def _listed(slo: Sequence[Threshold]) -> str:
    return ", ".join(str(t) for t in slo)
