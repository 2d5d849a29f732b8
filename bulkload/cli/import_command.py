"""``bulkload import``: build the config, run the load with progress and signal
handling, then :func:`~bulkload.cli.finish.finish` (summary, JSON, exit code)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bulkload import event_loop
from bulkload.cli.error_line import error_message
from bulkload.cli.exit_codes import for_outcome
from bulkload.cli.finish import finish, outputs, show_and_save
from bulkload.cli.signals import StopSignals
from bulkload.errors import AbortedError, BulkloadError
from bulkload.options import build_import_config

if TYPE_CHECKING:
    from rich.console import Console

    from bulkload.cli.finish import Output
    from bulkload.config import ImportConfig
    from bulkload.stats.run import RunStats


def run_import_command(options: dict[str, Any], *, argv: Sequence[str]) -> int:
    settings = build_import_config(options)
    if settings.processes > 1:  # bulkload.parallel.local_import
        return run_import_processes(settings, argv=argv)
    return run_import(settings)


def run_import_processes(settings: ImportConfig, *, argv: Sequence[str]) -> int:
    """``import --processes P``: the local-process runner with progress and signals; the
    summary and JSON of one run; the code of the first share that failed (one killed
    by a signal: 2), else 4 if interrupted, else 1 if rows were rejected, else 0."""
    import asyncio

    from bulkload.cli.error_line import error_line
    from bulkload.cli.exit_codes import describe_share, for_share
    from bulkload.cli.finish import consoles
    from bulkload.cli.views.import_progress import ProgressReporter
    from bulkload.parallel.local_import import ImportProcesses
    from bulkload.redact import redact_text, url_secrets
    from bulkload.report.json_summary import check_json_path

    json_path = settings.report.json_path
    with ImportProcesses(settings, argv=argv, code_of=lambda end: int(for_share(end))) as run:
        if json_path:
            check_json_path(json_path)
        secrets = url_secrets(settings.target.url)
        out, err = consoles(json_to_stdout=json_path == "-")
        mode = ProgressReporter.choose_mode(settings.report.progress, settings.report.quiet, err)
        stats = run.stats

        async def watch(run_stats: RunStats) -> None:
            await ProgressReporter(run_stats, err, mode).run()

        def stop() -> None:
            run.stop()
            err.print(
                f"bulkload: stopping: the {run.count} processes finish their batches in "
                "flight (Ctrl-C again to abort at once)"
            )

        signals = StopSignals(stop)

        async def main() -> None:
            signals.attach()  # from now on the second signal cancels this task
            await run.run(watch)

        with signals:
            try:
                event_loop.run_command(main())
            except (KeyboardInterrupt, asyncio.CancelledError):
                pass
            except Exception as exc:  # preparing the target, or starting a child, failed
                stats.outcome = "aborted" if isinstance(exc, AbortedError) else "failed"
                message = redact_text(error_message(exc), secrets)
                view, files = _summary(stats, json_path, error=message)
                return finish(out, view, files, error=exc)
            ended = run.outcome(stopped=signals.received > 0)
        failures = ended.failures
        error = redact_text(describe_share(failures[0].end), secrets) if failures else None
        view, files = _summary(stats, json_path, error=error)
        show_and_save(out, view, files, failed=error is not None, done=_finished(stats))
    for line in ended.messages:  # the shares' warnings
        print(line, file=sys.stderr)
    if failures:  # one line each, the first failure (the cause) first
        error_line(f"{error}{loaded_before(stats, settings)}")
        said = {failures[0].said()}
        for outcome in failures[1:]:  # each reading the same bad input says the same: once
            if outcome.said() not in said:
                said.add(outcome.said())
                error_line(redact_text(describe_share(outcome.end), secrets))
        return for_share(failures[0].end)
    return for_outcome(
        "interrupted" if ended.interrupted else "completed", rows_rejected=stats.rows_rejected
    )


def run_import(settings: ImportConfig) -> int:
    """Run with progress and signal handling; show and save the summary; the exit code."""
    import asyncio

    from bulkload.cli.finish import consoles
    from bulkload.engine import RunControl
    from bulkload.load import load_async
    from bulkload.redact import redact_text, url_secrets

    if settings.cluster.address:  # --cluster: Dask workers load the files (issue 14)
        from bulkload.parallel.dask_import import load_on_cluster_async as load_async
    from bulkload.cli.views.import_progress import ProgressReporter
    from bulkload.report.json_summary import check_json_path
    from bulkload.stats.run import RunStats

    json_path = settings.report.json_path
    if json_path:
        check_json_path(json_path)
    out, err = consoles(json_to_stdout=json_path == "-")
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
        except Exception as error:
            # "aborted": the run stopped itself (--max-errors...); "failed": anything else.
            stats.outcome = "aborted" if isinstance(error, AbortedError) else "failed"
            message = redact_text(error_message(error), url_secrets(settings.target.url))
            view, files = _summary(stats, json_path, error=message)
            return finish(out, view, files, error=_with_loaded_before(error, stats, settings))
        view, files = _summary(stats, json_path)
        outcome = "interrupted" if control.stop_requested else stats.outcome
        code = for_outcome(outcome, rows_rejected=stats.rows_rejected)
        return finish(out, view, files, code=code, done=_finished(stats))


def show_import(
    stats: RunStats, json_path: str | None, console: Console, error: str | None = None
) -> None:
    """The terminal summary (unless an error ended the run before a row was read) and the
    JSON summary, which every run writes, with the error when there was one."""
    view, files = _summary(stats, json_path, error=error)
    show_and_save(console, view, files, failed=error is not None, done=_finished(stats))


def _summary(
    stats: RunStats, json_path: str | None, *, error: str | None = None
) -> tuple[Any, list[Output]]:
    from bulkload.cli.views.import_summary import render_summary
    from bulkload.report import write_json

    def view(console: Console) -> None:
        if error is None or stats.rows_read:
            render_summary(stats, console)

    def write(path: str) -> None:
        write_json(stats, path, error=error)

    return view, outputs(("--json", json_path, write))


def _finished(stats: RunStats) -> str:
    # after a file's problem: the rows are in the target, a blind re-run would load twice
    return (
        f"; the import itself finished ({stats.outcome}): "
        f"{stats.rows_loaded} rows loaded, {stats.rows_rejected} rejected"
    )


def _with_loaded_before(
    error: BaseException, stats: RunStats, settings: ImportConfig
) -> BaseException:
    """``error``, its message followed by what the run had loaded before it."""
    if not isinstance(error, BulkloadError):
        return error
    before = loaded_before(stats, settings)
    if not before:
        return error
    told = BulkloadError(f"{error}{before}")
    told.kind = error.kind
    return told


def loaded_before(stats: RunStats, settings: ImportConfig) -> str:
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
