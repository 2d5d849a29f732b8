"""CI gates: ``--threshold`` expressions judged on a sweep's levels.

A gate pinned to a level (``p99@32<50ms``) is judged on every level run at that
concurrency (one per batch size), or in the open model at that arrival rate
(``p99@400<50ms``: 400 writes/s; the in-flight cap is the same at every rate), ``@all``
on every level, and a gate without a selector on the recommended level (on a ramp,
which recommends no level, on the ramp: one per batch size). A gate that
selects no level fails ("not measured"): a gate must never pass because there was
nothing to judge.

A gate written ``... before-break`` (scope ``before_break``) is judged on a ramp's
intervals before its breaking point, added up (:func:`~bulkload.stats.breaking.before_break`),
or on the whole ramp when it never broke; on a run that was no ramp it fails, "not
measured". Every gate saved says the scope it was judged on.

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
from bulkload.stats.breaking import before_break, window_metrics
from bulkload.stats.level import LevelResult
from bulkload.stats.thresholds import (
    BEFORE_BREAK,
    WHOLE,
    Threshold,
    ThresholdResult,
    parse_threshold,
)


@dataclass(frozen=True, slots=True)
class GateResult:
    check: ThresholdResult
    level: LevelResult | None  # None: no level was selected
    #: what it was judged on: ``whole`` (the level's window, a ramp's whole length) or
    #: ``before_break`` (a ramp's intervals before its breaking point)
    scope: str = WHOLE
    #: before_break: seconds from the ramp's start to its breaking point (None: the
    #: ramp never broke, and the whole ramp was judged, or the run was no ramp)
    until_s: float | None = None
    ramp: bool = False  # whether the level was a ramp

    @property
    def ok(self) -> bool:
        return self.check.ok

    @property
    def judged_on(self) -> str:
        """The scope in words: what the measured figure is over."""
        if self.level is None:
            return "no level"
        if self.scope != BEFORE_BREAK:
            return "the whole ramp" if self.ramp else "the whole level"
        if not self.ramp:
            return "no ramp: no breaking point to judge before"
        if self.until_s is None:
            return "the whole ramp (it never broke)"
        return f"the ramp before its breaking point ({self.until_s:.1f}s in)"

    def to_dict(self) -> dict[str, Any]:
        level = self.level
        return {
            "expression": str(self.check.threshold),
            "level": None if level is None else _level_key(level),
            "measured": self.check.measured,
            "allowed": self.check.allowed,
            "ok": self.ok,
            "scope": self.scope,
            "until_s": self.until_s,
            "ramp": self.ramp,
            "judged_on": self.judged_on,
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
            until = data.get("until_s")
            scope = str(data.get("scope") or WHOLE)
            until_s = None if until is None else float(until)
        except (UsageError, KeyError, TypeError, ValueError):
            return None
        return cls(check, level, scope, until_s, bool(data.get("ramp")))

    def __str__(self) -> str:
        where = "no such level" if self.level is None else level_label(self.level)
        threshold = self.check.threshold
        measured = (
            "not measured"
            if self.check.measured is None
            else f"measured {threshold.render(self.check.measured)}"
        )
        verdict = "ok" if self.ok else "FAILED"
        scope = f" over {self.judged_on}" if self.ramp or self.scope == BEFORE_BREAK else ""
        return (
            f"{verdict}: {threshold} at {where}: {measured}{scope}, "
            f"allowed {threshold.op} {threshold.render(self.check.allowed)}"
        )


def judge(result: SweepResult, thresholds: Iterable[Threshold]) -> list[GateResult]:
    """Every gate on the levels it selects, once the sweep is over."""
    measured = [level for level in result.levels if level.outcome == "completed"]
    recommended = result.recommended_level()
    gates: list[GateResult] = []
    for threshold in thresholds:
        if threshold.selector is None and result.breaking_points is not None:
            chosen = measured  # a ramp: no level is recommended, the ramp is judged
        elif threshold.selector is None:
            chosen = [recommended] if recommended is not None else []
        else:
            chosen = [level for level in measured if _selects(threshold, level)]
        gates.extend(_on(threshold, chosen, result))
    return gates


def judge_level(level: LevelResult, thresholds: Iterable[Threshold]) -> list[GateResult]:
    """The gates that can be judged on one level as soon as it ends (pinned to it, or
    ``@all``); the gates on the recommended level, and those before a ramp's breaking
    point (found once the run is over), wait for the end."""
    return [
        GateResult(threshold.check(level.metrics()), level)
        for threshold in thresholds
        if threshold.selector is not None
        and threshold.scope == WHOLE
        and _selects(threshold, level)
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


def _on(threshold: Threshold, levels: list[LevelResult], result: SweepResult) -> list[GateResult]:
    if not levels:
        unmeasured = ThresholdResult(threshold, False, None, threshold.value)
        return [GateResult(unmeasured, None, threshold.scope)]
    if threshold.scope == BEFORE_BREAK:
        return [_before_break(threshold, level, result) for level in levels]
    ramp = result.breaking_points is not None
    return [GateResult(threshold.check(level.metrics()), level, ramp=ramp) for level in levels]


def _before_break(threshold: Threshold, level: LevelResult, result: SweepResult) -> GateResult:
    """Judged on the level's ramp up to its breaking point (``not measured`` when the
    level was no ramp)."""
    point = _breaking_point(result, level)
    if point is None or result.timeline is None:
        unmeasured = ThresholdResult(threshold, False, None, threshold.value)
        return GateResult(unmeasured, level, BEFORE_BREAK)
    window = before_break(result.timeline.intervals, point)
    until = None if point.get("cause") is None else float(point["time_s"])
    return GateResult(threshold.check(window_metrics(window)), level, BEFORE_BREAK, until, True)


def _breaking_point(result: SweepResult, level: LevelResult) -> dict[str, Any] | None:
    """The breaking point of the ramp ``level`` ran (a ramp per batch size; its tag,
    the driver's label, ends with its batch size)."""
    points = result.breaking_points or []
    suffix = f" batch {level.batch_size:,}"
    return next((p for p in points if str(p.get("tag", "")).endswith(suffix)), None)


def _level_key(level: LevelResult) -> dict[str, Any]:
    return {"concurrency": level.concurrency, "rate": level.rate, "batch_size": level.batch_size}
