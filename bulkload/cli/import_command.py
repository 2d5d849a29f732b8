"""``bulkload import``: build the config, choose the runner (in this process,
``--processes P``, ``--cluster``), run it with progress and signal handling, then
:func:`~bulkload.cli.finish.finish` (summary, JSON, exit code)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bulkload.cli.error_line import error_message
from bulkload.cli.exit_codes import for_outcome
from bulkload.cli.finish import finish, outputs, show_and_save
from bulkload.cli.signals import run_stoppable
from bulkload.errors import BulkloadError
from bulkload.options import build_import_config

if TYPE_CHECKING:
    from rich.console import Console

    from bulkload.cli.finish import Output
    from bulkload.config import ImportConfig
    from bulkload.parallel.dask_import import ClusterImport
    from bulkload.parallel.in_process import ImportRun
    from bulkload.parallel.local_import import ImportProcesses
    from bulkload.stats.run import RunStats

    ImportRunner = ImportRun | ImportProcesses | ClusterImport


def run_import_command(options: dict[str, Any], *, argv: Sequence[str]) -> int:
    return run_import(build_import_config(options), argv=argv)


def run_import(settings: ImportConfig, *, argv: Sequence[str] = ()) -> int:
    """Run the import with its runner (in this process, ``--processes P``, ``--cluster``)
    under progress and signals; show and save the summary and JSON of one run; the
    code of the first share that failed (one killed by a signal: 2), else 4 if
    interrupted, else 1 if rows were rejected, else 0."""
    from bulkload.cli.error_line import error_line
    from bulkload.cli.exit_codes import describe_share, for_share
    from bulkload.cli.finish import consoles
    from bulkload.cli.metrics import live_metrics
    from bulkload.cli.views.import_progress import ProgressReporter
    from bulkload.redact import redact_text, url_secrets
    from bulkload.report.json_summary import check_json_path

    runner, stopping = _runner(settings, argv)
    json_path = settings.report.json_path
    if settings.report.html_path:  # before the import, not after it: a missing extra
        from bulkload.report.html import require_html_support

        require_html_support()
        check_json_path(settings.report.html_path, "--html")
    if json_path:
        check_json_path(json_path)
    if settings.report.hdr_log:
        check_json_path(settings.report.hdr_log, "--hdr-log")
    secrets = url_secrets(settings.target.url)
    out, err = consoles(json_to_stdout=json_path == "-")
    mode = ProgressReporter.choose_mode(settings.report.progress, settings.report.quiet, err)
    stats = runner.stats

    async def watch() -> None:
        await ProgressReporter(stats, err, mode).run()

    def told() -> None:
        err.print(
            f"bulkload: stopping: {stopping} (Ctrl-C again to abort at once)", highlight=False
        )

    metrics = live_metrics(settings.report, runner, "import")
    try:
        ended = run_stoppable(runner, told, watch)
    finally:
        if metrics is not None:
            metrics.close()
    if ended.error is not None:  # the parent's own: preparing the target, or the load
        message = redact_text(error_message(ended.error), secrets)
        view, files = _summary(stats, settings, argv, error=message)
        return finish(out, view, files, error=_with_loaded_before(ended.error, stats, settings))
    failures = ended.failures
    error = redact_text(describe_share(failures[0]), secrets) if failures else None
    view, files = _summary(stats, settings, argv, error=error)
    show_and_save(out, view, files, failed=error is not None, done=_finished(stats))
    for line in ended.messages:  # the shares' warnings
        print(line, file=sys.stderr)
    if failures:  # one line each, the first failure (the cause) first
        error_line(f"{error}{loaded_before(stats, settings)}")
        said = {failures[0].error}
        for end in failures[1:]:  # each reading the same bad input says the same: once
            if end.error not in said:
                said.add(end.error)
                error_line(redact_text(describe_share(end), secrets))
        return for_share(failures[0])
    outcome = "interrupted" if ended.interrupted else stats.outcome
    return for_outcome(outcome, rows_rejected=stats.rows_rejected)


def _runner(settings: ImportConfig, argv: Sequence[str]) -> tuple[ImportRunner, str]:
    """The runner the options choose, and what its graceful stop does, to say so."""
    if settings.processes > 1:
        from bulkload.cli.exit_codes import for_share
        from bulkload.parallel.local_import import ImportProcesses

        run = ImportProcesses(settings, argv=argv, code_of=lambda end: int(for_share(end)))
        return run, f"the {run.count} processes finish their batches in flight"
    if settings.cluster.address:
        from bulkload.parallel.dask_import import ClusterImport

        return ClusterImport(settings), "the workers finish their batches in flight"
    from bulkload.parallel.in_process import ImportRun

    return ImportRun(settings), "finishing the batches in flight"


def _summary(
    stats: RunStats, settings: ImportConfig, argv: Sequence[str], *, error: str | None = None
) -> tuple[Any, list[Output]]:
    from bulkload.cli.views.import_summary import render_summary
    from bulkload.redact import redact_text, redact_url, url_secrets
    from bulkload.report import summary_dict
    from bulkload.report.hdr_log import write_hdr_log
    from bulkload.report.json_summary import write_document

    report = settings.report
    document: dict[str, Any] = {}
    secrets = url_secrets(settings.target.url)
    command = [redact_url(redact_text(arg, secrets)) for arg in argv]

    def summary() -> dict[str, Any]:  # once: the JSON and the HTML show the same figures
        if not document:
            document.update(summary_dict(stats, error=error, command=command))
        return document

    def view(console: Console) -> None:
        if error is None or stats.rows_read:
            render_summary(stats, console)

    def write(path: str) -> None:
        write_document(summary(), path)

    def write_html(path: str) -> None:
        from bulkload.report.html_import import write_import_html

        write_import_html(summary(), path)

    def write_log(path: str) -> None:
        write_hdr_log(stats.timeline, path)

    return view, outputs(
        ("--json", report.json_path, write),
        ("--html", report.html_path, write_html),
        ("--hdr-log", report.hdr_log, write_log),
    )


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
