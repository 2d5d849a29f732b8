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
import signal
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import typer
from rich.console import Console
from typer.core import TyperCommand, TyperGroup, TyperOption

from bulkload import __version__
from bulkload.backends import available_backends, create_backend
from bulkload.config import ImportConfig, build_import_config, load_profile, merge_options
from bulkload.engine import RunControl
from bulkload.errors import AbortedError, BulkloadError
from bulkload.load import load_async
from bulkload.redact import redact_text
from bulkload.report import ProgressReporter, render_summary, write_json
from bulkload.report.json_summary import check_json_path
from bulkload.sources.schema import TYPE_HELP
from bulkload.stats.run import RunStats

if TYPE_CHECKING:  # typer >= 0.26 vendors click; only the types are needed
    from typer._click.core import Context as _Context
    from typer._click.core import Parameter as _Parameter

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_ABORTED = 2
EXIT_USAGE = 3
EXIT_INTERRUPTED = 4
EXIT_TARGET = 5


def _flags_show_no_value(params: list[_Parameter]) -> list[_Parameter]:
    """Typer 0.29 shows every flag (even --help) as taking a ``<bool>`` value; flags take
    none, so their help shows no placeholder."""
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag:
            param.metavar = ""
    return params


class _Group(TyperGroup):
    def get_params(self, ctx: _Context) -> list[_Parameter]:
        return _flags_show_no_value(super().get_params(ctx))


class _Command(TyperCommand):
    def get_params(self, ctx: _Context) -> list[_Parameter]:
        return _flags_show_no_value(super().get_params(ctx))


