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
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from typer.core import TyperCommand

from bulkload.cli.error_line import errors_as_exit_codes
from bulkload.cli.exit_codes import ExitCode, for_outcome
from bulkload.cli.finish import finish, outputs
from bulkload.cli.params import Group, as_written, flags_show_no_value
from bulkload.options import help_of, percentage, slo

if TYPE_CHECKING:
    from rich.console import Console
    from typer._click.core import Context, Parameter


class ReportCommand(TyperCommand):
    """Flags shown without a value placeholder, as in the other commands."""

    def get_params(self, ctx: Context) -> list[Parameter]:
        return flags_show_no_value(super().get_params(ctx))


report_app = typer.Typer(
    name="report",
    cls=Group,
    help="Render, compare, merge and check saved bench results (bench --json files).",
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@report_app.callback()
def _report(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:  # plain `bulkload report`: the help, exit 0
        print(ctx.get_help(), end="")
        raise typer.Exit(ExitCode.OK)


@report_app.command("html", cls=ReportCommand)
def html_command(
    run: Path = typer.Argument(
        ...,
        help="A result saved by bench --json (or an import's, by import --json).",
        show_default=False,
        metavar="RUN",
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
        help="Another saved result to draw beside this one (dashed) and compare with.",
        show_default=False,
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Show full tracebacks, and the log records of the libraries used."
    ),
) -> None:
    """Write the HTML report of a saved bench result, or import summary: one
    self-contained file."""
    from bulkload.bench.result import read_result
    from bulkload.errors import UsageError
    from bulkload.report.html import require_html_support, write_html
    from bulkload.report.html_import import read_import_summary
    from bulkload.report.html_import import write_import_html as write_import
    from bulkload.report.json_summary import check_json_path

    with errors_as_exit_codes(debug):
        require_html_support("report html")
        target = output if output is not None else run.with_suffix(".html")
        check_json_path(str(target), "--output")
        imported = read_import_summary(run)
        if imported is not None:  # an import's summary (import --json)
            if baseline is not None:
                raise UsageError("report html --baseline compares bench results, not imports")
            finish(None, None, outputs(("--output", str(target), partial(write_import, imported))))
            print(f"wrote {target}")
            return
        result = read_result(run)
        base = read_result(baseline) if baseline is not None else None
        comparison = None
        if base is not None and base.model == result.model:  # else the report says why not
            from bulkload.bench.compare import DEFAULT_MAX_REGRESSION, compare

            saved = (result.comparison or {}).get("max_regression")  # bench's --max-regression
            allowed = float(saved) if isinstance(saved, int | float) else DEFAULT_MAX_REGRESSION
            comparison = compare(base, result, max_regression=allowed, baseline=str(baseline))

        def write(path: str) -> None:
            write_html(result, path, baseline=base, comparison=comparison)

        finish(None, None, outputs(("--output", str(target), write)))
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
    from bulkload.bench.result import read_result
    from bulkload.cli.views.sweep_table import render_sweep
    from bulkload.cli.views.verdict import render_saved_verdict

    with errors_as_exit_codes(debug):
        result = read_result(Path(run))

        def view(console: Console) -> None:
            render_sweep(result, console)
            render_saved_verdict(result, console)

        raise typer.Exit(finish(_console(), view))


@report_app.command("compare", cls=ReportCommand)
def compare_command(
    base: str = typer.Argument(..., metavar="BASE.json", help="The baseline result."),
    run: str = typer.Argument(..., metavar="RUN.json", help="The result to judge."),
    max_regression: str = typer.Option(
        "10%", "--max-regression", metavar="<percent>", help=as_written(help_of("max_regression"))
    ),
    json_path: str | None = typer.Option(
        None,
        "--json",
        metavar="PATH",
        help="Write the comparison as JSON to this file, or - for stdout (the table then "
        "goes to stderr).",
        show_default=False,
    ),
    debug: bool = _DEBUG,
) -> None:
    """Per level: rows/s, p50, p99 and errors against the baseline (exit 99: regressed)."""
    from bulkload.bench.compare import compare
    from bulkload.bench.result import read_result
    from bulkload.cli.finish import consoles
    from bulkload.cli.views.verdict import render_comparison
    from bulkload.report.json_summary import write_document

    with errors_as_exit_codes(debug):
        allowed = percentage(max_regression, "--max-regression")
        comparison = compare(
            read_result(Path(base)), read_result(Path(run)), max_regression=allowed, baseline=base
        )
        code = for_outcome("completed", gates_failed=comparison.regressed)
        out, _ = consoles(json_to_stdout=json_path == "-")

        def write(path: str) -> None:  # the comparison the table shows, as data
            write_document(comparison.to_dict(), path)

        files = outputs(("--json", json_path, write))
        raise typer.Exit(finish(out, partial(render_comparison, comparison), files, code=code))


@report_app.command("check", cls=ReportCommand)
def check_command(
    run: str = typer.Argument(..., metavar="RUN.json", help="A saved bench result."),
    threshold: list[str] = typer.Option(
        [], "--threshold", metavar="<expr>", help=as_written(help_of("threshold"))
    ),
    debug: bool = _DEBUG,
) -> None:
    """Judge gates on a saved result (a run, or merged shards); a failed gate exits 99."""
    from bulkload.bench.gates import failed, judge
    from bulkload.bench.result import read_result
    from bulkload.cli.views.verdict import render_gates
    from bulkload.errors import UsageError

    with errors_as_exit_codes(debug):
        if not threshold:
            raise UsageError("report check needs at least one --threshold EXPR")
        thresholds = slo(threshold, "--threshold")
        gates = judge(read_result(Path(run)), thresholds)
        code = for_outcome("completed", gates_failed=bool(failed(gates)))
        raise typer.Exit(finish(_console(), partial(render_gates, gates), code=code))


@report_app.command("merge", cls=ReportCommand)
def merge_command(
    shards: list[str] = typer.Argument(..., metavar="SHARD.json...", help="Shard results."),
    output: str = typer.Option(..., "--output", "-o", help="Where to write the merged result."),
    debug: bool = _DEBUG,
) -> None:
    """Join the results of --shard runs into one (histograms added, counters summed)."""
    from bulkload.bench.merge import merge_results, shards_only
    from bulkload.bench.result import read_result
    from bulkload.report.json_summary import write_document

    with errors_as_exit_codes(debug):
        results = [read_result(Path(path)) for path in shards]
        known = {warning for result in results for warning in result.warnings}
        merged = merge_results(results, names=shards)

        def write(path: str) -> None:
            write_document(merged.to_dict(), path)

        finish(None, None, outputs(("-o", output, write)))
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


def _console() -> Console:
    from bulkload.cli.views.console import console

    return console()
