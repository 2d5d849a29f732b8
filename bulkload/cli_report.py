"""``bulkload report``: render, compare, merge and check saved ``bulkload bench`` results.

Each command reads results written by ``bench --json`` (vegeta's ``attack | report``:
results are data first, rendered later). A missing or malformed file is a one-line
error naming it, exit 3.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from typer.core import TyperCommand

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
    """The SweepResult saved in ``path``; InputError (exit 3) naming it otherwise."""
    from bulkload.bench.result import SweepResult
    from bulkload.errors import InputError

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("no such file", source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InputError(f"cannot read: {reason}", source=str(path)) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc}", source=str(path)) from None
    if not isinstance(data, dict):
        raise InputError("not a bulkload bench result (not a JSON object)", source=str(path))
    return SweepResult.from_dict(data, source=str(path))


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
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks."),
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
