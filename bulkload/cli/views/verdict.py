"""On the terminal: CI gates, and a comparison with a baseline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bulkload.bench.compare import Change, Comparison, key_label
from bulkload.bench.gates import GateResult, Verdict
from bulkload.bench.result import SweepResult


def render_verdict(verdict: Verdict, console: Console) -> None:
    """The gates and the baseline comparison of a run just judged."""
    render_gates(verdict.gates, console)
    if verdict.comparison is not None:
        render_comparison(verdict.comparison, console)


def render_saved_verdict(result: SweepResult, console: Console) -> None:
    """The gates and the comparison saved in a result, as ``report show`` tells them."""
    render_saved_gates(result.thresholds, console)
    comparison = result.comparison
    if comparison is not None:
        state = "[red]regressed[/]" if comparison.get("regressed") else "[green]no regression[/]"
        console.print(f"  compared with {comparison.get('baseline')}: {state}", highlight=False)


def render_gates(gates: Sequence[GateResult], console: Console) -> None:
    if not gates:
        return
    bad = [gate for gate in gates if not gate.ok]
    heading = f"gates: {len(gates) - len(bad)} of {len(gates)} passed"
    console.print(f"[bold]{heading}[/]", highlight=False)
    for gate in gates:
        style = "green" if gate.ok else "red"
        console.print(f"  [{style}]{gate}[/]", highlight=False)


def render_saved_gates(saved: Sequence[dict[str, Any]], console: Console) -> None:
    """The gates saved in a result, as they were shown when judged: in the units the
    expressions were written in, with their level."""
    for data in saved:
        gate = GateResult.from_dict(data)
        style = "green" if data.get("ok") else "red"
        if gate is None:  # unreadable: as it was saved
            console.print(f"  gate {data}", style=style, highlight=False, markup=False)
            continue
        console.print(f"  gate [{style}]{escape(str(gate))}[/]", highlight=False)


def render_comparison(comparison: Comparison, console: Console) -> None:
    title = f"compared with {comparison.baseline or 'the baseline'}"
    table = Table(title=title, title_justify="left", box=None, pad_edge=False)
    table.add_column("level", no_wrap=True)  # a level's name stays whole; figures wrap
    for column in ("rows/s", "p50", "p99", "errors", ""):  # at their spaces
        table.add_column(column, justify="right")
    for level in comparison.levels:
        cells = {change.figure: change for change in level.changes}
        verdict = "[red]REGRESSED[/]" if level.regressions else "[green]ok[/]"
        table.add_row(
            level.label + (" total" if level.operations else ""),
            _cell(cells["rows_per_s"], "{:,.0f}"),
            _cell(cells["p50"], "{:.2f} ms"),
            _cell(cells["p99"], "{:.2f} ms"),
            _cell(cells["errors"], "{:,.0f}"),
            verdict,
        )
        # a query or mixed run: a sub-row per operation, its throughput in operations/s
        for name, changes in level.operations.items():
            cells = {change.figure: change for change in changes}
            bad = any(change.regressed for change in changes)
            table.add_row(
                f"  {escape(name)}",
                _cell(cells["per_s"], "{:,.0f} ops/s"),
                _cell(cells["p50"], "{:.2f} ms"),
                _cell(cells["p99"], "{:.2f} ms"),
                _cell(cells["errors"], "{:,.0f}"),
                "[red]REGRESSED[/]" if bad else "[green]ok[/]",
            )
    if comparison.levels:
        console.print(table)
    else:
        console.print(f"  [yellow]{title}: no level of this run is in the baseline[/]")
    for key in comparison.only_in_base:
        console.print(f"  only in the baseline: {key_label(key)}", highlight=False)
    for key in comparison.only_in_run:
        console.print(f"  not in the baseline: {key_label(key)}", highlight=False)
    for level in comparison.levels:
        for name in level.operations_only_in_base:
            console.print(f"  only in the baseline: {level.label} {escape(name)}", highlight=False)
        for name in level.operations_only_in_run:
            console.print(f"  not in the baseline: {level.label} {escape(name)}", highlight=False)
    for line in comparison.regression_lines():
        console.print(f"  [red]regression: {line}[/]", highlight=False)


def _cell(change: Change, shape: str) -> str:
    relative = change.relative
    delta = "new" if relative is None else f"{relative:+.1%}"
    text = f"{shape.format(change.run)} ({delta})"
    return f"[red]{text}[/]" if change.regressed else text
