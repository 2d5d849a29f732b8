"""A run against a baseline: per level, what changed, and which changes are regressions.

Levels are matched by (concurrency, arrival rate, batch size). A regression is
throughput (rows/s) lower, or p99 latency higher, than the baseline's by more than
``max_regression`` (a fraction: 0.10 is 10%). In a query or mixed run each operation
both levels have (a named query, or the writes) is compared too, on its operations/s
and its p99, and regresses the same way. A level (or an operation) only one of the
runs has is listed, never a regression. Equal figures are a 0% change: identical runs never regress.
Runs of different models are refused (:func:`check_comparable`): a closed model's
concurrency levels and an open model's arrival rates measure different things.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bulkload.bench.result import SweepResult
from bulkload.errors import InputError
from bulkload.stats.level import LevelResult

DEFAULT_MAX_REGRESSION = 0.10

#: figure -> (how it is read from a level, whether higher is better); the regressions
#: are judged on the first two, the others are shown
_FIGURES: dict[str, tuple[str, bool]] = {
    "rows_per_s": ("rows_per_s", True),
    "p99": ("p99", False),
    "p50": ("p50", False),
    "errors": ("errors", False),
}
#: an operation's figures (read from the level's ``NAME.METRIC``); gated: per_s and p99
_OPERATION_FIGURES: dict[str, tuple[str, bool]] = {
    "per_s": ("per_s", True),
    "rows_per_s": ("rows_per_s", True),
    "p99": ("p99", False),
    "p50": ("p50", False),
    "errors": ("errors", False),
}
_GATED = ("rows_per_s", "p99")
_OPERATION_GATED = ("per_s", "p99")

LevelKey = tuple[int, float | None, int]


@dataclass(frozen=True, slots=True)
class Change:
    figure: str
    base: float
    run: float
    regressed: bool

    @property
    def relative(self) -> float | None:
        """(run - base) / base; None when the base is 0."""
        if self.base == 0:
            return 0.0 if self.run == 0 else None
        return (self.run - self.base) / self.base

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "run": self.run,
            "change": self.relative,
            "regressed": self.regressed,
        }


@dataclass(frozen=True, slots=True)
class LevelComparison:
    key: LevelKey
    changes: list[Change]
    #: each operation both levels ran (a query's name, or ``write``): its changes
    operations: dict[str, list[Change]] = field(default_factory=dict)
    #: operations only the baseline's level, or only the run's, has
    operations_only_in_base: list[str] = field(default_factory=list)
    operations_only_in_run: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[Change]:
        """The total's regressions (see :attr:`operation_regressions` for each operation's)."""
        return [change for change in self.changes if change.regressed]

    @property
    def operation_regressions(self) -> list[tuple[str, Change]]:
        return [
            (name, change)
            for name, changes in self.operations.items()
            for change in changes
            if change.regressed
        ]

    @property
    def regressed(self) -> bool:
        return bool(self.regressions or self.operation_regressions)

    @property
    def label(self) -> str:
        return key_label(self.key)


@dataclass(frozen=True)
class Comparison:
    max_regression: float
    levels: list[LevelComparison]
    only_in_base: list[LevelKey] = field(default_factory=list)
    only_in_run: list[LevelKey] = field(default_factory=list)
    baseline: str = ""  # where the baseline came from

    @property
    def regressed(self) -> bool:
        return any(level.regressed for level in self.levels)

    def regression_lines(self) -> list[str]:
        worse = f"(more than {self.max_regression * 100:g}% worse)"
        lines = []
        for level in self.levels:
            lines += [f"{level.label}: {_describe(change)} {worse}" for change in level.regressions]
            lines += [
                f"{level.label} {name}: {_describe(change)} {worse}"
                for name, change in level.operation_regressions
            ]
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "max_regression": self.max_regression,
            "regressed": self.regressed,
            "levels": [
                {
                    **_key_dict(level.key),
                    "label": level.label,
                    "regressed": level.regressed,  # the total or an operation
                    **{change.figure: change.to_dict() for change in level.changes},
                    **(
                        {
                            "operations": {
                                name: {change.figure: change.to_dict() for change in changes}
                                for name, changes in level.operations.items()
                            },
                            "operations_only_in_baseline": level.operations_only_in_base,
                            "operations_only_in_run": level.operations_only_in_run,
                        }
                        if level.operations
                        or level.operations_only_in_base
                        or level.operations_only_in_run
                        else {}
                    ),
                }
                for level in self.levels
            ],
            "only_in_baseline": [_key_dict(key) for key in self.only_in_base],
            "only_in_run": [_key_dict(key) for key in self.only_in_run],
            "regressions": self.regression_lines(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Comparison | None:
        """A comparison saved in a result (``to_dict``); None when it cannot be read back
        (a file edited by hand)."""
        try:
            levels = [
                LevelComparison(
                    _key_of(level),
                    _changes_of(level, _FIGURES),
                    {
                        str(name): _changes_of(changes, _OPERATION_FIGURES)
                        for name, changes in (level.get("operations") or {}).items()
                    },
                    [str(name) for name in level.get("operations_only_in_baseline") or ()],
                    [str(name) for name in level.get("operations_only_in_run") or ()],
                )
                for level in data["levels"]
            ]
            return cls(
                max_regression=float(data["max_regression"]),
                levels=levels,
                only_in_base=[_key_of(key) for key in data.get("only_in_baseline") or ()],
                only_in_run=[_key_of(key) for key in data.get("only_in_run") or ()],
                baseline=str(data.get("baseline") or ""),
            )
        except (KeyError, TypeError, ValueError):
            return None


def compare(
    base: SweepResult,
    run: SweepResult,
    *,
    max_regression: float = DEFAULT_MAX_REGRESSION,
    baseline: str = "",
) -> Comparison:
    check_comparable(base.model, run.model, baseline=baseline or "the baseline")
    base_levels = _by_key(base)
    run_levels = _by_key(run)
    levels = [
        _level_comparison(key, base_levels[key], level, max_regression)
        for key, level in run_levels.items()
        if key in base_levels
    ]
    return Comparison(
        max_regression=max_regression,
        levels=levels,
        only_in_base=[key for key in base_levels if key not in run_levels],
        only_in_run=[key for key in run_levels if key not in base_levels],
        baseline=baseline,
    )


def key_label(key: LevelKey) -> str:
    concurrency, rate, batch_size = key
    what = f"{rate:g} writes/s" if rate is not None else f"c={concurrency}"
    return f"{what} batch {batch_size:,}"


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def check_comparable(base_model: str, run_model: str, *, baseline: str) -> None:
    """InputError (exit 3) naming the baseline when the two runs are of different models."""
    if base_model != run_model:
        raise InputError(
            f"{_article(base_model)} {base_model}-model run cannot be the baseline of "
            f"{_article(run_model)} {run_model}-model one: "
            "concurrency levels and arrival rates are not comparable",
            source=baseline,
        )


def _by_key(result: SweepResult) -> dict[LevelKey, LevelResult]:
    return {
        (level.concurrency, level.rate, level.batch_size): level
        for level in result.levels
        if level.outcome == "completed"
    }


def _level_comparison(
    key: LevelKey, base: LevelResult, run: LevelResult, max_regression: float
) -> LevelComparison:
    base_metrics, run_metrics = base.metrics(), run.metrics()
    total = _changes(base_metrics, run_metrics, _FIGURES, _GATED, max_regression)
    # a query run of one query too: its queries/s is judged, where the total's rows/s
    # (rows returned) may not move at all
    names = [name for name in run.operations if name in base.operations]
    operations = {
        name: _changes(
            base_metrics, run_metrics, _OPERATION_FIGURES, _OPERATION_GATED, max_regression,
            prefix=f"{name}.",
        )
        for name in sorted(names)
    }  # fmt: skip
    return LevelComparison(
        key,
        total,
        operations,
        sorted(name for name in base.operations if name not in run.operations),
        sorted(name for name in run.operations if name not in base.operations),
    )


def _changes(
    base_metrics: dict[str, float],
    run_metrics: dict[str, float],
    figures: dict[str, tuple[str, bool]],
    gated: tuple[str, ...],
    max_regression: float,
    *,
    prefix: str = "",
) -> list[Change]:
    changes = []
    for figure, (metric, higher_is_better) in figures.items():
        before, after = base_metrics[prefix + metric], run_metrics[prefix + metric]
        if figure not in gated:
            regressed = False
        elif higher_is_better:
            regressed = after < before * (1 - max_regression)
        else:
            regressed = after > before * (1 + max_regression)
        changes.append(Change(figure, before, after, regressed))
    return changes


def _changes_of(saved: dict[str, Any], figures: dict[str, tuple[str, bool]]) -> list[Change]:
    return [
        Change(figure, float(c["base"]), float(c["run"]), bool(c["regressed"]))
        for figure in figures
        if isinstance(c := saved.get(figure), dict)
    ]


def _describe(change: Change) -> str:
    shape = "{:,.3f} ms" if change.figure in ("p50", "p99") else "{:,.0f}"
    if change.figure == "per_s":
        shape = "{:,.0f}/s"
    relative = change.relative
    shown = "new" if relative is None else f"{relative:+.1%}"
    before, after = shape.format(change.base), shape.format(change.run)
    return f"{change.figure} {before} → {after} ({shown})"


def _key_of(data: dict[str, Any]) -> LevelKey:
    rate = data.get("rate")
    return (
        int(data["concurrency"]),
        None if rate is None else float(rate),
        int(data["batch_size"]),
    )


def _key_dict(key: LevelKey) -> dict[str, Any]:
    concurrency, rate, batch_size = key
    return {"concurrency": concurrency, "rate": rate, "batch_size": batch_size}
