"""``bulkload bench``: run a sweep with progress and signal handling, show it, save it.

The first Ctrl-C (or SIGTERM) stops the level running (its partial window is not kept),
the finished levels are shown and saved, exit 4; a second one cancels at once. A level
the target fails (unreachable, refusing every write) is reported with the levels before
it, exit 5.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Sequence

from rich.console import Console

from bulkload.backends import create_backend
from bulkload.bench.result import SweepResult, machine_facts
from bulkload.bench.sweep import BenchData, FileData, Sweep, SweepSpec, SyntheticData
from bulkload.config import BenchConfig, TargetOptions
from bulkload.engine.runner import RunControl
from bulkload.engine.writer import one_line
from bulkload.errors import BulkloadError, UsageError
from bulkload.process_signals import StopSignals
from bulkload.redact import redact_text, redact_url
from bulkload.report.bench_progress import BenchProgress
from bulkload.report.bench_view import render_sweep
from bulkload.report.html import require_html_support, write_html
from bulkload.report.json_summary import check_json_path, write_document
from bulkload.report.progress import ProgressReporter
from bulkload.sources.discovery import STDIN

EXIT_OK = 0
EXIT_INTERRUPTED = 4
EXIT_TARGET = 5
DEFAULT_TABLE = "bulkload_bench"


def run_bench(config: BenchConfig, *, argv: Sequence[str] = ()) -> int:
    """Run the sweep; print and save its result; return the exit code. Raises the
    BulkloadError that stopped it (after showing and saving what was measured)."""
    run = config
    if run.report.html_path:  # before the sweep, not after it: a missing extra, a bad path
        require_html_support()
        check_json_path(run.report.html_path, "--html")
    json_to_stdout = run.report.json_path == "-"
    out = Console(stderr=json_to_stdout, highlight=False)
    err = Console(stderr=True, highlight=False)
    backend = create_backend(run.target)
    data = _data(run, typed=not backend.accepts_text)
    result = SweepResult(
        model="closed",
        target=redact_url(backend.describe()),
        table=_table(run),
        command=[redact_url(redact_text(arg, _secrets(run.target))) for arg in argv],
        version=_version(),
        machine=machine_facts(),
    )
    control = RunControl()
    spec = sweep_spec(config)
    result.model = spec.model
    sweep = Sweep(
        backend,
        data,
        spec,
        run.engine,
        table=result.table,
        if_exists=run.target.if_exists,
        control=control,
        result=result,
    )
    mode = ProgressReporter.choose_mode(run.report.progress, run.report.quiet, err)

    def stop() -> None:
        control.request_stop()
        err.print(
            "bulkload: stopping: the level running is dropped, the finished ones are kept "
            "(Ctrl-C again to stop at once)"
        )

    signals = StopSignals(stop)

    async def main() -> None:
        signals.attach()  # from now on the second signal cancels this task
        progress = asyncio.create_task(BenchProgress(sweep.progress, err, mode).run())
        try:
            await sweep.run()
        finally:
            progress.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await progress

    failure: Exception | None = None
    with signals:
        try:
            asyncio.run(main())
        except (KeyboardInterrupt, asyncio.CancelledError):
            result.outcome = "interrupted"
        except Exception as exc:  # shown and saved with what was measured, then raised
            result.outcome, result.error, failure = "failed", one_line(exc), exc
        if control.stop_requested and result.outcome == "completed":
            result.outcome = "interrupted"
        render_sweep(result, out)
        if run.report.json_path:
            write_document(result.to_dict(), run.report.json_path)
        if run.report.html_path:
            _write_html(result, run.report.html_path, failure)
    if failure is not None:
        raise failure
    if result.outcome == "interrupted":
        return EXIT_INTERRUPTED
    if result.outcome == "failed":
        return EXIT_TARGET
    return EXIT_OK


def _write_html(result: SweepResult, path: str, failure: BulkloadError | None) -> None:
    """The HTML report, whatever the outcome; a write error is reported after the error
    that ended the sweep, if one did, or ends the command (exit 2: the sweep ran)."""
    try:
        write_html(result, path)
    except OSError as exc:
        problem = f"--html: cannot write {path}: {exc.strerror or exc}"
        if failure is None:
            raise BulkloadError(problem) from None
        print(f"bulkload: error: {problem}", file=sys.stderr)


def sweep_spec(config: BenchConfig) -> SweepSpec:
    """The sweep the options describe."""
    options = config.sweep
    return SweepSpec(
        levels=None if options.auto else options.levels,
        batch_sizes=options.batch_sizes,
        rates=options.rates or None,
        concurrency_cap=config.engine.concurrency,
        warmup_s=options.warmup,
        duration_s=options.duration,
        rows=options.rows,
        batches=options.batches,
        max_time_s=options.max_time,
        reset=options.reset,
        slo=options.slo,
    )


def _data(run: BenchConfig, *, typed: bool) -> BenchData:
    if run.synthetic is not None:
        return SyntheticData(run.synthetic)
    if run.source is None:
        raise UsageError("bench needs input files or --synthetic rows=N,columns=K")
    if STDIN in run.source.paths:
        raise UsageError("bench reads its input several times: pass files, not stdin (-)")
    return FileData(run.source, typed=typed)


def _table(run: BenchConfig) -> str:
    if run.target.table:
        return run.target.table
    if run.source is not None and run.synthetic is None:
        from bulkload.sources.discovery import discover

        return discover(run.source.paths, run.source.format)[0].stem
    return DEFAULT_TABLE


def _secrets(target: TargetOptions) -> list[str]:
    from urllib.parse import urlsplit

    try:
        password = urlsplit(target.url).password
    except ValueError:
        password = None
    return [password] if password else []


def _version() -> str:
    from bulkload import __version__

    return __version__
