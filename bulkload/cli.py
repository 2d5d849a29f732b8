"""The command line: parse arguments, build a config, run, render, choose the exit code.

This is the only module that knows about exit codes and the terminal. Exit codes:

    0  every row read was loaded
    1  finished, but some rows were rejected
    2  aborted: too many errors, retries exhausted, or an internal error
    3  bad usage, configuration or input file
    4  interrupted (Ctrl-C / SIGTERM)
    5  target unavailable: cannot connect, open or create the table
   99  bench / report: a --threshold gate failed, or a level regressed past --baseline
"""

from __future__ import annotations

import atexit
import contextlib
import inspect
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

# numpy (which pyarrow imports) starts OpenBLAS worker threads that spin for a while
# after start-up. bulkload does no linear algebra worth a thread, and on a 2-core machine
# the spinning took 0.1-0.2 s of CPU from the reader and writer of a 1M-row import.
# Before anything imports numpy; a value the user set wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

from bulkload import __version__, event_loop
from bulkload.cli_report import report_app
from bulkload.config.profiles import merge_options
from bulkload.errors import AbortedError, BulkloadError
from bulkload.options import (
    BENCH,
    IMPORT,
    Option,
    build_bench_config,
    build_import_config,
    flag,
    load_profile,
    options_for,
)
from bulkload.process_signals import StopSignals

# Start-up time matters (bulkload --help, short runs): what a command needs beyond typer
# (asyncio, rich, pyarrow, the engine, the backends) is imported when it runs.
if TYPE_CHECKING:
    from rich.console import Console

    # typer >= 0.26 vendors click; only the types are needed
    from typer._click.core import Context as _Context
    from typer._click.core import Parameter as _Parameter

    from bulkload.config import ImportConfig
    from bulkload.stats.run import RunStats

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


class _AsGiven:
    """Typer (0.29) converts each value with a pydantic TypeAdapter, and importing
    pydantic takes longer than all of ``bulkload --version``. The options' validators
    (bulkload.options) check every value, from any layer, so the command-line text is
    handed to them as given. (Typer's own: a flag's bool.)"""

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        return value


def _values_as_given(params: list[_Parameter]) -> list[_Parameter]:
    for param in params:
        if hasattr(param, "_runtime_param"):  # typer >= 0.29; older typer uses click's types
            param._runtime_param = _AsGiven()
    return params


class _Group(TyperGroup):
    """The root: --version and --help only."""

    def get_params(self, ctx: _Context) -> list[_Parameter]:
        return _values_as_given(_flags_show_no_value(super().get_params(ctx)))


class _Command(TyperCommand):
    def get_params(self, ctx: _Context) -> list[_Parameter]:
        return _flags_show_no_value(super().get_params(ctx))


class _RegistryCommand(TyperCommand):
    """A command whose parameters come from bulkload.options."""

    def get_params(self, ctx: _Context) -> list[_Parameter]:
        return _values_as_given(_flags_show_no_value(super().get_params(ctx)))


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


def _registry_command(name: str, run: Callable[[dict[str, Any]], int], help: str) -> None:
    """Add command ``name``: its parameters are the options declared for it in
    bulkload.options; ``run`` gets the options set by profile, environment or flag."""

    def command(**given: Any) -> None:
        config = given.pop("config")
        debug = flag(given.pop("debug") or False, "--debug")
        # typer passes a repeatable option that was not given as an empty list
        given = {key: None if value in ([], ()) else value for key, value in given.items()}
        with _errors_as_exit_codes(debug):
            event_loop.choice()  # a bad BULKLOAD_EVENT_LOOP is bad usage, found first
            profile = load_profile(config, name) if config else {}
            raise typer.Exit(run(merge_options(profile, given)))

    command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [_parameter(option) for option in options_for(name)]
    )
    app.command(name, cls=_RegistryCommand, help=help)(command)


