"""Build the sweep a :class:`~bulkload.config.BenchConfig` describes (or one shard of
it) and run it: the library seam below ``bulkload bench``. Results come back as a
:class:`~bulkload.bench.result.SweepResult`; what stopped a sweep is raised as a
:class:`~bulkload.errors.BulkloadError`. :class:`ShardRun` is the in-process share
runner (``bench``, ``bench --shard i/N``); the others are
:class:`bulkload.bench.processes.BenchProcesses` and
:class:`bulkload.bench.dask.ClusterBench`. The command line's part (progress, signals,
rendering, files, exit code) is :mod:`bulkload.cli.bench_command`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bulkload.backends import create_backend
from bulkload.backends.query import headers_for, parse_query
from bulkload.bench.compare import check_comparable
from bulkload.bench.gates import GateResult, failed, judge_level
from bulkload.bench.queries import QueryWorkload
from bulkload.bench.result import SweepResult, machine_facts, read_result
from bulkload.bench.sweep import (
    BenchData,
    FileData,
    LevelBarrier,
    Sweep,
    SweepSpec,
    SyntheticData,
)
from bulkload.config import BenchConfig
from bulkload.engine.batch_writer import one_line
from bulkload.engine.import_run import RunControl
from bulkload.errors import BulkloadError, FailureKind, UsageError
from bulkload.parallel.partition import Share as Shard
from bulkload.parallel.partition import key_range
from bulkload.parallel.prepare import prepare_bench_target
from bulkload.parallel.runner import Outcome
from bulkload.parallel.shares import bench_share
from bulkload.redact import redact_header_args, redact_text, redact_url, url_secrets
from bulkload.sources.discovery import STDIN
from bulkload.stats.level import LevelResult

if TYPE_CHECKING:
    from bulkload.parallel.runner import ShareRunner

DEFAULT_TABLE = "bulkload_bench"
#: the options that take a header, whose secret values never reach the saved command line
_HEADER_FLAGS = ("--http-header", "--request-header")

#: what every bench runner gives back: the merged sweep (None: no share sent one)
BenchOutcome = Outcome[SweepResult | None]


class ShardRun:
    """The in-process runner: the sweep, or its ``--shard i/N``, in this process (the
    trivial case: one share, merged later by ``report merge``). ``--abort-on-fail``
    is judged here, on each level as it ends: a failed gate stops the sweep (it is
    then "aborted") and is told to ``on_gate``."""

    def __init__(
        self,
        config: BenchConfig,
        *,
        argv: Sequence[str] = (),
        on_gate: Callable[[GateResult], None] | None = None,
    ):
        if config.sweep.shard is not None and config.sweep.reset:
            raise UsageError(
                "--reset cannot be used with --shard: each job would empty the table under "
                "the others' writes (--processes P empties it once per level, between them)"
            )
        self.control = RunControl()
        self.gates, self.on_gate = config.gates, on_gate
        self.stopped_by_gate: list[GateResult] = []
        on_level = self._judge if config.gates.abort_on_fail else None
        self.sweep = prepare_shard(
            config, config.sweep.shard, argv=argv, control=self.control, on_level=on_level
        )
        self.error: Exception | None = None

    def _judge(self, level: LevelResult) -> None:
        if not self.stopped_by_gate:
            self.stopped_by_gate = failed(judge_level(level, self.gates.thresholds))
            if self.stopped_by_gate:
                self.stop()
                if self.on_gate is not None:
                    self.on_gate(self.stopped_by_gate[0])

    def stop(self) -> None:
        """The level running is dropped, the finished ones are kept."""
        self.control.request_stop()

    async def run(self) -> None:
        result = self.sweep.result
        try:
            await self.sweep.run()
        except asyncio.CancelledError:
            result.outcome = "interrupted"
            raise
        except Exception as exc:  # kept with what was measured
            result.outcome, result.error, self.error = "failed", one_line(exc), exc

    def outcome(self, *, stopped: bool = False) -> BenchOutcome:
        result = self.sweep.result
        stopped = stopped or self.control.stop_requested
        if self.stopped_by_gate and result.outcome in ("completed", "interrupted"):
            result.outcome = "aborted"
        elif stopped and result.outcome == "completed":
            result.outcome = "interrupted"
        return Outcome(result, interrupted=stopped, error=self.error)


def share_ended(
    result: SweepResult | None, *, stopped: bool, error: BaseException | None
) -> dict[str, Any]:
    """What a share in another process (a child, a Dask task) sends its runner at its
    end: its result, and what ended it as data (the error that stopped it, if one did,
    and its :class:`~bulkload.errors.FailureKind`; a level the target failed: TARGET;
    stopped: INTERRUPTED)."""
    kind: FailureKind | None = None
    message: str | None = None
    if isinstance(error, BulkloadError):
        kind, message = error.kind, one_line(error)
    elif isinstance(error, Exception):  # reported as the CLI reports it, never a traceback
        kind, message = FailureKind.FAILED, f"internal error: {one_line(error)}"
    elif error is not None and result is not None:  # a second stop, or the parent's
        result.outcome = "interrupted"
    if result is not None:
        if message is not None:
            result.outcome, result.error = "failed", result.error or message
        elif stopped and result.outcome == "completed":
            result.outcome = "interrupted"
        if kind is None and result.outcome == "interrupted":
            kind = FailureKind.INTERRUPTED
        elif kind is None and result.outcome == "failed":  # the target failed a level
            kind = FailureKind.TARGET
        message = message or result.error
    elif kind is None:
        kind = FailureKind.INTERRUPTED
    return {
        "result": None if result is None else result.to_dict(),
        "kind": None if kind is None else kind.value,
        "error": message,
    }


async def prepare_target(whole: Sweep, config: BenchConfig) -> None:
    """The whole sweep's table, prepared once by the parent before any share appends."""
    if whole.queries is not None and whole.queries.mix is None:
        return  # a read sweep writes nothing: each share prepares its queries itself
    await prepare_bench_target(
        whole.backend,
        whole.data.batches(config.sweep.batch_sizes[0]),
        table=whole.table,
        if_exists=whole.if_exists,
        timeout=config.engine.timeout,
    )


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
    requested = config.sweep.levels
    requested_cap = config.engine.concurrency
    if shard is not None:
        config = bench_share(config, shard)
    backend = create_backend(config.target)
    queries = None
    if config.queries.queries:
        parsed = [parse_query(text, i) for i, text in enumerate(config.queries.queries, 1)]
        if config.queries.requests:
            headers = headers_for(config.queries.request_headers, [q.name for q in parsed])
            parsed = [
                replace(
                    query,
                    style="request",
                    ok_status=config.queries.ok_status,
                    headers=headers[query.name],
                )
                for query in parsed
            ]
        queries = QueryWorkload(
            queries=tuple(parsed),
            params_synthetic=config.queries.params_synthetic,
            params_file=config.queries.params,
            query_params=config.queries.query_params,
            query_synthetic=config.queries.query_synthetic,
            seed=0 if shard is None else shard[0],  # shards draw different keys
            mix=config.queries.mix,
        )
    reads_only = queries is not None and queries.mix is None
    data = BenchData() if reads_only else _data(config, typed=not backend.accepts_text, shard=shard)
    result = SweepResult(
        model="closed",
        target=redact_url(backend.describe()),
        table="" if reads_only else _table(config),  # a read sweep writes no table
        command=[
            redact_url(redact_text(arg, url_secrets(config.target.url)))
            for arg in redact_header_args(list(argv), _HEADER_FLAGS)
        ],
        version=_version(),
        machine=machine_facts(),
        shard=None if shard is None else {"index": shard[0], "count": shard[1]},
    )
    sweep = config.sweep
    if shard is not None and (sweep.rates or sweep.ramp_rate or sweep.stages):
        # the open model: its in-flight cap is shared as the closed model's levels are
        result.warnings.extend(raised_cap(requested_cap, shard[1]))
    elif shard is not None:
        result.warnings.extend(raised_levels(requested, shard[1]))
    spec = sweep_spec(config)
    result.model = spec.model
    result.fit_on = config.queries.fit_on
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
        queries=queries,
    )


