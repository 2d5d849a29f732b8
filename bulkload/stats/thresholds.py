"""One expression language for ``--slo`` and ``--threshold``: pass/fail conditions on a
level's metrics.

Grammar (spaces allowed between the parts)::

    METRIC[@SELECTOR] OP VALUE[UNIT]

- latency ``p50 p90 p99 p999 max mean stdev``: a number with ``us``, ``ms`` or ``s``
  (no unit: ``ms``), compared in milliseconds;
- throughput ``rows_per_s batches_per_s mb_per_s``: a number, optionally ``/s``;
- ``error_rate``: a fraction (``0.001``) or a percentage (``0.1%``), compared as a
  fraction;
- counts ``retries errors``: a number, no unit.

OP is one of ``< <= > >=``. A ``--threshold`` gate may end with `` before-break``
(``p99<50ms before-break``): on a ramp it is judged on the ramp's intervals before its
breaking point (their histograms and counters added up) instead of the whole ramp;
its ``scope`` is then ``before_break`` (else ``whole``). SELECTOR says which level of a
sweep the condition is about: a level (``p99@32<50ms``: the concurrency in the closed
model, the arrival rate in the open model, ``p99@400<50ms`` for 400 writes/s), ``all``
(every level must pass) or nothing, in which case the caller decides (``bulkload
bench``: the recommended level). :meth:`Threshold.selects` applies that rule.

``parse_slo`` reads a comma-separated list (``p99<50ms,error_rate<0.1%``);
``parse_threshold`` one expression. Both raise :class:`~bulkload.errors.UsageError`
with one line naming the option, the bad expression and what is accepted.

:meth:`Threshold.check` compares against a mapping of metric name to value, latencies in
milliseconds and ``error_rate`` as a fraction, and returns a :class:`ThresholdResult`;
``str(result)`` reads ``p99 < 50 ms: measured 73.2 ms ✗``, in the unit the expression
was written in. A metric missing from the mapping (or NaN) fails, "not measured".
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

from bulkload.errors import UsageError

LATENCY_METRICS = ("p50", "p90", "p99", "p999", "max", "mean", "stdev")
RATE_METRICS = ("rows_per_s", "batches_per_s", "mb_per_s", "queries_per_s", "per_s")
COUNT_METRICS = ("retries", "errors")
ERROR_RATE = "error_rate"
METRICS = (*LATENCY_METRICS, *RATE_METRICS[:-1], ERROR_RATE, *COUNT_METRICS)
#: a named operation's own metrics (``lookup.p99<10ms``): per_s is its operations a second
OPERATION_METRICS = (*LATENCY_METRICS, "per_s", "rows_per_s", ERROR_RATE, "errors")
_OPERATION = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def base_metric(metric: str) -> str:
    """``lookup.p99`` -> ``p99``: what the value's unit follows."""
    return metric.rpartition(".")[2]


#: latency units, as milliseconds
_LATENCY_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_EXPRESSION = re.compile(
    r"""\s*(?P<metric>[A-Za-z_][A-Za-z0-9_.]*)
        \s*(?:@\s*(?P<selector>[^\s<>=]*))?
        \s*(?P<op>[<>=!]+)
        \s*(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
        \s*(?P<unit>(?!before-break)\S*?)
        (?:\s+(?P<scope>before-break))?\s*""",
    re.VERBOSE,
)
_ACCEPTED = (
    "METRIC[@LEVEL|@all] OP VALUE[UNIT][ before-break], e.g. p99<50ms or error_rate@all<0.1%"
)
#: a gate judged on a ramp's intervals before its breaking point
Scope = Literal["whole", "before_break"]
BEFORE_BREAK: Final = "before_break"
WHOLE: Final = "whole"
_LEVEL = re.compile(r"\d+(?:\.\d+)?")

#: a level (a concurrency, or an open model's arrival rate), every level, or none
Selector = int | float | Literal["all"] | None


@dataclass(frozen=True, slots=True)
class Threshold:
    """``metric op value``; ``value`` in ms for latencies, a fraction for error_rate.

    ``unit`` is the unit the expression was written in (for rendering)."""

    metric: str
    op: str
    value: float
    selector: Selector = None
    unit: str = ""
    #: ``before_break``: judged on a ramp's intervals before its breaking point
    scope: Scope = "whole"

    def check(self, metrics: Mapping[str, float]) -> ThresholdResult:
        measured = metrics.get(self.metric)
        if measured is None or math.isnan(measured):
            return ThresholdResult(self, False, None, self.value)
        ok = _OPERATORS[self.op](measured, self.value)
        return ThresholdResult(self, ok, float(measured), self.value)

    def selects(self, level: float, *, recommended: float | None) -> bool:
        """Whether this threshold applies to the level run at ``level`` (its concurrency,
        or in the open model its arrival rate); without a selector it applies to the
        ``recommended`` level only."""
        if self.selector == "all":
            return True
        if self.selector is None:
            return level == recommended
        return level == self.selector

    def render(self, value: float) -> str:
        """``value`` (canonical: ms, fraction, ...) in this threshold's unit."""
        metric = base_metric(self.metric)
        if metric in LATENCY_METRICS:
            return f"{_number(value / _LATENCY_UNITS[self.unit])} {self.unit}"
        if metric == ERROR_RATE:
            return f"{_number(value * 100)}%" if self.unit == "%" else _number(value)
        if metric in RATE_METRICS:
            return f"{_number(value)}/s"
        return _number(value)

    def __str__(self) -> str:
        where = f"@{self.selector}" if self.selector is not None else ""
        scope = " before-break" if self.scope == BEFORE_BREAK else ""
        return f"{self.metric}{where} {self.op} {self.render(self.value)}{scope}"