def _parameter(option: Option) -> inspect.Parameter:
    """The typer parameter of one declared option; its default None means "not given",
    so that a profile can supply the value."""
    declared: Any
    if option.argument:
        declared = typer.Argument(None, help=option.help, show_default=False)
    else:
        declared = typer.Option(
            None,
            *option.flags,
            envvar=option.envvar,
            rich_help_panel=option.panel,
            help=option.full_help,
            show_default=False,
            metavar=option.metavar,
        )
    value_type: Any = option.cli_type
    if option.repeatable:
        value_type = list[value_type]
    return inspect.Parameter(
        option.name, inspect.Parameter.KEYWORD_ONLY, default=declared, annotation=value_type | None
    )


def _import(options: dict[str, Any]) -> int:
    settings = build_import_config(options)
    if settings.processes > 1:  # bulkload.import_processes
        from bulkload import import_processes

        return import_processes.run_import_processes(settings, argv=_command_line)
    return _run_import(settings)


def _bench(options: dict[str, Any]) -> int:
    from bulkload.bench.command import run_bench

    return run_bench(build_bench_config(options), argv=_command_line)


_registry_command(IMPORT, _import, help="Load CSV or Parquet files into a target.")
_registry_command(
    BENCH,
    _bench,
    help="Measure the target: run the load once per concurrency level (or arrival rate, or "
    "batch size) and compare the levels.",
)


def _run_import(settings: ImportConfig) -> int:
    """Run with progress and signal handling; print the summary; return the exit code."""
    import asyncio

    from rich.console import Console

    from bulkload.engine import RunControl
    from bulkload.load import load_async
    from bulkload.redact import redact_text, url_secrets

    if settings.cluster.address:  # --cluster: Dask workers load the files (issue 14)
        from bulkload.cluster.load import load_on_cluster_async as load_async
    from bulkload.report import ProgressReporter
    from bulkload.report.json_summary import check_json_path
    from bulkload.stats.run import RunStats

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

    def stop() -> None:
        control.request_stop()
        err.print(
            "bulkload: stopping: finishing the batches in flight (Ctrl-C again to abort at once)",
            highlight=False,
        )

    signals = StopSignals(stop)

    async def main() -> None:
        signals.attach()  # from now on the second signal cancels this task
        await load_async(settings, stats=stats, watcher=watch, control=control)

    with signals:
        try:
            event_loop.run_command(main())
        except (KeyboardInterrupt, asyncio.CancelledError):
            stats.outcome = "interrupted"
            _finish(stats, json_path, out)
            return EXIT_INTERRUPTED
        except Exception as error:
            # "aborted": the run stopped itself (--max-errors...); "failed": anything else.
            stats.outcome = "aborted" if isinstance(error, AbortedError) else "failed"
            message = redact_text(_error_message(error), url_secrets(settings.target.url))
            with contextlib.suppress(BulkloadError):  # the error that ended the run comes first
                _finish(stats, json_path, out, error=message)
            if isinstance(error, BulkloadError) and (before := _loaded_before(stats, settings)):
                raise type(error)(f"{error}{before}") from None
            raise
        _finish(stats, json_path, out)
    if stats.outcome == "interrupted" or control.stop_requested:
        return EXIT_INTERRUPTED
    return EXIT_REJECTED if stats.rows_rejected else EXIT_OK


def _loaded_before(stats: RunStats, settings: ImportConfig) -> str:
    """What a failed run had already loaded, what may be in the target with no answer
    to say so, and, with a checkpoint, how to go on ("" when it left nothing there)."""
    from bulkload.report.summary import in_doubt_text

    if not stats.rows_loaded and not stats.rows_in_doubt:
        return ""
    rows = stats.rows_loaded
    loaded = f"{rows:,} {'row was' if rows == 1 else 'rows were'} loaded before this error"
    if stats.rows_in_doubt:
        loaded += f"; {in_doubt_text(stats.rows_in_doubt)}"
    if settings.engine.checkpoint:
        return f" ({loaded}; run the same command with --resume to load the rest)"
    return f" ({loaded})"