def raised_levels(levels: Sequence[int], shards: int) -> list[str]:
    """Levels below the number of shards (``--processes P`` or ``--shard i/N``) are not
    measured as asked: each shard keeps at least one write in flight, and the merged level
    records what ran. Said once per such level (every shard says it alike)."""
    return [
        f"c={level} is below the {shards} shards or processes that share each level: each "
        f"runs at least 1 operation (a write or a query) at a time, so it was measured at "
        f"c={shards} (the level "
        f"records concurrency {shards}); for c={level}, run fewer processes"
        for level in levels
        if level < shards
    ]


def raised_cap(cap: int, shards: int) -> list[str]:
    """The open model's in-flight cap (``-c``) below the number of shards: each shard
    keeps at least one write in flight, so the run carried more than asked."""
    if cap >= shards:
        return []
    return [
        f"-c {cap} is below the {shards} shards or processes that share the in-flight cap: "
        f"each carries at least 1 write at a time, so up to {shards} were in flight; for "
        f"at most {cap}, run fewer processes"
    ]


def read_baseline(config: BenchConfig) -> SweepResult | None:
    """``--baseline``, read and checked before the sweep: a bad file, or a run of the
    other model, is bad input (InputError) found before anything is written."""
    path = config.gates.baseline
    if not path:
        return None
    baseline = read_result(Path(path))
    model = "open" if config.sweep.rates else "closed"
    check_comparable(baseline.model, model, baseline=path)
    return baseline


def sweep_spec(config: BenchConfig) -> SweepSpec:
    """The sweep the options describe."""
    options = config.sweep
    schedule = options.ramp_rate or options.stages
    ramp = options.ramp_concurrency
    levels = None if options.auto else options.levels
    if ramp is not None:
        levels = (ramp.peak,)
    return SweepSpec(
        levels=levels,
        batch_sizes=options.batch_sizes,
        rates=(schedule.peak,) if schedule is not None else options.rates or None,
        schedule=schedule,
        concurrency_ramp=ramp,
        concurrency_cap=config.engine.concurrency,
        warmup_s=options.warmup,
        duration_s=options.duration,
        rows=options.rows,
        batches=options.batches,
        max_time_s=options.max_time,
        reset=options.reset,
        slo=options.slo,
        interval_s=config.report.interval,
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
    from bulkload.version import __version__

    return __version__


if TYPE_CHECKING:  # mypy checks that it is a ShareRunner
    _runner: type[ShareRunner[BenchOutcome]] = ShardRun
