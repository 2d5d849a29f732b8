"""The command line: parse arguments, build a config, run, render, choose the exit code.

This is the only module that knows about exit codes and the terminal. Exit codes:

    0  every row read was loaded
    1  finished, but some rows were rejected
    2  aborted: too many errors, retries exhausted, or an internal error
    3  bad usage, configuration or input file
    4  interrupted (Ctrl-C / SIGTERM)
    5  target unavailable: cannot connect, open or create the table
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from bulkload import __version__
from bulkload.backends import available_backends
from bulkload.config import build_import_config, load_profile, merge_options
from bulkload.errors import BulkloadError
from bulkload.load import load_async
from bulkload.report import ProgressReporter, render_summary, write_json
from bulkload.sources.schema import TYPE_HELP
from bulkload.stats.run import RunStats

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_ABORTED = 2
EXIT_USAGE = 3
EXIT_INTERRUPTED = 4
EXIT_TARGET = 5

app = typer.Typer(
    name="bulkload",
    help="Stream CSV and Parquet into databases and ingest endpoints, fast.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"bulkload {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """bulkload: stream CSV and Parquet into a target, fanned out over tunable concurrency."""


_SRC = "Source"
_CSV = "CSV"
_TGT = "Target"
_ENG = "Engine"
_OUT = "Output"


@app.command("import")
def import_command(
    paths: list[str] = typer.Argument(
        None, help="CSV/Parquet files, globs ('logs/*.csv.gz'), directories, or - for stdin."
    ),
    to: str | None = typer.Option(
        None,
        "--to",
        envvar="BULKLOAD_TO",
        rich_help_panel=_TGT,
        help="Target URL: sqlite:///file.db (default sqlite:///bulkload.db), null://.",
    ),
    table: str | None = typer.Option(
        None,
        "--table",
        envvar="BULKLOAD_TABLE",
        rich_help_panel=_TGT,
        help="Table name [default: the first file's name without extensions].",
    ),
    if_exists: str | None = typer.Option(
        None,
        "--if-exists",
        envvar="BULKLOAD_IF_EXISTS",
        rich_help_panel=_TGT,
        help="When the table exists: append (default), replace, truncate or fail.",
    ),
    wal: bool | None = typer.Option(
        None,
        "--wal/--no-wal",
        envvar="BULKLOAD_WAL",
        rich_help_panel=_TGT,
        help="SQLite: WAL journal (default). --no-wal is faster but a crash can corrupt the file.",
    ),
    format: str | None = typer.Option(
        None,
        "--format",
        envvar="BULKLOAD_FORMAT",
        rich_help_panel=_SRC,
        help="csv or parquet [default: from the file extension; csv for stdin].",
    ),
    batch_size: int | None = typer.Option(
        None,
        "--batch-size",
        envvar="BULKLOAD_BATCH_SIZE",
        rich_help_panel=_SRC,
        help="Rows per batch (one write, one transaction) [default: 10000].",
    ),
    limit: int | None = typer.Option(
        None,
        "--limit",
        envvar="BULKLOAD_LIMIT",
        rich_help_panel=_SRC,
        help="Stop after this many rows.",
    ),
    select: str | None = typer.Option(
        None,
        "--select",
        envvar="BULKLOAD_SELECT",
        rich_help_panel=_SRC,
        help="Load only these columns, in this order: a,b,c.",
    ),
    rename: list[str] | None = typer.Option(
        None, "--rename", rich_help_panel=_SRC, help="Rename a column: old=new (repeatable)."
    ),
    types: list[str] | None = typer.Option(
        None,
        "--type",
        rich_help_panel=_SRC,
        help=f"Column type, overriding inference: col=TYPE (repeatable). Types: {TYPE_HELP}.",
    ),
    delimiter: str | None = typer.Option(
        None,
        "--delimiter",
        envvar="BULKLOAD_DELIMITER",
        rich_help_panel=_CSV,
        help="Field delimiter [default: ,]; 'tab' or '\\t' for tabs.",
    ),
    quote_char: str | None = typer.Option(
        None,
        "--quote-char",
        envvar="BULKLOAD_QUOTE_CHAR",
        rich_help_panel=_CSV,
        help='Quote character [default: "].',
    ),
    no_quoting: bool | None = typer.Option(
        None, "--no-quoting", rich_help_panel=_CSV, help="Treat quote characters as plain text."
    ),
    header: bool | None = typer.Option(
        None,
        "--header/--no-header",
        envvar="BULKLOAD_HEADER",
        rich_help_panel=_CSV,
        help="Whether the first row names the columns [default: --header].",
    ),
    columns: str | None = typer.Option(
        None,
        "--columns",
        envvar="BULKLOAD_COLUMNS",
        rich_help_panel=_CSV,
        help="Column names a,b,c (needed with --no-header; replaces the header otherwise).",
    ),
    encoding: str | None = typer.Option(
        None,
        "--encoding",
        envvar="BULKLOAD_ENCODING",
        rich_help_panel=_CSV,
        help="Text encoding [default: utf-8; a byte-order mark is skipped].",
    ),
    null_values: list[str] | None = typer.Option(
        None,
        "--null-value",
        rich_help_panel=_CSV,
        help="A spelling of null, e.g. NULL or \\N (repeatable). Empty fields are always null.",
    ),
    skip_rows: int | None = typer.Option(
        None,
        "--skip-rows",
        envvar="BULKLOAD_SKIP_ROWS",
        rich_help_panel=_CSV,
        help="Rows to skip before the header.",
    ),
    concurrency: int | None = typer.Option(
        None,
        "--concurrency",
        "-c",
        envvar="BULKLOAD_CONCURRENCY",
        rich_help_panel=_ENG,
        help="Batches in flight at most [default: 8]; capped by what the target allows.",
    ),
    queue_depth: int | None = typer.Option(
        None,
        "--queue-depth",
        envvar="BULKLOAD_QUEUE_DEPTH",
        rich_help_panel=_ENG,
        help="Batches the reader may run ahead of the writers [default: from --concurrency].",
    ),
    json_path: str | None = typer.Option(
        None,
        "--json",
        envvar="BULKLOAD_JSON",
        rich_help_panel=_OUT,
        help="Write the summary as JSON to this file, or - for stdout.",
    ),
    quiet: bool | None = typer.Option(
        None,
        "--quiet",
        "-q",
        envvar="BULKLOAD_QUIET",
        rich_help_panel=_OUT,
        help="No progress display; print only the summary.",
    ),
    progress: str | None = typer.Option(
        None,
        "--progress",
        envvar="BULKLOAD_PROGRESS",
        rich_help_panel=_OUT,
        help="auto (default: live on a terminal, a line every 5 s otherwise), rich, plain, off.",
    ),
    config: Path | None = typer.Option(
        None,
        "--config",
        envvar="BULKLOAD_CONFIG",
        rich_help_panel=_OUT,
        help="TOML profile supplying any option; flags and BULKLOAD_* variables override it.",
    ),
    debug: bool = typer.Option(
        False,
        "--debug",
        envvar="BULKLOAD_DEBUG",
        rich_help_panel=_OUT,
        help="Show full tracebacks.",
    ),
) -> None:
    """Load CSV or Parquet files into a target."""
    cli_values: dict[str, Any] = {
        "paths": paths or None,
        "to": to,
        "table": table,
        "if_exists": if_exists,
        "wal": wal,
        "format": format,
        "batch_size": batch_size,
        "limit": limit,
        "select": select,
        "rename": rename or None,
        "types": types or None,
        "delimiter": delimiter,
        "quote_char": quote_char,
        "no_quoting": no_quoting,
        "header": header,
        "columns": columns,
        "encoding": encoding,
        "null_values": null_values or None,
        "skip_rows": skip_rows,
        "concurrency": concurrency,
        "queue_depth": queue_depth,
        "json": json_path,
        "quiet": quiet,
        "progress": progress,
    }
    with _errors_as_exit_codes(debug):
        profile = load_profile(config) if config else {}
        settings = build_import_config(merge_options(profile, cli_values))
        json_to_stdout = settings.report.json_path == "-"
        # stdout belongs to the JSON when it goes there; people read stderr then.
        out = Console(stderr=json_to_stdout, highlight=False)
        err = Console(stderr=True, highlight=False)
        mode = ProgressReporter.choose_mode(settings.report.progress, settings.report.quiet, err)
        stats = RunStats()

        async def watch(run_stats: RunStats) -> None:
            await ProgressReporter(run_stats, err, mode).run()

        try:
            asyncio.run(load_async(settings, stats=stats, watcher=watch))
        except KeyboardInterrupt:
            stats.outcome = "interrupted"
            _finish(stats, settings.report.json_path, out)
            err.print("bulkload: interrupted", style="red")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except BulkloadError:
            if stats.started_at is not None:
                _finish(stats, settings.report.json_path, out)
            raise
        _finish(stats, settings.report.json_path, out)
        raise typer.Exit(EXIT_REJECTED if stats.rows_rejected else EXIT_OK)


def _finish(stats: RunStats, json_path: str | None, console: Console) -> None:
    render_summary(stats, console)
    if json_path:
        write_json(stats, json_path)


@app.command("backends")
def backends_command() -> None:
    """List the installed backends and the URL schemes they serve."""
    console = Console(highlight=False)
    for info in available_backends():
        schemes = ", ".join(f"{s}://" for s in info.schemes) or "-"
        origin = info.distribution or "?"
        status = f"  [red]failed to load: {info.error}[/]" if info.error else ""
        console.print(f"{info.name:<12} {schemes:<30} {info.target}  ({origin}){status}")


@contextlib.contextmanager
def _errors_as_exit_codes(debug: bool) -> Iterator[None]:
    """Turn errors into one line on stderr and their exit code (tracebacks with --debug)."""
    try:
        yield
    except typer.Exit:
        raise
    except BulkloadError as error:
        _show(error, debug)
        raise typer.Exit(error.exit_code) from None
    except KeyboardInterrupt as error:
        _show(error, debug, "interrupted")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Exception as error:
        _show(
            error, debug, f"internal error: {type(error).__name__}: {error} (--debug shows where)"
        )
        raise typer.Exit(EXIT_ABORTED) from None


def _show(error: BaseException, debug: bool, message: str | None = None) -> None:
    if debug:
        traceback.print_exception(error)
    _error_line(message or str(error))


def _error_line(message: str) -> None:
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    print(f"bulkload: error: {first}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        code = app(args=argv, prog_name="bulkload", standalone_mode=False)
    except typer.TyperException as exc:  # unknown option, bad value, missing argument
        _error_line(exc.format_message() + " (see --help)")
        code = EXIT_USAGE
    except typer.Abort:
        _error_line("interrupted")
        code = EXIT_INTERRUPTED
    sys.stdout.flush()
    sys.exit(code if isinstance(code, int) else EXIT_OK)
