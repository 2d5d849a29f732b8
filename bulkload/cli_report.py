"""``bulkload report``: render, compare, merge and check saved ``bulkload bench`` results.

Each command reads results written by ``bench --json`` (vegeta's ``attack | report``:
results are data first, rendered later). A missing or malformed file is a one-line
error naming it, exit 3. ``check`` and ``compare`` exit 99 when a gate fails or a level
regressed; ``compare`` refuses runs of different models, ``merge`` results that are not
shards of one run (exit 3); ``merge`` warns of missing shards and of shards that did not
run together.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from typer.core import TyperCommand

from bulkload.options import help_of, percentage, slo

if TYPE_CHECKING:
    from typer._click.core import Context, Parameter

    from bulkload.bench.result import SweepResult


class ReportCommand(TyperCommand):
    """Flags shown without a value placeholder, as in the other commands."""

    def get_params(self, ctx: Context) -> list[Parameter]:
        from bulkload.cli import _flags_show_no_value  # loaded: bulkload.cli imports us

        return _flags_show_no_value(super().get_params(ctx))


report_app = typer.Typer(
    name="report",
    help="Render, compare, merge and check saved bench results (bench --json files).",
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@report_app.callback()
def _report(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:  # plain `bulkload report`: the help, exit 0
        print(ctx.get_help(), end="")
        raise typer.Exit(0)


def read_result(path: Path) -> SweepResult:
    """:func:`bulkload.bench.result.read_result`, kept here for callers of the old place
    (imported on use: ``bulkload --help`` does not load the stats stack)."""
    from bulkload.bench.result import read_result as read

    return read(path)


@report_app.command("html", cls=ReportCommand)
def html_command(
    run: Path = typer.Argument(
        ..., help="A result saved by bench --json.", show_default=False, metavar="RUN"
    ),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        metavar="PATH",
        help="The HTML file to write (default: RUN with the suffix .html).",
        show_default=False,
    ),
    baseline: Path | None = typer.Option(
        None,
        "--baseline",
        metavar="BASE",
        help="Another saved result to draw beside this one (dashed).",
        show_default=False,
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Show full tracebacks, and the log records of the libraries used."
    ),
) -> None:
    """Write the HTML report of a saved bench result: one self-contained file."""
    from bulkload.cli import _errors_as_exit_codes
    from bulkload.errors import BulkloadError
    from bulkload.report.html import require_html_support, write_html
    from bulkload.report.json_summary import check_json_path

    with _errors_as_exit_codes(debug):
        require_html_support("report html")
        target = output if output is not None else run.with_suffix(".html")
        check_json_path(str(target), "--output")
        result = read_result(run)
        base = read_result(baseline) if baseline is not None else None
        try:
            write_html(result, str(target), baseline=base)
        except OSError as exc:
            raise BulkloadError(f"--output: cannot write {target}: {exc.strerror or exc}") from None
        print(f"wrote {target}")


_DEBUG = typer.Option(
    False, "--debug", help="Show full tracebacks, and the log records of the libraries used."
)


@report_app.command("show", cls=ReportCommand)
def show_command(
    run: str = typer.Argument(..., metavar="RUN.json", help="A saved bench result."),
    debug: bool = _DEBUG,
) -> None:
    """The terminal view of a saved run: levels, chart, recommendation, gates."""
    from rich.console import Console

    from bulkload.cli import _errors_as_exit_codes
    from bulkload.report.bench_view import render_sweep

    with _errors_as_exit_codes(debug):
        result = read_result(Path(run))
        console = Console(highlight=False)
        render_sweep(result, console)
        _show_saved_gates(result, console)


@report_app.command("compare", cls=ReportCommand)
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
    from bulkload.cli import _errors_as_exit_codes
    from bulkload.report.gates_view import render_comparison

    with _errors_as_exit_codes(debug):
        allowed = percentage(max_regression, "--max-regression")
        comparison = compare(
            read_result(Path(base)), read_result(Path(run)), max_regression=allowed, baseline=base
        )
        render_comparison(comparison, Console(highlight=False))
        if comparison.regressed:
            raise typer.Exit(EXIT_GATE_FAILED)


@report_app.command("check", cls=ReportCommand)
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
    from bulkload.cli import _errors_as_exit_codes
    from bulkload.errors import UsageError
    from bulkload.report.gates_view import render_gates

    with _errors_as_exit_codes(debug):
        if not threshold:
            raise UsageError("report check needs at least one --threshold EXPR")
        thresholds = slo(threshold, "--threshold")
        gates = judge(read_result(Path(run)), thresholds)
        render_gates(gates, Console(highlight=False))
        if failed(gates):
            raise typer.Exit(EXIT_GATE_FAILED)


@report_app.command("merge", cls=ReportCommand)
def merge_command(
    shards: list[str] = typer.Argument(..., metavar="SHARD.json...", help="Shard results."),
    output: str = typer.Option(..., "--output", "-o", help="Where to write the merged result."),
    debug: bool = _DEBUG,
) -> None:
    """Join the results of --shard runs into one (histograms added, counters summed)."""
    from bulkload.bench.merge import merge_results, shards_only
    from bulkload.cli import _errors_as_exit_codes
    from bulkload.errors import BulkloadError
    from bulkload.report.json_summary import write_document

    with _errors_as_exit_codes(debug):
        results = [read_result(Path(path)) for path in shards]
        known = {warning for result in results for warning in result.warnings}
        merged = merge_results(results, names=shards)
        try:
            write_document(merged.to_dict(), output)
        except OSError as exc:
            raise BulkloadError(f"-o: cannot write {output}: {exc.strerror or exc}") from None
        only = shards_only(merged)
        print(
            f"merged {len(shards)} results into {output}: {len(merged.levels)} levels, "
            f"{sum(level.rows for level in merged.levels):,} rows measured"
            + (f" ({only})" if only else ""),
            file=sys.stderr if output == "-" else sys.stdout,  # stdout holds the JSON then
        )
        for warning in merged.warnings:  # what the merge found (missing shards, overlap)
            if warning not in known:
                print(f"bulkload: warning: {warning}", file=sys.stderr)


def _show_saved_gates(result: SweepResult, console: object) -> None:
    from rich.console import Console

    from bulkload.report.gates_view import render_saved_gates

    assert isinstance(console, Console)
    render_saved_gates(result.thresholds, console)
    comparison = result.comparison
    if comparison is not None:
        state = "[red]regressed[/]" if comparison.get("regressed") else "[green]no regression[/]"
        console.print(f"  compared with {comparison.get('baseline')}: {state}", highlight=False)
