"""``bulkload bench``: run a sweep with progress and signal handling, show it, save it.

Gates (``--threshold``, ``--baseline``) are judged once every level has run, and go into
the output; a failed gate exits 99, decided after the JSON is written.

The first Ctrl-C (or SIGTERM) stops the level running (its partial window is not kept),
the finished levels are shown and saved, exit 4; a second one cancels at once. A level
the target fails (unreachable, refusing every write) is reported with the levels before
it, exit 5. The sweep itself is :mod:`bulkload.bench.run`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from bulkload import event_loop
from bulkload.bench.auto_processes import Decision
from bulkload.bench.gates import GateResult, Verdict, failed, judge_level, judge_run
from bulkload.bench.run import prepare_shard, read_baseline, sweep_spec
from bulkload.bench.timing import sweep_time
from bulkload.cli.exit_codes import ExitCode, for_outcome
from bulkload.cli.finish import Output, consoles, finish, outputs
from bulkload.cli.signals import StopSignals
from bulkload.cli.views.import_progress import ProgressReporter
from bulkload.cli.views.sweep_progress import BenchProgress, plan_line, time_left
from bulkload.cli.views.sweep_table import render_sweep
from bulkload.cli.views.verdict import render_verdict
from bulkload.config import BenchConfig
from bulkload.engine.batch_writer import one_line
from bulkload.engine.import_run import RunControl
from bulkload.errors import UsageError
from bulkload.report.html import require_html_support, write_html
from bulkload.report.json_summary import check_json_path, write_document
from bulkload.stats.level import LevelResult

if TYPE_CHECKING:
    from rich.console import Console

    from bulkload.bench.result import SweepResult


def run_bench(config: BenchConfig, *, argv: Sequence[str] = ()) -> int:
    """Run the sweep (or this job's shard of it); print and save its result, judge its
    gates; return the exit code. Raises the BulkloadError that stopped it (after showing
    and saving what was measured)."""
    decision = None
    if config.sweep.processes_auto:  # a probe decides, and says why
        config, decision = _decide_processes(config, argv)
    if config.cluster.address and config.sweep.processes > 1:
        raise UsageError("--cluster and --processes cannot be combined: give one of them")
    if config.cluster.address:  # --cluster: the levels run on Dask workers (issue 14)
        return _run_on_cluster(config, argv)
    if config.sweep.processes > 1:  # --processes: children run the shards, this merges them
        return _run_processes(config, argv, decision)
    if config.sweep.shard is not None and config.sweep.reset:
        raise UsageError(
            "--reset cannot be used with --shard: each job would empty the table under the "
            "others' writes (--processes P empties it once per level, between them)"
        )
    report, gates = config.report, config.gates
    _check_html(config)  # before the sweep, not after it: a missing extra, a bad path
    out, err = consoles(json_to_stdout=report.json_path == "-")
    # a bad baseline is bad input: found before the sweep, not after it
    baseline = read_baseline(config)
    control = RunControl()
    stopped_by_gate: list[GateResult] = []

    def on_level(level: LevelResult) -> None:
        if gates.abort_on_fail and not stopped_by_gate:
            stopped_by_gate.extend(failed(judge_level(level, gates.thresholds)))
            if stopped_by_gate:
                control.request_stop()
                err.print(f"bulkload: stopping: gate failed: {stopped_by_gate[0]}")

    sweep = prepare_shard(config, config.sweep.shard, argv=argv, control=control, on_level=on_level)
    result = sweep.result
    if decision is not None:
        result.processes_decision = decision.to_dict()
    mode = ProgressReporter.choose_mode(report.progress, report.quiet, err)

    def stop() -> None:
        control.request_stop()
        err.print(
            "bulkload: stopping: the level running is dropped, the finished ones are kept "
            "(Ctrl-C again to stop at once)"
        )

    signals = StopSignals(stop)

    async def main() -> None:
        signals.attach()  # from now on the second signal cancels this task
        shown = BenchProgress(sweep.progress, err, mode, sweep_time(sweep.spec))
        progress = asyncio.create_task(shown.run())
        try:
            await sweep.run()
        finally:
            await event_loop.cancel_and_wait(progress)

    failure: Exception | None = None
    with signals:
        try:
            event_loop.run_command(main())
        except (KeyboardInterrupt, asyncio.CancelledError):
            result.outcome = "interrupted"
        except Exception as exc:  # shown and saved with what was measured, then raised
            result.outcome, result.error, failure = "failed", one_line(exc), exc
        if stopped_by_gate and result.outcome in ("completed", "interrupted"):
            result.outcome = "aborted"
        elif control.stop_requested and result.outcome == "completed":
            result.outcome = "interrupted"
        verdict = judge_run(result, gates, baseline)
        code = for_outcome(result.outcome, gates_failed=verdict.failed or bool(stopped_by_gate))
        return finish(
            out,
            _view(result, verdict),
            _files(result, verdict.baseline, config),
            code=code,
            error=failure,
        )


def _view(
    result: SweepResult,
    verdict: Verdict | None,
    extra: Callable[[SweepResult, Console], None] | None = None,
) -> Callable[[Console], None]:
    def view(console: Console) -> None:
        render_sweep(result, console)
        if extra is not None:
            extra(result, console)
        if verdict is not None:
            render_verdict(verdict, console)

    return view


def _files(result: SweepResult, baseline: SweepResult | None, config: BenchConfig) -> list[Output]:
    """``--json`` and ``--html``, whatever the outcome."""

    def json(path: str) -> None:
        write_document(result.to_dict(), path)

    def html(path: str) -> None:
        write_html(result, path, baseline=baseline)

    return outputs(
        ("--json", config.report.json_path, json), ("--html", config.report.html_path, html)
    )


def _check_html(config: BenchConfig) -> None:
    if config.report.html_path:
        require_html_support()
        check_json_path(config.report.html_path, "--html")


def _run_on_cluster(config: BenchConfig, argv: Sequence[str]) -> int:
    """``--cluster``: the Dask runner's merged sweep, shown, saved and judged."""
    from bulkload.bench.dask import run_on_cluster

    _check_html(config)
    baseline = read_baseline(config)
    out, _ = consoles(json_to_stdout=config.report.json_path == "-")
    result, failure = run_on_cluster(config, argv=argv)
    verdict = judge_run(result, config.gates, baseline)
    code = for_outcome(result.outcome, gates_failed=verdict.failed)
    files = _files(result, verdict.baseline, config)
    return finish(out, _view(result, verdict), files, code=code, error=failure)


def _run_processes(config: BenchConfig, argv: Sequence[str], decision: Decision | None) -> int:
    """``--processes P``: the local-process runner's merged sweep, shown, saved and
    judged as a single run's; the code of the first share that failed, if one did."""
    from bulkload.bench.processes import BenchProcesses
    from bulkload.cli.error_line import error_line
    from bulkload.cli.exit_codes import describe_share, for_share
    from bulkload.cli.views.sweep_table import render_processes

    report = config.report
    _check_html(config)
    if report.json_path:
        check_json_path(report.json_path)
    out, err = consoles(json_to_stdout=report.json_path == "-")
    baseline = read_baseline(config)
    mode = ProgressReporter.choose_mode(report.progress, report.quiet, err)
    plan = sweep_time(sweep_spec(config))
    levels = plan.levels
    if mode != "off":
        err.print(plan_line(plan), markup=False)

    def on_level(started: int, running: int) -> None:
        if mode != "off":
            left = plan.left_s(started - 1, 0.0, 0.0)
            told = f"; sweep {time_left(left, plan)}" if left is not None else ""
            err.print(f"level {started}/{levels}: started in {running} processes together{told}")

    run = BenchProcesses(
        config, argv=argv, code_of=lambda end: int(for_share(end)), on_level=on_level
    )

    def stop() -> None:
        run.stop()
        err.print(
            "bulkload: stopping: every process drops the level running, the finished ones "
            "are kept (Ctrl-C again to stop at once)"
        )

    signals = StopSignals(stop)

    async def main() -> None:
        signals.attach()  # from now on the second signal cancels this task
        await run.run()

    with signals:
        try:
            with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
                event_loop.run_command(main())
        except Exception as exc:  # preparing the target failed: shown and saved as one run's
            failed = run.failed(exc)
            view = _view(failed, None)
            return finish(out, view, _files(failed, None, config), error=exc)
        ended = run.outcome(stopped=signals.received > 0)
        for end in ended.failures:
            error_line(describe_share(end))  # one line each
        merged = ended.result
        if merged is None:  # no share sent a result: nothing to show or judge
            if ended.failures:
                return for_share(ended.failures[0])
            return ExitCode.INTERRUPTED if ended.stopped else ExitCode.ABORTED
        if decision is not None:
            merged.processes_decision = decision.to_dict()
        if ended.failures and merged.outcome != "failed":
            merged.outcome, merged.error = "failed", describe_share(ended.failures[0])
        elif ended.stopped and merged.outcome == "completed":
            merged.outcome = "interrupted"
        verdict = judge_run(merged, config.gates, baseline)
        code = for_outcome(merged.outcome, gates_failed=verdict.failed)
        if ended.failures:
            code = for_share(ended.failures[0])
        view = _view(merged, verdict, extra=render_processes)
        return finish(out, view, _files(merged, verdict.baseline, config), code=code)


def _decide_processes(config: BenchConfig, argv: Sequence[str]) -> tuple[BenchConfig, Decision]:
    """``--processes auto`` (bench's default): the outputs and the baseline checked first
    (a bad path is found before the probe writes to the target), then the probe and the
    decision, told on one line."""
    from bulkload.bench.auto_processes import choose, decided

    report = config.report
    _check_html(config)
    if report.json_path:
        check_json_path(report.json_path)
    read_baseline(config)

    def interrupts(stop: Callable[[], None]) -> StopSignals:
        def told() -> None:
            stop()
            print(
                "bulkload: stopping: the probe ends with its writes in flight (Ctrl-C again "
                "to stop at once)",
                file=sys.stderr,
            )

        return StopSignals(told)

    decision = choose(config, argv=argv, interrupts=interrupts)
    # the default says so only when it measured (the probe took a moment, and wrote)
    told = config.sweep.processes_asked or decision.probe is not None
    if told and not report.quiet:
        print(decision.line(), file=sys.stderr)
    return decided(config, decision), decision
