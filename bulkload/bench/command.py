"""``bulkload bench``: run a sweep with progress and signal handling, show it, save it.

Gates (``--threshold``, ``--baseline``) are judged once every level has run, and go into
the output; a failed gate exits 99, decided after the JSON is written.

The first Ctrl-C (or SIGTERM) stops the level running (its partial window is not kept),
the finished levels are shown and saved, exit 4; a second one cancels at once. A level
the target fails (unreachable, refusing every write) is reported with the levels before
it, exit 5.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from bulkload import event_loop
from bulkload.backends import create_backend
from bulkload.bench.auto_processes import Decision
from bulkload.bench.compare import Comparison, check_comparable, compare
from bulkload.bench.gates import EXIT_GATE_FAILED, GateResult, failed, judge, judge_level
from bulkload.bench.result import SweepResult, machine_facts, read_result
from bulkload.bench.sweep import (
    BenchData,
    FileData,
    LevelBarrier,
    Sweep,
    SweepSpec,
    SyntheticData,
)
from bulkload.config import BenchConfig, GateOptions
from bulkload.engine.runner import RunControl
from bulkload.engine.writer import one_line
from bulkload.errors import BulkloadError, UsageError
from bulkload.parallel.partition import Share as Shard
from bulkload.parallel.partition import key_range
from bulkload.parallel.shares import bench_share
from bulkload.process_signals import StopSignals
from bulkload.redact import redact_text, redact_url, url_secrets
from bulkload.report.bench_progress import BenchProgress
from bulkload.report.bench_view import render_sweep
from bulkload.report.gates_view import render_comparison, render_gates
from bulkload.report.html import require_html_support, write_html
from bulkload.report.json_summary import check_json_path, write_document
from bulkload.report.progress import ProgressReporter
from bulkload.sources.discovery import STDIN
from bulkload.stats.level import LevelResult

EXIT_OK = 0
EXIT_INTERRUPTED = 4
EXIT_TARGET = 5
DEFAULT_TABLE = "bulkload_bench"


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
    run = config
    if run.report.html_path:  # before the sweep, not after it: a missing extra, a bad path
        require_html_support()
        check_json_path(run.report.html_path, "--html")
    json_to_stdout = run.report.json_path == "-"
    out = Console(stderr=json_to_stdout, highlight=False)
    err = Console(stderr=True, highlight=False)
    gates = run.gates
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

    sweep = prepare_shard(
        config,
        run.sweep.shard,
        argv=argv,
        control=control,
        on_level=on_level,
    )
    result = sweep.result
    if decision is not None:
        result.processes_decision = decision.to_dict()
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
        render_sweep(result, out)
        render_verdict(verdict, out)
        if run.report.json_path:
            write_document(result.to_dict(), run.report.json_path)
        if run.report.html_path:
            _write_html(result, run.report.html_path, failure, verdict.baseline)
    # every output is written: now the exit code
    if failure is not None:
        raise failure
    if result.outcome == "interrupted":
        return EXIT_INTERRUPTED
    if result.outcome == "failed":
        return EXIT_TARGET
    if verdict.failed or result.outcome == "aborted":
        return EXIT_GATE_FAILED
    return EXIT_OK


def read_baseline(config: BenchConfig) -> SweepResult | None:
    """``--baseline``, read and checked before the sweep: a bad file, or a run of the
    other model, is bad input (exit 3) found before anything is written."""
    path = config.gates.baseline
    if not path:
        return None
    baseline = read_result(Path(path))
    model = "open" if config.sweep.rates else "closed"
    check_comparable(baseline.model, model, baseline=path)
    return baseline


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


def _write_html(
    result: SweepResult, path: str, failure: Exception | None, baseline: SweepResult | None
) -> None:
    """The HTML report, whatever the outcome; a write error is reported after the error
    that ended the sweep, if one did, or ends the command (exit 2: the sweep ran)."""
    try:
        write_html(result, path, baseline=baseline)
    except OSError as exc:
        problem = f"--html: cannot write {path}: {exc.strerror or exc}"
        if failure is None:
            raise BulkloadError(problem) from None
        print(f"bulkload: error: {problem}", file=sys.stderr)


def prepare_shard(
    config: BenchConfig,
    shard: Shard | None,
    *,
    argv: Sequence[str] = (),
    control: RunControl | None = None,
    on_level: Callable[[LevelResult], None] | None = None,
    barrier: LevelBarrier | None = None,
) -> Sweep:
    """The sweep ``config`` describes, or its ``shard`` (i, N), ready to run; its
    ``result`` fills in as it runs."""
    if shard is not None:
        config = bench_share(config, shard)
    backend = create_backend(config.target)
    data = _data(config, typed=not backend.accepts_text, shard=shard)
    result = SweepResult(
        model="closed",
        target=redact_url(backend.describe()),
        table=_table(config),
        command=[redact_url(redact_text(arg, url_secrets(config.target.url))) for arg in argv],
        version=_version(),
        machine=machine_facts(),
        shard=None if shard is None else {"index": shard[0], "count": shard[1]},
    )
    spec = sweep_spec(config)
    result.model = spec.model
    return Sweep(
        backend,
        data,
        spec,
        config.engine,
        table=result.table,
        if_exists=config.target.if_exists,
        control=control,
        result=result,
        on_level=on_level,
        barrier=barrier,
    )


async def run_shard_async(
    config: BenchConfig, shard: Shard | None = None, *, argv: Sequence[str] = ()
) -> SweepResult:
    """Run one shard (i, N) of the sweep ``config`` describes (None: all of it) and
    return its result: the seam a cluster runner calls on each of its workers, then
    joins the results with :func:`bulkload.bench.merge.merge_results`. Raises the
    BulkloadError that stopped the sweep."""
    return await prepare_shard(config, shard, argv=argv).run()


def run_shard(
    config: BenchConfig, shard: Shard | None = None, *, argv: Sequence[str] = ()
) -> SweepResult:
    """:func:`run_shard_async` for callers without an event loop."""
    return event_loop.run_command(run_shard_async(config, shard, argv=argv))


@dataclass(frozen=True)
class Verdict:
    """The gates and the baseline comparison of one result (and the baseline itself,
    for a report that draws both runs)."""

    gates: list[GateResult]
    comparison: Comparison | None
    baseline: SweepResult | None = None

    @property
    def failed(self) -> bool:
        return bool(failed(self.gates)) or bool(self.comparison and self.comparison.regressed)


def judge_run(result: SweepResult, gates: GateOptions, baseline: SweepResult | None) -> Verdict:
    """Judge the gates and compare with the baseline; both go into ``result``."""
    judged = judge(result, gates.thresholds)
    result.thresholds = [gate.to_dict() for gate in judged]
    comparison = None
    if baseline is not None:
        comparison = compare(
            baseline, result, max_regression=gates.max_regression, baseline=gates.baseline or ""
        )
        result.comparison = comparison.to_dict()
    return Verdict(judged, comparison, baseline)


def render_verdict(verdict: Verdict, console: Console) -> None:
    render_gates(verdict.gates, console)
    if verdict.comparison is not None:
        render_comparison(verdict.comparison, console)


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


def _data(run: BenchConfig, *, typed: bool, shard: Shard | None) -> BenchData:
    if run.synthetic is not None:
        if shard is None:
            return SyntheticData(run.synthetic)
        first_key, rows = key_range(run.synthetic.rows, shard)
        return SyntheticData(run.synthetic, first_key=first_key, rows=rows)
    if run.source is None:
        raise UsageError("bench needs input files or --synthetic rows=N,columns=K")
    if STDIN in run.source.paths:
        raise UsageError("bench reads its input several times: pass files, not stdin (-)")
    return FileData(run.source, typed=typed, shard=shard)


def _table(run: BenchConfig) -> str:
    if run.target.table:
        return run.target.table
    if run.source is not None and run.synthetic is None:
        from bulkload.sources.discovery import discover

        return discover(run.source.paths, run.source.format)[0].stem
    return DEFAULT_TABLE


def _version() -> str:
    from bulkload import __version__

    return __version__
