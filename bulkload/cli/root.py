"""The ``bulkload`` command: the typer app, its commands, and the console script's
:func:`main` (parse, run, exit with the command's code)."""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import Any

# numpy (which pyarrow imports) starts OpenBLAS worker threads that spin for a while
# after start-up. bulkload does no linear algebra worth a thread, and on a 2-core machine
# the spinning took 0.1-0.2 s of CPU from the reader and writer of a 1M-row import.
# Before anything imports numpy; a value the user set wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# pyarrow's allocator (mimalloc) commits its arenas eagerly, asking for transparent huge
# pages: the kernel then zeroes 2 MB at each first touch, again after each purge. Committed
# on demand, a 1M-row import into SQLite spends ~0.1 s less system CPU (0.19-0.23 s
# instead of 0.32-0.39 s) with a smaller peak RSS. Before pyarrow is loaded; the user's
# own value wins.
os.environ.setdefault("MIMALLOC_ARENA_EAGER_COMMIT", "0")

import typer

from bulkload.cli.backends_command import backends_command
from bulkload.cli.checkpoints_command import forget_checkpoints_command
from bulkload.cli.error_line import error_line
from bulkload.cli.exit_codes import ExitCode
from bulkload.cli.params import Command, Group, registry_command
from bulkload.cli.report_commands import report_app
from bulkload.cli.usage_line import usage_line
from bulkload.options import BENCH, IMPORT
from bulkload.version import __version__

# Start-up time matters (bulkload --help, short runs): what a command needs beyond typer
# (asyncio, rich, pyarrow, the engine, the backends) is imported when it runs.

app = typer.Typer(
    name="bulkload",
    cls=Group,
    help="Stream CSV and Parquet into databases and ingest endpoints, fast.",
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"bulkload {__version__}")
        raise typer.Exit(ExitCode.OK)


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
        raise typer.Exit(ExitCode.OK)


def _import(options: dict[str, Any]) -> int:
    from bulkload.cli.import_command import run_import_command

    return run_import_command(options, argv=_command_line)


def _bench(options: dict[str, Any]) -> int:
    from bulkload.cli.bench_command import run_bench
    from bulkload.options import build_bench_config

    return run_bench(build_bench_config(options), argv=_command_line)


registry_command(app, IMPORT, _import, help="Load CSV or Parquet files into a target.")
registry_command(
    app,
    BENCH,
    _bench,
    help="Measure the target: run the load once per concurrency level (or arrival rate, or "
    "batch size) and compare the levels.",
)
app.add_typer(report_app, name="report")
app.command("forget-checkpoints", cls=Command)(forget_checkpoints_command)
app.command("backends", cls=Command)(backends_command)

#: the command line as given, for results that record how they were made (secrets are
#: removed where it is written)
_command_line: list[str] = []


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    _command_line[:] = ["bulkload", *(sys.argv[1:] if argv is None else argv)]
    if _command_line[1:2] in ([IMPORT], [BENCH]):  # only they take a backend's options
        from bulkload.cli.installed_options import learn_installed_options

        learn_installed_options(_command_line[1:])
    if argv is None:  # the console script: this process ends with the command
        import bulkload.cli.signals

        bulkload.cli.signals.ignore_after_run = True
    try:
        code = app(args=argv, prog_name="bulkload", standalone_mode=False)
    except typer.TyperException as exc:  # unknown option, bad value, missing argument
        error_line(usage_line(exc, exc.format_message()))
        code = ExitCode.USAGE
    except typer.Abort:
        error_line("interrupted")
        code = ExitCode.INTERRUPTED
    code = int(code) if isinstance(code, int) else int(ExitCode.OK)
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
