"""What the HTML report's header says about a run: its badge (PASSED, FAILED (gates),
REGRESSED, or how the run ended) and the callout that lists the failing gates and the
regressed levels.

The gates and the baseline comparison are judged elsewhere (:mod:`bulkload.bench.gates`,
:mod:`bulkload.bench.compare`) and saved in the result; this module only reads them, so
``bench --html`` and ``report html`` of the saved run say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from bulkload.bench.compare import Comparison
from bulkload.bench.gates import GateResult
from bulkload.bench.result import SweepResult


@dataclass(frozen=True)
class Badge:
    css: str  # passed | failed | regressed | completed | interrupted | aborted
    text: str


@dataclass(frozen=True)
class ReportVerdict:
    """The outcome, the gates (one line each, as the terminal shows them) and the
    comparison with a baseline (None: not compared)."""

    outcome: str
    gates_passed: list[str] = field(default_factory=list)
    gates_failed: list[str] = field(default_factory=list)
    comparison: Comparison | None = None

    @classmethod
    def of(cls, result: SweepResult, comparison: Comparison | None = None) -> ReportVerdict:
        """The verdict saved in ``result``; ``comparison`` (a baseline given to
        ``report html``) replaces the saved one."""
        passed: list[str] = []
        failed: list[str] = []
        for saved in result.thresholds:
            gate = GateResult.from_dict(saved)
            line = str(gate) if gate is not None else f"gate {saved}"
            (passed if saved.get("ok") else failed).append(line)
        if comparison is None and result.comparison:
            comparison = Comparison.from_dict(result.comparison)
        return cls(str(result.outcome), passed, failed, comparison)

    @property
    def regressed(self) -> bool:
        return self.comparison is not None and self.comparison.regressed

    @property
    def judged(self) -> bool:
        return bool(self.gates_passed or self.gates_failed) or self.comparison is not None

    def badges(self) -> list[Badge]:
        """How the run ended (unless it completed), then what it was judged."""
        badges = []
        if self.outcome != "completed":
            badges.append(Badge(self.outcome, self.outcome))
        if self.gates_failed:
            badges.append(Badge("failed", "failed (gates)"))
        if self.regressed:
            badges.append(Badge("regressed", "regressed"))
        if not badges:
            badges.append(
                Badge("passed", "passed") if self.judged else Badge("completed", "completed")
            )
        return badges

    def callouts(self) -> list[str]:
        """The gates and the comparison, as HTML callouts (none when nothing was judged)."""
        items = []
        gates = len(self.gates_passed) + len(self.gates_failed)
        if self.gates_failed:
            items.append(
                '<div class="callout bad" id="verdict-gates"><strong>Gates failed: '
                f"{len(self.gates_failed)} of {gates}</strong> (bench exits 99 when a gate fails)"
                + _list(self.gates_failed + self.gates_passed)
                + "</div>"
            )
        elif gates:
            items.append(
                '<div class="callout good" id="verdict-gates"><strong>Gates passed: '
                f"{gates} of {gates}</strong>" + _list(self.gates_passed) + "</div>"
            )
        comparison = self.comparison
        if comparison is not None:
            against = escape(comparison.baseline or "the baseline")
            limit = f"{comparison.max_regression * 100:g}%"
            if comparison.regressed:
                lines = comparison.regression_lines()
                items.append(
                    '<div class="callout bad" id="verdict-baseline"><strong>Regressed against '
                    f"{against}</strong>: {len(lines)} figure(s) more than {limit} worse "
                    "(rows/s lower or p99 higher, or an operation's operations/s lower or "
                    "p99 higher; bench --baseline exits 99 on a regression)"
                    + _list(lines)
                    + "</div>"
                )
            else:
                items.append(
                    '<div class="callout good" id="verdict-baseline"><strong>No regression '
                    f"against {against}</strong>: no level's rows/s or p99 (nor an operation's "
                    f"operations/s or p99) is more than {limit} worse.</div>"
                )
        return items


def _list(lines: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{escape(line)}</li>" for line in lines) + "</ul>"
