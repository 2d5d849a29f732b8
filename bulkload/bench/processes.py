"""``bulkload bench --processes P``: the sweep in P local processes, merged as shards are.

For when one event loop is the bottleneck. The parent prepares the target once (the
table created or replaced as ``--if-exists`` says), then runs share i of P
(``--shard i/P`` semantics) in each of P processes
(:class:`bulkload.parallel.local.LocalShares`); the parent keeps the terminal. Before
each level every share waits at a barrier, so the levels start together and their
windows overlap; the overlap is measured and saved. Under ``--reset`` a first barrier
lets one share empty the table only once every share's writes have ended. Each share
sends its result (or its error) back as data; the results are merged with
:func:`merge_results` (throughput over the union of the windows), then shown, saved
and judged exactly as a single run's.

The first Ctrl-C is passed on to every share (each drops the level running and keeps
the finished ones); the second stops them at once; a share still running after that is
killed. A share that fails is named on one line with its exit code, and stops the
others after their level; what the others measured is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console

from bulkload import event_loop
from bulkload.bench.auto_processes import Decision
from bulkload.bench.merge import merge_results, window_overlap
from bulkload.bench.result import SweepResult
from bulkload.config import BenchConfig
from bulkload.errors import BulkloadError, UsageError
from bulkload.parallel.local import LocalShares, Message, ShareEnd, ShareLink
from bulkload.parallel.prepare import prepare_bench_target
from bulkload.parallel.shares import bench_child
from bulkload.process_signals import StopSignals
from bulkload.sources.discovery import STDIN

#: levels whose windows overlapped less than this get a warning
OVERLAP_WARNING = 0.9

EXIT_ABORTED = 2
EXIT_INTERRUPTED = 4
EXIT_TARGET = 5


def check_processes(config: BenchConfig, argv: Sequence[str]) -> None:
    """Refuse what cannot be split among processes, before any is started."""
    count = config.sweep.processes
    if config.sweep.shard is not None:
        raise UsageError(
            "--processes and --shard exclude each other: --processes runs the shards i/P "
            "itself (on several machines, give each job --shard and no --processes)"
        )
    if config.sweep.auto:
        raise UsageError(
            "--processes needs fixed levels (--sweep 1,8,32 or --sweep-rate): the levels "
            "of --sweep auto depend on what each process measures"
        )
    if config.synthetic is not None and config.synthetic.rows < count:
        raise UsageError(f"--processes {count}: fewer synthetic rows than processes")
    if config.source is not None and STDIN in config.source.paths:
        raise UsageError("bench reads its input several times: pass files, not stdin (-)")


def merge_children(ends: Sequence[ShareEnd], count: int, command: list[str]) -> SweepResult | None:
    """The shares' results merged over the levels all of them ran, with how their
    windows overlapped; None when none sent a result."""
    found = [(end, _result_of(end)) for end in ends]
    saved = [(end, result) for end, result in found if result is not None]
    if not saved:
        return None
    results = [result for _, result in saved]
    common = min(len(result.levels) for result in results)
    for result in results:
        del result.levels[common:]  # a level some child never ran is not a level of the whole
    merged = merge_results(results, names=[end.name for end, _ in saved], check_whole=False)
    merged.command = command
    merged.shard = None
    overlaps = [
        window_overlap([(r.levels[k].started_at, r.levels[k].finished_at) for r in results])
        for k in range(common)
    ]
    merged.processes = {
        "count": count,
        "window_overlap": [round(overlap, 4) for overlap in overlaps],
        "children": [_child_summary(end, result) for end, result in found],
    }
    for level, overlap in zip(merged.levels, overlaps, strict=True):
        if len(results) > 1 and overlap < OVERLAP_WARNING:
            merged.warnings.append(
                f"c={level.concurrency} batch {level.batch_size:,}: the processes' measured "
                f"windows overlapped {overlap:.0%}: throughput is over their union, lower "
                "than what they did together"
            )
    return merged


def _child_summary(end: ShareEnd, result: SweepResult | None) -> dict[str, Any]:
    levels = result.levels if result is not None else []
    return {
        "index": end.index,
        "pid": end.pid,
        "exit_code": end.code,
        "levels": [
            {
                "started_at": level.started_at,
                "finished_at": level.finished_at,
                "rows": level.rows,
                "batches": level.batches,
            }
            for level in levels
        ],
    }


def run_share(link: ShareLink, config: BenchConfig, argv: list[str]) -> None:
    """In a child: run share i of P of the sweep, in step with the others through
    ``link``; send its result and the exit code its run would have had (its error as
    data: the exception's message and code)."""
    from bulkload.bench.run import prepare_shard
    from bulkload.cli.exit_codes import for_error
    from bulkload.engine.batch_writer import one_line
    from bulkload.engine.import_run import RunControl

    control = RunControl()
    signals = StopSignals(control.request_stop)  # the parent's Ctrl-C, passed on
    result: SweepResult | None = None
    code: int | None = None
    error: str | None = None
    with signals:
        try:
            sweep = prepare_shard(
                bench_child(config), link.share, argv=argv, control=control, barrier=link
            )
            result = sweep.result

            async def main() -> None:
                signals.attach()  # from now on the second signal cancels this task
                await sweep.run()

            event_loop.run_command(main())
        except (KeyboardInterrupt, asyncio.CancelledError):
            if result is not None:
                result.outcome = "interrupted"
        except BulkloadError as exc:
            code, error = int(for_error(exc)), one_line(exc)
        except Exception as exc:  # reported like the CLI reports it, never a traceback
            code, error = EXIT_ABORTED, f"internal error: {one_line(exc)}"
    if result is not None:
        if error is not None:
            result.outcome, result.error = "failed", result.error or error
        elif control.stop_requested and result.outcome == "completed":
            result.outcome = "interrupted"
        if code is None:
            interrupted = result.outcome == "interrupted"
            code = (
                EXIT_INTERRUPTED
                if interrupted
                else EXIT_TARGET
                if result.outcome == "failed"
                else 0
            )
        error = error or result.error
    elif code is None:
        code = EXIT_INTERRUPTED
    body = {"result": None if result is None else result.to_dict(), "code": code, "error": error}
    link.send("result", body)


def _result_of(end: ShareEnd) -> SweepResult | None:
    document = (end.body or {}).get("result")
    return None if document is None else SweepResult.from_dict(document)


def _failed(end: ShareEnd, stopping: bool) -> bool:
    """Once the user stopped the run, how a share ended is the stop's doing; one
    stopped because another failed is interrupted, not failed."""
    return end.code not in (0, EXIT_INTERRUPTED) and not stopping


def run_processes(
    config: BenchConfig, *, argv: Sequence[str], decision: Decision | None = None
) -> int:
    """``bench --processes P``: run the children, merge, show, save, judge; the exit
    code is a single run's (a failed child's own code first)."""
    from bulkload.bench.gates import judge_run
    from bulkload.bench.run import prepare_shard, read_baseline
    from bulkload.cli.bench_command import write_html_report as _write_html
    from bulkload.cli.exit_codes import ExitCode
    from bulkload.engine.batch_writer import one_line
    from bulkload.redact import redact_text, redact_url
    from bulkload.report.bench_view import render_sweep
    from bulkload.report.gates_view import render_verdict
    from bulkload.report.html import require_html_support
    from bulkload.report.json_summary import check_json_path, write_document
    from bulkload.report.progress import ProgressReporter

    check_processes(config, argv)
    count = config.sweep.processes
    report, gates = config.report, config.gates
    if report.html_path:
        require_html_support()
        check_json_path(report.html_path, "--html")
    if report.json_path:
        check_json_path(report.json_path)
    out = Console(stderr=report.json_path == "-", highlight=False)
    err = Console(stderr=True, highlight=False)
    baseline = read_baseline(config)
    mode = ProgressReporter.choose_mode(report.progress, report.quiet, err)
    levels = len(config.sweep.rates or config.sweep.levels) * len(config.sweep.batch_sizes)
    secrets = [p for p in [_password(config.target.url)] if p]
    command = [redact_url(redact_text(arg, secrets)) for arg in argv]

    runner = LocalShares(count, run_share, config, list(argv))
    started = 0

    def on_message(message: Message) -> None:
        nonlocal started
        if message.kind == "level" and mode != "off":
            started += 1
            running = sum(1 for p in runner.processes if p.exitcode is None)
            err.print(
                f"level {started}/{levels}: started in {running} processes together",
                highlight=False,
            )

    def stop() -> None:
        runner.stop()
        err.print(
            "bulkload: stopping: every process drops the level running, the finished ones "
            "are kept (Ctrl-C again to stop at once)"
        )

    signals = StopSignals(stop)
    whole = prepare_shard(config, None, argv=argv)  # the whole run: its table, its result

    async def main() -> None:
        signals.attach()  # from now on the second signal cancels this task
        # the table prepared once, before any share writes: the shares append to it
        await prepare_bench_target(
            whole.backend,
            whole.data.batches(config.sweep.batch_sizes[0]),
            table=whole.table,
            if_exists=whole.if_exists,
            timeout=config.engine.timeout,
        )
        try:
            if not runner.stopping:
                runner.start()
            await runner.watch(on_message)
        finally:  # cancelled (the second Ctrl-C) or failed: no share outlives the command
            await runner.shutdown()

    with signals:
        try:
            with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
                event_loop.run_command(main())
        except Exception as exc:  # preparing the target failed: shown and saved as one run's
            failed = whole.result
            failed.outcome, failed.error = "failed", one_line(exc)
            render_sweep(failed, out)
            if report.json_path:
                write_document(failed.to_dict(), report.json_path)
            if report.html_path:
                _write_html(failed, report.html_path, exc, None)
            raise
        runner.stopping = runner.stopping or signals.received > 0
        ends = runner.ends()
        failures = [end for end in ends if _failed(end, runner.stopping)]
        for end in failures:
            print(f"bulkload: error: {end.describe()}", file=sys.stderr)  # one line
        failure_code = failures[0].code if failures else None
        merged = merge_children(ends, count, command)
        if merged is None:  # no share sent a result: nothing to show or judge
            if failure_code is not None:
                return failure_code
            return EXIT_INTERRUPTED if runner.stopping else EXIT_ABORTED
        if decision is not None:
            merged.processes_decision = decision.to_dict()
        if failures and merged.outcome != "failed":
            merged.outcome, merged.error = "failed", failures[0].describe()
        elif runner.stopping and merged.outcome == "completed":
            merged.outcome = "interrupted"
        verdict = judge_run(merged, gates, baseline)
        render_sweep(merged, out)
        _render_overlap(merged, out)
        render_verdict(verdict, out)
        if report.json_path:
            write_document(merged.to_dict(), report.json_path)
        if report.html_path:
            _write_html(merged, report.html_path, None, verdict.baseline)
    if failure_code is not None:
        return failure_code
    if merged.outcome == "interrupted":
        return EXIT_INTERRUPTED
    if merged.outcome == "failed":
        return ExitCode.TARGET
    if verdict.failed:
        return ExitCode.GATE_FAILED
    return ExitCode.OK


def _render_overlap(result: SweepResult, console: Console) -> None:
    processes = result.processes or {}
    overlaps = processes.get("window_overlap") or []
    if overlaps:
        console.print(
            f"  {processes['count']} processes; their measured windows overlapped "
            f"{min(overlaps):.0%} at least (the levels' throughput is over the union)",
            highlight=False,
        )


def _password(url: str) -> str | None:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).password
    except ValueError:
        return None
