"""CI gates: ``--threshold`` expressions judged on a sweep's levels.

A gate pinned to a level (``p99@32<50ms``) is judged on every level run at that
concurrency (one per batch size), or in the open model at that arrival rate
(``p99@400<50ms``: 400 writes/s; the in-flight cap is the same at every rate), ``@all``
on every level, and a gate without a selector on the recommended level. A gate that
selects no level fails ("not measured"): a gate must never pass because there was
nothing to judge.

Pinned and ``@all`` gates can be judged as soon as a level ends (``--abort-on-fail``);
a gate on the recommended level only once the sweep is over. :func:`judge_run` returns
the :class:`Verdict` of a whole run (gates and baseline comparison); what a failed
verdict means to the process (exit 99) is the CLI's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bulkload.bench.compare import Comparison, compare
from bulkload.bench.result import SweepResult
from bulkload.config import GateOptions
from bulkload.errors import UsageError
from bulkload.stats.level import LevelResult
from bulkload.stats.thresholds import Threshold, ThresholdResult, parse_threshold


@dataclass(frozen=True, slots=True)
class GateResult:
    check: ThresholdResult
    level: LevelResult | None  # None: no level was selected

    @property
    def ok(self) -> bool:
        return self.check.ok

    def to_dict(self) -> dict[str, Any]:
        level = self.level
        return {
            "expression": str(self.check.threshold),
            "level": None if level is None else _level_key(level),
            "measured": self.check.measured,
            "allowed": self.check.allowed,
            "ok": self.ok,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateResult | None:
        """A gate saved in a result's ``thresholds``; None when it cannot be read back
        (a file edited by hand)."""
        try:
            # the value is rendered with thousands separators: 10,000/s
            threshold = parse_threshold(str(data["expression"]).replace(",", ""))
            key = data.get("level")
            level = None
            if key is not None:
                level = LevelResult(key["concurrency"], key["batch_size"], rate=key.get("rate"))
            measured = data.get("measured")
            check = ThresholdResult(
                threshold,
                bool(data["ok"]),
                None if measured is None else float(measured),
                float(data["allowed"]),
            )
        except (UsageError, KeyError, TypeError, ValueError):
            return None
        return cls(check, level)

    def __str__(self) -> str:
        where = "no such level" if self.level is None else level_label(self.level)
        threshold = self.check.threshold
        measured = (
            "not measured"
            if self.check.measured is None
            else f"measured {threshold.render(self.check.measured)}"
        )
        verdict = "ok" if self.ok else "FAILED"
        return (
            f"{verdict}: {threshold} at {where}: {measured}, "
            f"allowed {threshold.op} {threshold.render(self.check.allowed)}"
        )


def judge(result: SweepResult, thresholds: Iterable[Threshold]) -> list[GateResult]:
    """Every gate on the levels it selects, once the sweep is over."""
    measured = [level for level in result.levels if level.outcome == "completed"]
    recommended = result.recommended_level()
    gates: list[GateResult] = []
    for threshold in thresholds:
        if threshold.selector is None:
            chosen = [recommended] if recommended is not None else []
        else:
            chosen = [level for level in measured if _selects(threshold, level)]
        gates.extend(_on(threshold, chosen))
    return gates


def judge_level(level: LevelResult, thresholds: Iterable[Threshold]) -> list[GateResult]:
    """The gates that can be judged on one level as soon as it ends (pinned to it, or
    ``@all``); the gates on the recommended level wait for the end."""
    return [
        GateResult(threshold.check(level.metrics()), level)
        for threshold in thresholds
        if threshold.selector is not None and _selects(threshold, level)
    ]


def failed(gates: Sequence[GateResult]) -> list[GateResult]:
    return [gate for gate in gates if not gate.ok]


@dataclass(frozen=True)
class Verdict:
    """The gates and the baseline comparison of one result (and the baseline itself,
    for a report that draws both runs)."""

    gates: list[GateResult]
    comparison: Comparison | None
    baseline: SweepResult | None = None

    @property
    def failed(self) -> bool:
        return bool(failed(self.gates)) or bool(self.comparison and self.comparison.regressed)


def judge_run(result: SweepResult, gates: GateOptions, baseline: SweepResult | None) -> Verdict:
    """Judge the gates and compare with the baseline; both go into ``result``."""
    judged = judge(result, gates.thresholds)
    result.thresholds = [gate.to_dict() for gate in judged]
    comparison = None
    if baseline is not None:
        comparison = compare(
            baseline, result, max_regression=gates.max_regression, baseline=gates.baseline or ""
        )
        result.comparison = comparison.to_dict()
    return Verdict(judged, comparison, baseline)


def level_label(level: LevelResult) -> str:
    if level.rate is not None:
        return f"{level.rate:g} writes/s batch {level.batch_size:,}"
    return f"c={level.concurrency} batch {level.batch_size:,}"


def _selects(threshold: Threshold, level: LevelResult) -> bool:
    at = level.rate if level.rate is not None else level.concurrency
    return threshold.selects(at, recommended=None)


def _on(threshold: Threshold, levels: list[LevelResult]) -> list[GateResult]:
    if not levels:
        return [GateResult(ThresholdResult(threshold, False, None, threshold.value), None)]
    return [GateResult(threshold.check(level.metrics()), level) for level in levels]


def _level_key(level: LevelResult) -> dict[str, Any]:
    return {"concurrency": level.concurrency, "rate": level.rate, "batch_size": level.batch_size}
