"""``bulkload report``: saved ``bench --json`` results read back: shown, compared with a
baseline, judged by gates, and shards merged. Results are data first (vegeta's
``attack | report``), so a CI job can gate on a run made elsewhere.

Exit codes as for the other commands (3: a file missing, unreadable or not a bench
result; results that are not shards of one run), and 99 when a gate fails or a level
regressed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from bulkload.options import help_of, percentage, slo

if TYPE_CHECKING:
    from bulkload.bench.result import SweepResult

report_app = typer.Typer(
    name="report",
    help="Show, compare, check and merge saved bench results (--json files).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_DEBUG = typer.Option(False, "--debug", help="Show full tracebacks.")


@report_app.command("show")
def show_command(
    run: str = typer.Argument(..., metavar="RUN.json", help="A saved bench result."),
    debug: bool = _DEBUG,
) -> None:
    """The terminal view of a saved run: levels, chart, recommendation, gates."""
    from rich.console import Console

    from bulkload.bench.result import load_result
    from bulkload.cli import _errors_as_exit_codes
    from bulkload.report.bench_view import render_sweep

    with _errors_as_exit_codes(debug):
        result = load_result(run)
        console = Console(highlight=False)
        render_sweep(result, console)
        _show_saved_gates(result, console)


@report_app.command("compare")
def compare_command(
    base: str = typer.Argument(..., metavar="BASE.json", help="The baseline result."),
    run: str = typer.Argument(..., metavar="RUN.json", help="The result to judge."),
    max_regression: str = typer.Option(
        "10%", "--max-regression", metavar="<percent>", help=help_of("max_regression")
    ),
    debug: bool = _DEBUG,
) -> None:
    """Per level: rows/s, p50, p99 and errors against the baseline (exit 99: regressed)."""
    from rich.console import Console

    from bulkload.bench.compare import compare
    from bulkload.bench.gates import EXIT_GATE_FAILED
    from bulkload.bench.result import load_result
    from bulkload.cli import _errors_as_exit_codes
    from bulkload.report.gates_view import render_comparison

    with _errors_as_exit_codes(debug):
        allowed = percentage(max_regression, "--max-regression")
        comparison = compare(
            load_result(base), load_result(run), max_regression=allowed, baseline=base
        )
        render_comparison(comparison, Console(highlight=False))
        if comparison.regressed:
            raise typer.Exit(EXIT_GATE_FAILED)


@report_app.command("check")
def check_command(
    run: str = typer.Argument(..., metavar="RUN.json", help="A saved bench result."),
    threshold: list[str] = typer.Option(
        [], "--threshold", metavar="<expr>", help=help_of("threshold")
    ),
    debug: bool = _DEBUG,
) -> None:
    """Judge gates on a saved result (a run, or merged shards); a failed gate exits 99."""
    from rich.console import Console

    from bulkload.bench.gates import EXIT_GATE_FAILED, failed, judge
    from bulkload.bench.result import load_result
    from bulkload.cli import _errors_as_exit_codes
    from bulkload.errors import UsageError
    from bulkload.report.gates_view import render_gates

    with _errors_as_exit_codes(debug):
        if not threshold:
            raise UsageError("report check needs at least one --threshold EXPR")
        thresholds = slo(threshold, "--threshold")
        gates = judge(load_result(run), thresholds)
        render_gates(gates, Console(highlight=False))
        if failed(gates):
            raise typer.Exit(EXIT_GATE_FAILED)


@report_app.command("merge")
def merge_command(
    shards: list[str] = typer.Argument(..., metavar="SHARD.json...", help="Shard results."),
    output: str = typer.Option(..., "--output", "-o", help="Where to write the merged result."),
    debug: bool = _DEBUG,
) -> None:
    """Join the results of --shard runs into one (histograms added, counters summed)."""
    from bulkload.bench.merge import merge_results
    from bulkload.bench.result import load_result
    from bulkload.cli import _errors_as_exit_codes
    from bulkload.errors import BulkloadError
    from bulkload.report.json_summary import write_document

    with _errors_as_exit_codes(debug):
        merged = merge_results([load_result(path) for path in shards], names=shards)
        try:
            write_document(merged.to_dict(), output)
        except OSError as exc:
            raise BulkloadError(f"-o: cannot write {output}: {exc.strerror or exc}") from None
        print(
            f"merged {len(shards)} results into {output}: {len(merged.levels)} levels, "
            f"{sum(level.rows for level in merged.levels):,} rows measured"
        )


def _show_saved_gates(result: SweepResult, console: object) -> None:
    from rich.console import Console

    assert isinstance(console, Console)
    for gate in result.thresholds:
        verdict = "[green]ok[/]" if gate.get("ok") else "[red]FAILED[/]"
        measured = gate.get("measured")
        shown = "not measured" if measured is None else f"measured {measured:,.6g}"
        console.print(f"  gate {verdict}: {gate.get('expression')}: {shown}", highlight=False)
    comparison = result.comparison
    if comparison is not None:
        state = "[red]regressed[/]" if comparison.get("regressed") else "[green]no regression[/]"
        console.print(f"  compared with {comparison.get('baseline')}: {state}", highlight=False)