@dataclass(frozen=True, slots=True)
class ThresholdResult:
    """The outcome of one check; ``measured`` is None when the metric was not measured."""

    threshold: Threshold
    ok: bool
    measured: float | None
    allowed: float

    def __str__(self) -> str:
        mark = "✓" if self.ok else "✗"
        if self.measured is None:
            return f"{self.threshold}: not measured {mark}"
        return f"{self.threshold}: measured {self.threshold.render(self.measured)} {mark}"


def parse_slo(text: str, *, option: str = "--slo") -> list[Threshold]:
    """Comma-separated thresholds, e.g. ``p99<50ms,error_rate<0.1%``."""
    expressions = text.split(",")
    if not text.strip():
        raise UsageError(f"{option}: empty; expected {_ACCEPTED}")
    return [parse_threshold(expression, option=option) for expression in expressions]


def parse_threshold(text: str, *, option: str = "--threshold") -> Threshold:
    """One expression, e.g. ``p99@32 < 50ms``."""

    def bad(reason: str) -> UsageError:
        return UsageError(f"{option}: bad expression {text.strip()!r}: {reason}")

    if not text.strip():
        raise UsageError(f"{option}: empty expression; expected {_ACCEPTED}")
    match = _EXPRESSION.fullmatch(text)
    if match is None:
        raise bad(f"expected {_ACCEPTED}")
    metric, op, unit = match["metric"], match["op"], match["unit"]
    operation, dot, own = metric.rpartition(".")
    if dot:
        if not _OPERATION.fullmatch(operation) or own not in OPERATION_METRICS:
            raise bad(
                f"unknown metric {metric!r}; a named operation's metric is NAME.METRIC, "
                f"METRIC one of {' '.join(OPERATION_METRICS)}"
            )
    elif metric not in METRICS:
        raise bad(f"unknown metric {metric!r}; metrics: {' '.join(METRICS)}")
    if op not in _OPERATORS:
        raise bad(f"unknown operator {op!r}; operators: < <= > >=")
    value = float(match["value"])
    if value < 0 or not math.isfinite(value):
        raise bad("the value must be a finite number >= 0")
    selector = _selector(match["selector"], bad)
    value, unit = _canonical(base_metric(metric), value, unit, bad)
    scope: Scope = WHOLE
    if match["scope"]:
        if option != "--threshold":
            raise bad("before-break scopes a --threshold gate; it is not for " + option)
        scope = BEFORE_BREAK
    return Threshold(metric, op, value, selector, unit, scope)


def _selector(text: str | None, bad: Callable[[str], UsageError]) -> Selector:
    if text is None:
        return None
    if text == "all":
        return "all"
    if _LEVEL.fullmatch(text) and float(text) > 0:
        return int(text) if text.isdigit() else float(text)
    raise bad(
        f"selector @{text} is neither a level (a concurrency, @32, or an open model's "
        "arrival rate, @400) nor @all"
    )


def _canonical(
    metric: str, value: float, unit: str, bad: Callable[[str], UsageError]
) -> tuple[float, str]:
    """(value in the canonical unit, the unit as written) or a UsageError."""
    if metric in LATENCY_METRICS:
        unit = unit or "ms"
        if unit not in _LATENCY_UNITS:
            raise bad(f"unit {unit!r} is not a latency unit; units: us ms s")
        return value * _LATENCY_UNITS[unit], unit
    if metric in RATE_METRICS:
        if unit not in ("", "/s"):
            raise bad(f"{metric} takes a number per second (1000 or 1000/s), not {unit!r}")
        return value, "/s"
    if metric == ERROR_RATE:
        if unit == "%":
            if value > 100:
                raise bad("a percentage is at most 100%")
            return value / 100, "%"
        if unit or value > 1:
            raise bad("error_rate is a fraction (0.001) or a percentage (0.1%)")
        return value, ""
    if unit:
        raise bad(f"{metric} is a count and takes no unit")
    return value, ""


def _number(value: float) -> str:
    """Digits that matter: 12,345  73.2  0.0412."""
    if 10_000 <= abs(value) < 1e15:
        return f"{value:,.0f}"
    return f"{value:.4g}"
