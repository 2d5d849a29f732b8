"""``bulkload bench``: run a sweep with progress and signal handling, show it, save it.

Gates (``--threshold``, ``--baseline``) are judged once every level has run, and go into
the output; a failed gate exits 99, decided after the JSON is written.

The first Ctrl-C (or SIGTERM) stops the level running (its partial window is not kept),
the finished levels are shown and saved, exit 4; a second one cancels at once. A level
the target fails (unreachable, refusing every write) is reported with the levels before
it, exit 5. The sweep itself is :mod:`bulkload.bench.run`'s.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from bulkload.bench.auto_processes import Decision
from bulkload.bench.gates import GateResult, judge_run
from bulkload.bench.run import ShardRun, read_baseline, sweep_spec
from bulkload.bench.timing import sweep_time
from bulkload.cli.exit_codes import ExitCode, for_outcome
from bulkload.cli.finish import Output, consoles, finish, outputs
from bulkload.cli.metrics import live_metrics, operation_of
from bulkload.cli.signals import run_stoppable
from bulkload.cli.views.import_progress import ProgressReporter
from bulkload.cli.views.sweep_progress import BenchProgress, plan_line, time_left
from bulkload.cli.views.sweep_table import render_processes, render_sweep
from bulkload.cli.views.verdict import render_verdict
from bulkload.config import BenchConfig
from bulkload.errors import UsageError
from bulkload.report.hdr_log import write_hdr_log
from bulkload.report.html import require_html_support, write_html
from bulkload.report.json_summary import check_json_path, write_document

if TYPE_CHECKING:
    from rich.console import Console

    from bulkload.bench.dask import ClusterBench
    from bulkload.bench.processes import BenchProcesses
    from bulkload.bench.result import SweepResult

    BenchRunner = ShardRun | BenchProcesses | ClusterBench


def run_bench(config: BenchConfig, *, argv: Sequence[str] = ()) -> int:
    """Run the sweep with its runner (in this process or this job's ``--shard``,
    ``--processes P``, ``--cluster``); print and save its merged result, judge its
    gates; return the exit code: the first failed share's, if one failed. Raises the
    BulkloadError that stopped the run (after showing and saving what was measured)."""
    from bulkload.cli.error_line import error_line
    from bulkload.cli.exit_codes import describe_share, for_share

    decision = None
    if config.sweep.processes_auto:  # a probe decides, and says why
        config, decision = _decide_processes(config, argv)
    if config.cluster.address and config.sweep.processes > 1:
        raise UsageError("--cluster and --processes cannot be combined: give one of them")
    report, gates = config.report, config.gates
    out, err = consoles(json_to_stdout=report.json_path == "-")
    mode = ProgressReporter.choose_mode(report.progress, report.quiet, err)

    def on_gate(gate: GateResult) -> None:  # in this process: --abort-on-fail
        err.print(f"bulkload: stopping: gate failed: {gate}")

    plan = sweep_time(sweep_spec(config))
    if mode != "off" and (config.cluster.address or config.sweep.processes > 1):
        err.print(plan_line(plan), markup=False)  # in this process: the progress says it

    def started(count: int, running: int) -> None:  # --processes, --cluster
        if mode != "off":
            who = "workers" if config.cluster.address else "processes"
            left = plan.left_s(count - 1, 0.0, 0.0)
            told = f"; sweep {time_left(left, plan)}" if left is not None else ""
            err.print(f"level {count}/{plan.levels}: started in {running} {who} together{told}")

    runner, stopping, watch = _runner(config, argv, on_gate, started, err, mode)
    _check_html(config)  # before the sweep, not after it: a missing extra, a bad path
    if report.json_path:
        check_json_path(report.json_path)
    if report.hdr_log:
        check_json_path(report.hdr_log, "--hdr-log")
    baseline = read_baseline(config)  # bad input: found before the sweep, not after it

    def told() -> None:
        kept = "the finished ones are kept (Ctrl-C again to stop at once)"
        err.print(f"bulkload: stopping: {stopping}, {kept}")

    metrics = live_metrics(config.report, runner, "bench", operation_of(config.queries))
    try:
        ended = run_stoppable(runner, told, watch)
    finally:
        if metrics is not None:
            metrics.close()
    for end in ended.failures:
        error_line(describe_share(end))  # one line each
    result = ended.result
    if result is None:  # no share sent a result: nothing to show or judge
        if ended.failures:
            return for_share(ended.failures[0])
        return ExitCode.INTERRUPTED if ended.interrupted else ExitCode.ABORTED
    if decision is not None:
        result.processes_decision = decision.to_dict()
    if ended.failures and result.outcome != "failed":
        result.outcome, result.error = "failed", describe_share(ended.failures[0])
    elif ended.interrupted and result.outcome == "completed":
        result.outcome = "interrupted"
    verdict = judge_run(result, gates, baseline)
    by_gate = result.outcome == "aborted"  # in bench: stopped by --abort-on-fail
    code = for_outcome(result.outcome, gates_failed=verdict.failed or by_gate)
    if ended.failures:
        code = for_share(ended.failures[0])

    def view(console: Console) -> None:
        render_sweep(result, console)
        if result.processes:
            render_processes(result, console)
        render_verdict(verdict, console)

    files = _files(result, verdict.baseline, config)
    return finish(out, view, files, code=code, error=ended.error)


def _runner(
    config: BenchConfig,
    argv: Sequence[str],
    on_gate: Callable[[GateResult], None],
    started: Callable[[int, int], None],
    err: Console,
    mode: str,
) -> tuple[BenchRunner, str, Callable[[], Coroutine[Any, Any, None]] | None]:
    """The runner the options choose, what its graceful stop does, and its progress."""
    if config.cluster.address:  # the levels run on Dask workers
        from bulkload.bench.dask import ClusterBench

        cluster = ClusterBench(config, argv=argv, on_level=started)
        return cluster, "every worker drops the level running", None
    if config.sweep.processes > 1:  # children run the shards, this merges them
        from bulkload.bench.processes import BenchProcesses
        from bulkload.cli.exit_codes import for_share

        run = BenchProcesses(
            config, argv=argv, code_of=lambda end: int(for_share(end)), on_level=started
        )
        return run, "every process drops the level running", None
    shard = ShardRun(config, argv=argv, on_gate=on_gate)

    async def watch() -> None:
        await BenchProgress(shard.sweep.progress, err, mode, sweep_time(shard.sweep.spec)).run()

    return shard, "the level running is dropped", watch


def _files(result: SweepResult, baseline: SweepResult | None, config: BenchConfig) -> list[Output]:
    """``--json`` and ``--html``, whatever the outcome."""

    def json(path: str) -> None:
        write_document(result.to_dict(), path)

    def html(path: str) -> None:
        write_html(result, path, baseline=baseline)

    def hdr_log(path: str) -> None:
        write_hdr_log(result.timeline, path)

    return outputs(
        ("--json", config.report.json_path, json),
        ("--html", config.report.html_path, html),
        ("--hdr-log", config.report.hdr_log, hdr_log),
    )


def _check_html(config: BenchConfig) -> None:
    if config.report.html_path:
        require_html_support()
        check_json_path(config.report.html_path, "--html")


def _decide_processes(config: BenchConfig, argv: Sequence[str]) -> tuple[BenchConfig, Decision]:
    """``--processes auto`` (bench's default): the outputs and the baseline checked first
    (a bad path is found before the probe writes to the target), then the probe and the
    decision, told on one line."""
    from bulkload.bench.auto_processes import ProcessesProbe, decided

    report = config.report
    _check_html(config)
    if report.json_path:
        check_json_path(report.json_path)
    read_baseline(config)

    def told() -> None:
        print(
            "bulkload: stopping: the probe ends with its writes in flight (Ctrl-C again "
            "to stop at once)",
            file=sys.stderr,
        )

    decision = run_stoppable(ProcessesProbe(config, argv=argv), told)
    if decision is None:  # stopped: the run ends there, interrupted
        raise KeyboardInterrupt
    # the default says so only when it measured (the probe took a moment, and wrote)
    said = config.sweep.processes_asked or decision.probe is not None
    if said and not report.quiet:
        print(decision.line(), file=sys.stderr)
    return decided(config, decision), decision