def _finish(
    stats: RunStats, json_path: str | None, console: Console, error: str | None = None
) -> None:
    """The terminal summary (unless an error ended the run before a row was read) and the
    JSON summary, which every run writes, with the error when there was one."""
    from bulkload.report import render_summary, write_json

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


app.add_typer(report_app, name="report")


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
    debug: bool = typer.Option(
        False, "--debug", help="Show full tracebacks, and the log records of the libraries used."
    ),
) -> None:
    """Remove the checkpoint bookkeeping of a table (the _bulkload_checkpoints rows written
    by --checkpoint runs), so a later --resume starts from scratch."""
    from bulkload.backends import create_backend

    with _errors_as_exit_codes(debug):
        settings = build_import_config({"paths": ["-"], "to": to, "schema_name": schema_name})
        backend = create_backend(settings.target)
        removed = event_loop.run(backend.forget_checkpoints(table))
        if checkpoint is not None:
            checkpoint.unlink(missing_ok=True)
        print(f"removed {removed} checkpoint key(s) of table {table!r} from {backend.describe()}")


@app.command("backends", cls=_Command)
def backends_command() -> None:
    """List the installed backends and the URL schemes they serve."""
    from rich.console import Console

    from bulkload.backends import available_backends

    console = Console(highlight=False)
    for info in available_backends():
        schemes = ", ".join(f"{s}://" for s in info.schemes) or "-"
        origin = info.distribution or "?"
        status = f"  [red]failed to load: {info.error}[/]" if info.error else ""
        console.print(f"{info.name:<12} {schemes:<30} {info.target}  ({origin}){status}")
        if info.options:  # the backend's own options, as it declares them
            flags = ", ".join(
                option.flags[0] if option.flags else option.name for option in info.options
            )
            console.print(f"{'':<12} options: {flags}")


@contextlib.contextmanager
def _errors_as_exit_codes(debug: bool) -> Iterator[None]:
    """Turn errors into one line on stderr and their exit code (tracebacks with --debug);
    other libraries' log records stay off the terminal unless --debug."""
    from bulkload.cli_logs import command_logs  # logging: not needed for --help

    try:
        with command_logs(debug):
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
        import traceback

        traceback.print_exception(error)
    _error_line(message or _error_message(error))


def _error_line(message: str) -> None:
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    print(f"bulkload: error: {first}", file=sys.stderr)


#: the command line as given, for results that record how they were made (secrets are
#: removed where it is written)
_command_line: list[str] = []


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    _command_line[:] = ["bulkload", *(sys.argv[1:] if argv is None else argv)]
    if argv is None:  # the console script: this process ends with the command
        import bulkload.process_signals

        bulkload.process_signals.ignore_after_run = True
    try:
        code = app(args=argv, prog_name="bulkload", standalone_mode=False)
    except typer.TyperException as exc:  # unknown option, bad value, missing argument
        _error_line(exc.format_message() + " (see --help)")
        code = EXIT_USAGE
    except typer.Abort:
        _error_line("interrupted")
        code = EXIT_INTERRUPTED
    code = code if isinstance(code, int) else EXIT_OK
    if argv is None:
        _end_process(code)
    sys.stdout.flush()
    sys.exit(code)


def _end_process(code: int) -> None:
    """End the console script's process without the interpreter's teardown when nothing
    is left to do: freeing every module and object one by one took 45-60 ms after a large
    import had printed its summary. Exit handlers still run and output is flushed; if a
    non-daemon thread is still alive, the normal exit waits for it as always."""
    if any(
        t.is_alive() and not t.daemon
        for t in threading.enumerate()
        if t is not threading.main_thread()
    ):
        sys.stdout.flush()
        sys.exit(code)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
