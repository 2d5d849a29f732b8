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
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from bulkload import event_loop
from bulkload.bench.auto_processes import Decision
from bulkload.bench.gates import GateResult, Verdict, failed, judge_level, judge_run
from bulkload.bench.run import prepare_shard, read_baseline
from bulkload.cli.exit_codes import for_outcome
from bulkload.cli.finish import Output, consoles, finish, outputs, show_and_save
from bulkload.config import BenchConfig
from bulkload.engine.batch_writer import one_line
from bulkload.engine.import_run import RunControl
from bulkload.errors import UsageError
from bulkload.process_signals import StopSignals
from bulkload.report.bench_progress import BenchProgress
from bulkload.report.bench_view import render_sweep
from bulkload.report.gates_view import render_verdict
from bulkload.report.html import require_html_support, write_html
from bulkload.report.json_summary import check_json_path, write_document
from bulkload.report.progress import ProgressReporter
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
        from bulkload.cluster.bench import bench_on_cluster

        return bench_on_cluster(config, argv=argv)
    if config.sweep.processes > 1:  # --processes: children run the shards, this merges them
        from bulkload.bench.processes import run_processes

        return run_processes(config, argv=argv, decision=decision)
    if config.sweep.shard is not None and config.sweep.reset:
        raise UsageError(
            "--reset cannot be used with --shard: each job would empty the table under the "
            "others' writes (--processes P empties it once per level, between them)"
        )
    report, gates = config.report, config.gates
    if report.html_path:  # before the sweep, not after it: a missing extra, a bad path
        require_html_support()
        check_json_path(report.html_path, "--html")
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
        progress = asyncio.create_task(BenchProgress(sweep.progress, err, mode).run())
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
            _files(result, verdict, config),
            code=code,
            error=failure,
        )


def _view(result: SweepResult, verdict: Verdict) -> Callable[[Console], None]:
    def view(console: Console) -> None:
        render_sweep(result, console)
        render_verdict(verdict, console)

    return view


def _files(result: SweepResult, verdict: Verdict, config: BenchConfig) -> list[Output]:
    """``--json`` and ``--html``, whatever the outcome."""

    def json(path: str) -> None:
        write_document(result.to_dict(), path)

    def html(path: str) -> None:
        write_html(result, path, baseline=verdict.baseline)

    return outputs(
        ("--json", config.report.json_path, json), ("--html", config.report.html_path, html)
    )


def write_html_report(
    result: SweepResult, path: str, failure: Exception | None, baseline: SweepResult | None
) -> None:
    """The HTML report alone, as :func:`finish` writes it (for the share runners, which
    finish on their own for now)."""

    def html(target: str) -> None:
        write_html(result, target, baseline=baseline)

    show_and_save(None, None, outputs(("--html", path, html)), failed=failure is not None)


def _decide_processes(config: BenchConfig, argv: Sequence[str]) -> tuple[BenchConfig, Decision]:
    """``--processes auto`` (bench's default): the outputs and the baseline checked first
    (a bad path is found before the probe writes to the target), then the probe and the
    decision, told on one line."""
    from bulkload.bench.auto_processes import choose, decided

    report = config.report
    if report.html_path:
        require_html_support()
        check_json_path(report.html_path, "--html")
    if report.json_path:
        check_json_path(report.json_path)
    read_baseline(config)
    decision = choose(config, argv=argv)
    # the default says so only when it measured (the probe took a moment, and wrote)
    told = config.sweep.processes_asked or decision.probe is not None
    if told and not report.quiet:
        print(decision.line(), file=sys.stderr)
    return decided(config, decision), decision