app = typer.Typer(
    name="bulkload",
    cls=_Group,
    help="Stream CSV and Parquet into databases and ingest endpoints, fast.",
    invoke_without_command=True,
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
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """bulkload: stream CSV and Parquet into a target, fanned out over tunable concurrency."""
    if ctx.invoked_subcommand is None:  # plain `bulkload`: show the help, not an error
        print(ctx.get_help(), end="")  # the rich formatter prints it itself, returns ""
        raise typer.Exit(EXIT_OK)


_SRC = "Source"
_CSV = "CSV"
_TGT = "Target"
_ENG = "Engine"
_ERR = "Errors and retries"
_OUT = "Output"


def _option(*flags: str, panel: str, help: str, env: bool = True) -> Any:
    """An option that defaults to "not given" (None) and reads BULKLOAD_<NAME>."""
    name = flags[0].lstrip("-").split("/")[0].replace("-", "_").upper()
    envvar = f"BULKLOAD_{name}" if env else None
    return typer.Option(None, *flags, envvar=envvar, rich_help_panel=panel, help=help)


@app.command("import", cls=_Command)
def import_command(
    paths: list[str] = typer.Argument(
        None, help="CSV/Parquet files, globs ('logs/*.csv.gz'), directories, or - for stdin."
    ),
    to: str | None = _option(
        "--to",
        panel=_TGT,
        help="Target URL: sqlite:///file.db (default sqlite:///bulkload.db), "
        "postgresql://user@host/db (or postgres://), null://, sim://?latency=5ms "
        "(see 'bulkload backends').",
    ),
    table: str | None = _option(
        "--table",
        panel=_TGT,
        help="Table name (default: the first file's name without extensions).",
    ),
    if_exists: str | None = _option(
        "--if-exists",
        panel=_TGT,
        help="When the table exists: append (default), replace, truncate, fail.",
    ),
    wal: bool | None = _option(
        "--wal/--no-wal",
        panel=_TGT,
        help="SQLite: WAL journal (default). --no-wal is faster but a crash can corrupt the file.",
    ),
    connections: int | None = _option(
        "--connections", panel=_TGT, help="Connections to open, for backends that hold them."
    ),
    requests_per_connection: int | None = _option(
        "--requests-per-connection",
        panel=_TGT,
        help="Writes one connection may carry at once (default: the backend's).",
    ),
    schema_name: str | None = _option(
        "--schema-name", panel=_TGT, help="PostgreSQL: schema of the table (created if missing)."
    ),
    pg_method: str | None = _option(
        "--pg-method", panel=_TGT, help="PostgreSQL: copy (default, fastest) or insert."
    ),
    pg_format: str | None = _option(
        "--pg-format",
        panel=_TGT,
        help="PostgreSQL COPY format: binary (default; least server work) or csv (the server "
        "converts the text).",
    ),
    on_conflict: str | None = _option(
        "--on-conflict",
        panel=_TGT,
        help="PostgreSQL upsert when --key columns match: nothing (keep) or update (overwrite).",
    ),
    key: str | None = _option(
        "--key", panel=_TGT, help="PostgreSQL: the columns identifying a row, for --on-conflict."
    ),
    format: str | None = _option(
        "--format",
        panel=_SRC,
        help="csv or parquet (default: from the file extension; csv for stdin).",
    ),
    batch_size: int | None = _option(
        "--batch-size",
        panel=_SRC,
        help="Rows per batch (one write, one transaction) (default: 10000).",
    ),
    limit: int | None = _option("--limit", panel=_SRC, help="Stop after this many rows."),
    select: str | None = _option(
        "--select", panel=_SRC, help="Load only these columns, in this order: a,b,c."
    ),
    rename: list[str] | None = _option(
        "--rename", panel=_SRC, env=False, help="Rename a column: old=new (repeatable)."
    ),
    types: list[str] | None = _option(
        "--type",
        panel=_SRC,
        env=False,
        help=f"Column type, overriding inference: col=TYPE (repeatable). Types: {TYPE_HELP}.",
    ),
    readers: int | None = _option(
        "--readers", panel=_SRC, help="Files parsed in parallel (default: 1)."
    ),
    delimiter: str | None = _option(
        "--delimiter",
        panel=_CSV,
        help="Field delimiter (default: , or a tab for .tsv); 'tab' or '\\t' for tabs.",
    ),
    quote_char: str | None = _option(
        "--quote-char", panel=_CSV, help='Quote character (default: ").'
    ),
    no_quoting: bool | None = _option(
        "--no-quoting", panel=_CSV, env=False, help="Treat quote characters as plain text."
    ),
    header: bool | None = _option(
        "--header/--no-header",
        panel=_CSV,
        help="Whether the first row names the columns (default: --header).",
    ),
    columns: str | None = _option(
        "--columns",
        panel=_CSV,
        help="Column names a,b,c (needed with --no-header; replaces the header otherwise).",
    ),
    encoding: str | None = _option(
        "--encoding",
        panel=_CSV,
        help="Text encoding (default: utf-8; a byte-order mark is skipped).",
    ),
    null_values: list[str] | None = _option(
        "--null-value",
        panel=_CSV,
        env=False,
        help="A spelling of null, e.g. NULL or \\N (repeatable). Empty fields are always null.",
    ),
    skip_rows: int | None = _option(
        "--skip-rows", panel=_CSV, help="Rows to skip before the header."
    ),
    max_field_size: str | None = _option(
        "--max-field-size",
        panel=_CSV,
        help="Largest field the CSV parser is sure to read: 64MB (default), 512KB, bytes.",
    ),
    concurrency: int | None = typer.Option(
        None,
        "--concurrency",
        "-c",
        envvar="BULKLOAD_CONCURRENCY",
        rich_help_panel=_ENG,
        help="Batches in flight at most (default: 8); capped by what the target allows.",
    ),
    queue_depth: int | None = _option(
        "--queue-depth",
        panel=_ENG,
        help="Batches the readers may run ahead of the writers (default: 2 x writers).",
    ),
    rate: float | None = _option("--rate", panel=_ENG, help="At most this many rows per second."),
    max_batches_per_sec: float | None = _option(
        "--max-batches-per-sec", panel=_ENG, help="At most this many batch writes per second."
    ),
    max_bytes_per_sec: float | None = _option(
        "--max-bytes-per-sec",
        panel=_ENG,
        help="At most this many bytes (of batch data) per second.",
    ),
    retries: int | None = _option(
        "--retries", panel=_ERR, help="Retries of a batch after a transient error (default: 5)."
    ),
    retry_max_wait: float | None = _option(
        "--retry-max-wait", panel=_ERR, help="Longest wait between retries, seconds (default: 5)."
    ),
    timeout: float | None = _option(
        "--timeout", panel=_ERR, help="Seconds one batch write may take; 0 for none (default: 120)."
    ),
    breaker_threshold: int | None = _option(
        "--breaker-threshold",
        panel=_ERR,
        help="Consecutive failures that pause sending (circuit breaker); 0 never (default: 10).",
    ),
    breaker_cooldown: float | None = _option(
        "--breaker-cooldown", panel=_ERR, help="Seconds the circuit stays open (default: 5)."
    ),
    max_errors: str | None = _option(
        "--max-errors",
        panel=_ERR,
        help="Abort (exit 2) when more rows than this are rejected: a count, or a share like 1%.",
    ),
    fail_fast: bool | None = _option(
        "--fail-fast", panel=_ERR, help="Abort on the first error or rejected row."
    ),
    bad_records: str | None = _option(
        "--bad-records",
        panel=_ERR,
        help="CSV file for rejected rows (default: <table>.bad-records.csv, created if needed).",
    ),
    checkpoint: str | None = _option(
        "--checkpoint", panel=_ERR, help="Record committed batches in this file."
    ),
    resume: bool | None = _option(
        "--resume", panel=_ERR, help="Skip the batches --checkpoint says are committed."
    ),
    json_path: str | None = _option(
        "--json", panel=_OUT, help="Write the summary as JSON to this file, or - for stdout."
    ),
    quiet: bool | None = typer.Option(
        None,
        "--quiet",
        "-q",
        envvar="BULKLOAD_QUIET",
        rich_help_panel=_OUT,
        help="No progress display; print only the summary.",
    ),
    progress: str | None = _option(
        "--progress",
        panel=_OUT,
        help="auto (default: live on a terminal, a line every 5 s otherwise), rich, plain, off.",
    ),
    config: Path | None = _option(
        "--config",
        panel=_OUT,
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
    given = dict(locals())
    given.pop("config")
    given.pop("debug")
    given["json"] = given.pop("json_path")
    if not given["paths"]:
        given["paths"] = None
    with _errors_as_exit_codes(debug):
        profile = load_profile(config) if config else {}
        settings = build_import_config(merge_options(profile, given))
        raise typer.Exit(_run_import(settings))


def _run_import(settings: ImportConfig) -> int:
    """Run with progress and signal handling; print the summary; return the exit code."""
    json_path = settings.report.json_path
    if json_path:
        check_json_path(json_path)
    json_to_stdout = json_path == "-"
    # stdout belongs to the JSON when it goes there; people read stderr then.
    out = Console(stderr=json_to_stdout, highlight=False)
    err = Console(stderr=True, highlight=False)
    mode = ProgressReporter.choose_mode(settings.report.progress, settings.report.quiet, err)
    stats = RunStats()
    control = RunControl()

    async def watch(run_stats: RunStats) -> None:
        await ProgressReporter(run_stats, err, mode).run()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None

        def on_signal() -> None:
            if control.stop_requested:
                task.cancel()  # second signal: abort now; transactions in flight roll back
                return
            control.request_stop()
            err.print(
                "bulkload: stopping: finishing the batches in flight "
                "(Ctrl-C again to abort at once)",
                highlight=False,
            )

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        await load_async(settings, stats=stats, watcher=watch, control=control)

    try:
        asyncio.run(main())
    except (KeyboardInterrupt, asyncio.CancelledError):
        stats.outcome = "interrupted"
        _finish(stats, json_path, out)
        return EXIT_INTERRUPTED
    except Exception as error:
        # "aborted": the run stopped itself (--max-errors...); "failed": anything else.
        stats.outcome = "aborted" if isinstance(error, AbortedError) else "failed"
        message = redact_text(_error_message(error), _secrets(settings))
        with contextlib.suppress(BulkloadError):  # the error that ended the run comes first
            _finish(stats, json_path, out, error=message)
        raise
    _finish(stats, json_path, out)
    if stats.outcome == "interrupted":
        return EXIT_INTERRUPTED
    return EXIT_REJECTED if stats.rows_rejected else EXIT_OK


def _finish(
    stats: RunStats, json_path: str | None, console: Console, error: str | None = None
) -> None:
    """The terminal summary (unless an error ended the run before a row was read) and the
    JSON summary, which every run writes, with the error when there was one."""
    if error is None or stats.rows_read:
        render_summary(stats, console)
    if not json_path:
        return
    try:
        write_json(stats, json_path, error=error)
    except OSError as exc:
        problem = f"--json: cannot write {json_path}: {exc.strerror or exc}"
        if error is not None:
            _error_line(problem)
            raise BulkloadError(problem) from None
        # Exit 2, not 3: the rows are in the target; a blind re-run would load them twice.
        raise BulkloadError(
            f"{problem}; the import itself finished ({stats.outcome}): "
            f"{stats.rows_loaded} rows loaded, {stats.rows_rejected} rejected"
        ) from None


def _secrets(settings: ImportConfig) -> list[str]:
    with contextlib.suppress(ValueError):
        password = urlsplit(settings.target.url).password
        return [password] if password else []
    return []


@app.command("forget-checkpoints", cls=_Command)
def forget_checkpoints_command(
    to: str = typer.Option(..., "--to", envvar="BULKLOAD_TO", help="Target URL."),
    table: str = typer.Option(..., "--table", envvar="BULKLOAD_TABLE", help="Table name."),
    schema_name: str | None = typer.Option(
        None, "--schema-name", help="PostgreSQL: schema of the table."
    ),
    checkpoint: Path | None = typer.Option(
        None, "--checkpoint", help="Also delete this checkpoint file."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks."),
) -> None:
    """Remove the checkpoint bookkeeping of a table (the _bulkload_checkpoints rows written
    by --checkpoint runs), so a later --resume starts from scratch."""
    with _errors_as_exit_codes(debug):
        settings = build_import_config({"paths": ["-"], "to": to, "schema_name": schema_name})
        backend = create_backend(settings.target)
        removed = asyncio.run(backend.forget_checkpoints(table))
        if checkpoint is not None:
            checkpoint.unlink(missing_ok=True)
        print(f"removed {removed} checkpoint key(s) of table {table!r} from {backend.describe()}")


@app.command("backends", cls=_Command)
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
        _show(error, debug)
        raise typer.Exit(EXIT_ABORTED) from None


def _error_message(error: BaseException) -> str:
    """What the user is told: our own errors as they are, anything else as internal."""
    if isinstance(error, BulkloadError):
        return str(error)
    return f"internal error: {type(error).__name__}: {error} (--debug shows where)"


def _show(error: BaseException, debug: bool, message: str | None = None) -> None:
    if debug:
        traceback.print_exception(error)
    _error_line(message or _error_message(error))


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
