"""The recommendation of a sweep: which level to use, from the measured ones (and the
USL fit). Run after a sweep, and again after shards are merged (``report merge``), so it
lives below the sweep and imports neither pyarrow nor the backends."""

from __future__ import annotations

from collections.abc import Iterable

from bulkload.bench.result import SweepResult
from bulkload.stats.analysis import KNEE_TOLERANCE, LevelPoint, recommend
from bulkload.stats.level import LevelResult
from bulkload.stats.thresholds import Threshold


def recommend_into(result: SweepResult, slo: tuple[Threshold, ...]) -> None:
    """Pick the level to use from the measured ones (and fit the USL), into ``result``:
    after a sweep, and again after shards are merged."""
    measured = [lvl for lvl in result.levels if lvl.outcome == "completed" and lvl.batches]
    if result.model == "open":
        _recommend_rate(result, measured, slo)
    else:
        _recommend_concurrency(result, measured, slo)
    if result.recommendation and (partial := _partial(result, measured)):
        result.recommendation += f" ({partial})"


def _partial(result: SweepResult, measured: list[LevelResult]) -> str | None:
    """What a recommendation from a sweep that did not run all its levels must say."""
    planned = result.levels_planned
    if result.outcome == "completed" and (planned is None or len(measured) >= planned):
        return None
    if planned is None:  # --sweep auto: how many it would have run is unknown
        return f"from a partial sweep: {len(measured)} levels before it stopped"
    return f"from a partial sweep: {len(measured)} of {planned} levels"


def _recommend_concurrency(
    result: SweepResult, measured: list[LevelResult], slo: tuple[Threshold, ...]
) -> None:
    choice = recommend(level_points(measured, result.fit_on), slo, _unit(result, measured))
    result.recommended_concurrency = choice.concurrency
    result.recommended_batch_size = choice.batch_size
    result.recommendation = choice.reason
    result.recommendation_rule = (
        f"the fastest level meeting the SLO ({', '.join(map(str, slo))})"
        if slo
        else f"the lowest concurrency within {KNEE_TOLERANCE:.0%} of the best throughput"
    )
    if len({level.batch_size for level in measured}) > 1:
        result.recommendation_rule += ", with the batch size whose best level is fastest"
    if choice.usl is not None:
        fit = choice.usl
        result.usl = {
            "sigma": fit.sigma,
            "kappa": fit.kappa,
            "lambda": fit.lam,
            "r_squared": fit.r_squared,
            # R² below 0.8: reports say the fit is poor and give no peak
            "poor_fit": fit.poor,
            "peak_concurrency": fit.peak_concurrency,
            "batch_size": choice.batch_size,
        }


#: open model: a rate is sustained when the writes/s measured are within this of it...
RATE_TOLERANCE = 0.05
#: ... no send was missed, and at most this share of the sends was delayed (or one)
DELAYED_TOLERANCE = 0.01


def _recommend_rate(
    result: SweepResult, levels: list[LevelResult], slo: tuple[Threshold, ...]
) -> None:
    """Open model: the highest arrival rate the target kept up with (``_shortfalls``
    says what that takes), and, with --slo, that met it. The rates above it that were
    not sustained are named with the reason, as is the lowest when none was."""
    cap = levels[0].concurrency if levels else None
    result.recommendation_rule = (
        f"the highest arrival rate with writes/s within {RATE_TOLERANCE:.0%} of the rate, "
        f"no send missed and at most {DELAYED_TOLERANCE:.0%} of sends (or 1) delayed "
        + (f"waiting for one of the {cap} in-flight slots" if cap else "waiting for a slot")
        + (f", meeting the SLO ({', '.join(map(str, slo))})" if slo else "")
    )
    shortfalls = {id(level): _shortfalls(level, slo) for level in levels}
    good = [level for level in levels if not shortfalls[id(level)]]

    def why_not(level: LevelResult) -> str:
        return f"{level.rate or 0:g}/s: {', '.join(shortfalls[id(level)])}"

    if not good:
        lowest = min(levels, key=lambda level: level.rate or 0, default=None)
        result.recommendation = (
            "no arrival rate was sustained"
            + (f" within the SLO ({', '.join(map(str, slo))})" if slo else "")
            + (f" ({why_not(lowest)})" if lowest is not None else "")
        )
        return
    best = max(good, key=lambda level: (level.rate or 0, -level.batch_size))
    result.recommended_rate = best.rate
    result.recommended_batch_size = best.batch_size
    result.recommended_concurrency = best.concurrency
    above = sorted(
        (lvl for lvl in levels if (lvl.rate or 0) > (best.rate or 0) and shortfalls[id(lvl)]),
        key=lambda level: level.rate or 0,
    )
    result.recommendation = (
        f"{best.rate:g} writes/s (batch {best.batch_size:,}): the highest rate sustained"
        + (" within the SLO" if slo else "")
        + (f"; not sustained: {'; '.join(map(why_not, above))}" if above else "")
    )


def _shortfalls(level: LevelResult, slo: tuple[Threshold, ...]) -> list[str]:
    """Why ``level`` was not sustained; empty when it was."""
    rate = level.rate or 0.0
    sends = level.batches + level.batches_failed + level.sends_missed
    found = []
    if level.batches_per_s < rate * (1 - RATE_TOLERANCE):
        found.append(f"only {level.batches_per_s:,.4g} writes/s")
    if level.sends_missed:
        found.append(f"{level.sends_missed:,} of {sends:,} sends missed")
    if level.sends_delayed > max(1, int(sends * DELAYED_TOLERANCE)):
        share = level.sends_delayed / sends if sends else 1.0
        found.append(f"{level.sends_delayed:,} of {sends:,} sends delayed ({share:.1%})")
    metrics = level.metrics()
    judged = [t for t in slo if t.selector is None or t.selects(rate, recommended=None)]
    found += [f"{check} (SLO)" for t in judged if not (check := t.check(metrics)).ok]
    return found


def level_points(levels: Iterable[LevelResult], fit_on: str | None = None) -> list[LevelPoint]:
    """Each completed level's throughput: rows/s of writes, operations/s of a query or
    mixed level, or the operations/s of ``fit_on`` (one named operation) when given."""
    return [
        LevelPoint(
            concurrency=level.concurrency,
            measured_concurrency=level.in_flight_mean,
            batch_size=level.batch_size,
            # a query or mixed sweep is judged on operations per second (its rows vary)
            rows_per_s=_throughput(level, fit_on),
            metrics=level.metrics(),
        )
        for level in levels
        if level.outcome == "completed"
    ]


def _unit(result: SweepResult, measured: list[LevelResult]) -> str:
    """What the recommendation's throughput counts (as :func:`_throughput` measures it)."""
    if result.fit_on is not None:  # one operation's count per second
        kinds = {
            level.operations[result.fit_on].kind
            for level in measured
            if result.fit_on in level.operations
        }
        return "queries/s" if kinds == {"query"} else "operations/s"
    kinds = {level.kind for level in measured}
    if kinds == {"query"}:
        return "queries/s"
    return "rows/s" if kinds <= {"write"} else "operations/s"


def _throughput(level: LevelResult, fit_on: str | None) -> float:
    if fit_on is not None:
        operation = level.operations.get(fit_on)
        count = operation.count if operation is not None else 0
        return count / level.elapsed_s if level.elapsed_s > 0 else 0.0
    # a query or mixed sweep is judged on operations per second (its rows vary)
    return level.batches_per_s if level.kind != "write" else level.rows_per_s
