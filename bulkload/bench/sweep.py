"""A sweep: one opened backend, one pool of encoded batches per batch size, and one
:class:`LevelDriver` run per level, then the analysis that picks a level to use.

The levels are concurrency levels (closed model), arrival rates (open model), or, with
``auto``, concurrency doubled while throughput still grows by more than a few per cent,
then refined around the peak, within a time budget. Before the levels of each batch
size, the same driver runs briefly against a target that does nothing, which measures
what bulkload itself can drive on this machine: a level within 2x of that ceiling (or
whose event loop was busy most of the time) gets a warning that its figures measure the
tool, not the target.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Protocol

import pyarrow as pa

from bulkload.backends.base import Backend, BatchKey, ErrorKind, Resettable, TableSpec
from bulkload.bench.driver import LevelDriver, LevelPlan
from bulkload.bench.pool import BatchPool, build_pool, pool_size, take_batches
from bulkload.bench.probe import NETWORK_SCHEMES, Probe, ThreadClock
from bulkload.bench.queries import QuerySet, QueryWorkload, prepare_queries, queryable
from bulkload.bench.recommend import level_points, recommend_into
from bulkload.bench.result import SweepResult
from bulkload.config import EngineOptions, SourceOptions
from bulkload.engine.batch_writer import BatchWriter, one_line
from bulkload.engine.import_run import RunControl
from bulkload.errors import UsageError
from bulkload.sources import BatchSource
from bulkload.sources.synthetic import SyntheticSpec, schema_of, synthetic_batches
from bulkload.stats.analysis import SATURATION_GAIN, refine_levels
from bulkload.stats.breaking import breaking_points
from bulkload.stats.level import LevelResult
from bulkload.stats.run import RunStats
from bulkload.stats.schedule import ConcurrencyRamp, RateSchedule
from bulkload.stats.thresholds import Threshold
from bulkload.stats.timeline import DEFAULT_INTERVAL_S, Timeline

AUTO_START = (1, 2, 4)
AUTO_LIMIT = 4096
CEILING_WARNING_FACTOR = 2.0  # a level within this factor of the tool's ceiling is suspect
CPU_WARNING = 0.9  # share of a core used by the event loop past which the tool is suspect
_CEILING_PROBE_S = 0.3


@dataclass(frozen=True, kw_only=True)
class SweepSpec:
    levels: tuple[int, ...] | None = (1, 2, 4, 8, 16, 32, 64, 128, 256)  # None: auto
    batch_sizes: tuple[int, ...] = (10_000,)
    rates: tuple[float, ...] | None = None  # open model: batch writes per second
    concurrency_cap: int = 64  # open model: most writes in flight
    warmup_s: float = 2.0
    duration_s: float | None = 10.0
    rows: int | None = None
    batches: int | None = None
    max_time_s: float = 300.0  # auto: stop adding levels past this
    reset: bool = False
    slo: tuple[Threshold, ...] = ()
    interval_s: float = DEFAULT_INTERVAL_S  # the timeline's step
    #: --ramp-rate/--stages: one level following this rate schedule (open model)
    schedule: RateSchedule | None = None
    #: --ramp-concurrency: one level whose writers follow this ramp (closed model)
    concurrency_ramp: ConcurrencyRamp | None = None

    @property
    def ramped(self) -> bool:
        return self.schedule is not None or self.concurrency_ramp is not None

    @property
    def model(self) -> str:
        return "open" if self.rates else "closed"

    def plan(self, level: int | float, batch_size: int) -> LevelPlan:
        common: dict[str, Any] = {
            "batch_size": batch_size,
            "warmup_s": self.warmup_s,
            "duration_s": self.duration_s,
            "rows": self.rows,
            "batches": self.batches,
        }
        if self.schedule is not None:  # the whole schedule is measured, no warm-up
            common.update(warmup_s=0.0, duration_s=self.schedule.duration_s, rows=None)
            common.update(batches=None, schedule=self.schedule)
            return LevelPlan(concurrency=self.concurrency_cap, rate=self.schedule.peak, **common)
        if self.concurrency_ramp is not None:
            ramp = self.concurrency_ramp
            common.update(warmup_s=0.0, duration_s=ramp.duration_s, rows=None)
            common.update(batches=None, ramp=ramp)
            return LevelPlan(concurrency=ramp.peak, **common)
        if self.rates:
            return LevelPlan(concurrency=self.concurrency_cap, rate=float(level), **common)
        return LevelPlan(concurrency=int(level), **common)

    @property
    def max_in_flight(self) -> int:
        if self.rates:
            return self.concurrency_cap
        return max(self.levels) if self.levels else AUTO_LIMIT


# ---------------------------------------------------------------------- data


class BenchData:
    """Where a sweep's rows come from: files (cycled) or a synthetic generator."""

    def batches(self, batch_size: int) -> Iterator[pa.RecordBatch]:
        raise NotImplementedError


@dataclass(frozen=True)
class SyntheticData(BenchData):
    """The keys ``first_key .. first_key + rows - 1`` (a shard's range; default: all)."""

    spec: SyntheticSpec
    first_key: int = 0
    rows: int | None = None

    def batches(self, batch_size: int) -> Iterator[pa.RecordBatch]:
        return synthetic_batches(self.spec, batch_size, first_key=self.first_key, rows=self.rows)

    def schema(self) -> pa.Schema:
        return schema_of(self.spec)


@dataclass(frozen=True)
class FileData(BenchData):
    """The files' batches in order; with ``shard`` (i, N) only the share's batches, as
    ``import --processes`` divides them (``SourceOptions.process_share``): N shards
    take disjoint row ranges."""

    options: SourceOptions
    typed: bool = True
    shard: tuple[int, int] | None = None

    def batches(self, batch_size: int) -> Iterator[pa.RecordBatch]:
        options = replace(self.options, batch_size=batch_size, process_share=self.shard)
        source = BatchSource(options, typed=self.typed)
        for batch in source.batches():
            if batch.num_rows:
                yield batch.data


# ---------------------------------------------------------------------- the sweep


@dataclass
class SweepProgress:
    """What a live display shows: the level running, and how far the sweep is."""

    index: int = 0
    total: int | None = None  # None while an auto sweep is still choosing levels
    driver: LevelDriver | None = None
    done: list[LevelResult] = field(default_factory=list)
    status: str = "preparing"


class LevelBarrier(Protocol):
    """How the processes of a split sweep keep in step (``bench --processes``; see
    :class:`bulkload.parallel.local.ShareLink`). Each wait is False when the run must stop."""

    #: this process is the one that empties the table for --reset
    resets: bool

    async def wait_for_writes_done(self) -> bool: ...

    async def wait_for_start(self) -> bool: ...


class Sweep:
    def __init__(
        self,
        backend: Backend,
        data: BenchData,
        spec: SweepSpec,
        options: EngineOptions,
        *,
        table: str,
        if_exists: str = "append",
        control: RunControl | None = None,
        result: SweepResult,
        on_level: Callable[[LevelResult], None] | None = None,
        barrier: LevelBarrier | None = None,
        queries: QueryWorkload | None = None,
    ):
        if queries is not None and spec.reset:
            raise UsageError("--reset empties a table between write levels: not with --query")
        if spec.reset and not isinstance(backend, Resettable):
            raise UsageError(f"--reset: {backend.describe()} cannot empty its table")
        self.backend = backend
        self.data = data
        self.spec = spec
        self.options = options
        self.table = table
        self.if_exists = if_exists
        self.control = control or RunControl()
        self.result = result
        self.on_level = on_level  # told of each level kept, as it ends (--abort-on-fail)
        # --processes: the children's levels start together, their resets come between
        self.barrier = barrier
        self.progress = SweepProgress()
        self._ceilings: dict[int, float] = {}
        #: a query sweep: what it runs (prepared once the target is open)
        self.queries = queries
        self._query_set: QuerySet | None = None

    async def run(self) -> SweepResult:
        """Run every level; the result is filled in as levels finish, so an interrupted
        or failed sweep still holds what was measured."""
        result = self.result
        result.model = self.spec.model
        result.slo = [str(t) for t in self.spec.slo]
        result.started_at = time.time()
        if self.queries is not None and self.queries.mix is None:
            return await self._run_queries(self.queries)
        size = pool_size(self._max_level())
        raw: list[pa.RecordBatch] | None = await self._open(size)
        self._warn_about_the_target()
        try:
            if self.queries is not None:  # a mixed sweep: its queries too
                await self._open_queries(self.queries)
            for batch_size in self.spec.batch_sizes:
                self.progress.status = f"encoding batches of {batch_size:,} rows"
                if raw is None:
                    raw = await asyncio.to_thread(take_batches, self.data.batches(batch_size), size)
                pool = await asyncio.to_thread(build_pool, raw, self.backend)
                raw = None  # a pool's rows are not kept past it
                self._warn_about_short_batches(pool, batch_size)
                self._ceilings[batch_size] = await self._ceiling(pool, batch_size)
                if not await self._levels(pool, batch_size):
                    break
        finally:
            await self.backend.close()
        self._analyse()
        return result

    async def _run_queries(self, workload: QueryWorkload) -> SweepResult:
        """A read sweep: the target opened for queries (a connection per query in
        flight), each query prepared before the first level, then the levels."""
        try:
            await self._open_queries(workload)
            await self._levels(None, 1)
        finally:
            await self.backend.close()
        recommend_into(self.result, self.spec.slo)
        return self.result

    async def _open_queries(self, workload: QueryWorkload) -> None:
        """Connections for the queries in flight, and each query prepared."""
        target = queryable(self.backend)
        # --sweep auto: as many as a server allows by default; more queries wait for one
        connections = self.spec.max_in_flight if self.spec.levels or self.spec.rates else 64
        await target.open_for_queries(connections=connections, connect_timeout=self.options.timeout)
        self.progress.status = "preparing the queries"
        self._query_set = await prepare_queries(self.backend, workload)
        note = getattr(self.backend, "query_note", None)
        if note:
            self.result.warnings.append(str(note))

    async def _open(self, size: int) -> list[pa.RecordBatch]:
        """Read (or generate) the first batch size's rows, then open the target."""
        raw = await asyncio.to_thread(
            take_batches, self.data.batches(self.spec.batch_sizes[0]), size
        )
        if not raw:
            raise UsageError("the input holds no rows to write")
        await self.backend.open(
            TableSpec(
                self.table,
                raw[0].schema,
                self.if_exists,
                writers=self._max_level(),
                connect_timeout=self.options.timeout,
            )
        )
        return raw

    async def probe(self, level: float, *, warmup_s: float, duration_s: float) -> Probe:
        """One short run of ``level`` (first batch size) against the target, kept out of
        the result, measuring the event loop's thread: what ``--processes auto`` decides
        on. The rows it writes stay in the target, as a warm-up's do."""
        batch_size = self.spec.batch_sizes[0]
        plan = replace(
            self.spec.plan(level, batch_size),
            warmup_s=warmup_s,
            duration_s=duration_s,
            rows=None,
            batches=None,
        )
        try:
            raw = await self._open(pool_size(plan.concurrency))
        except Exception as exc:  # the sweep meets it again, and reports it with its outputs
            await self.backend.close()  # a preset's set-up may fail after the client opened
            return Probe(plan.label, 0.0, 0.0, None, 0.0, error=one_line(exc))
        try:
            pool = await asyncio.to_thread(build_pool, raw, self.backend)
            writer = BatchWriter(self.backend, self.options, RunStats())
            writer.throttle_for(batch_size)
            driver = LevelDriver(
                writer, pool, plan, should_stop=lambda: self.control.stop_requested
            )
            clock = ThreadClock()  # this thread runs the loop
            try:
                measured = await driver.run()
            finally:
                await writer.aclose()
            seconds, busy, runnable = clock.shares()
        finally:
            await self.backend.close()
        return Probe(
            level=plan.label,
            seconds=round(seconds, 3),
            busy=round(busy, 4),
            runnable=None if runnable is None else round(runnable, 4),
            writes_per_s=round(measured.batches_per_s, 1),
            error=measured.error if measured.outcome == "failed" else None,
        )

    def _max_level(self) -> int:
        """The most writes any level will have in flight (auto: up to the target's limit)."""
        if self.spec.levels is None and not self.spec.rates:
            return self.backend.max_concurrency or AUTO_LIMIT
        return self.spec.max_in_flight

    def _warn_about_the_target(self) -> None:
        limit = self.backend.max_concurrency
        if limit and self._max_level() > limit:
            self.result.warnings.append(
                f"{self.backend.describe()} takes at most {limit} write(s) at once: at levels "
                f"above {limit} the extra writes wait inside bulkload, not in the target"
            )

    def _warn_about_short_batches(self, pool: BatchPool, batch_size: int) -> None:
        rows = pool.rows / len(pool.batches)
        if rows < batch_size * 0.9:
            self.result.warnings.append(
                f"batch size {batch_size:,}: the input holds too few rows, so writes carried "
                f"{rows:,.0f} rows on average"
            )

    async def _levels(self, pool: BatchPool | None, batch_size: int) -> bool:
        """The levels of one batch size; False when the sweep must stop (stop, failure)."""
        if self.spec.levels is None and not self.spec.rates:
            return await self._auto(pool, batch_size)
        planned: list[float] = list(self.spec.rates or self.spec.levels or ())
        self.progress.total = len(planned) * len(self.spec.batch_sizes)
        self.result.levels_planned = self.progress.total
        for level in planned:
            await self._level(pool, level, batch_size)
            if not await self._keep_going():
                return False
        return True

    async def _reset(self) -> None:
        """--reset: empty the table before a level. Split among processes, once every
        process has ended its last level's writes, and by one of them."""
        assert isinstance(self.backend, Resettable)
        barrier = self.barrier
        if barrier is not None:
            if not await barrier.wait_for_writes_done():
                self.control.request_stop()
                return
            if not barrier.resets or self.control.stop_requested:
                return  # (stopped: no level follows, the table keeps the last one's rows)
        await self.backend.reset()

    async def _keep_going(self) -> bool:
        if self.control.stop_requested and self.result.outcome == "completed":
            self.result.outcome = "interrupted"  # stopped between levels: the rest never ran
        return not self.control.stop_requested and self.result.outcome == "completed"

    async def _auto(self, pool: BatchPool | None, batch_size: int) -> bool:
        """Double while throughput grows, then refine around the peak, within max-time."""
        deadline = time.monotonic() + self.spec.max_time_s
        per_level = self.spec.warmup_s + (self.spec.duration_s or 0)
        measured: list[LevelResult] = []
        level = AUTO_START[0]
        flat = 0  # levels in a row that did not beat the best by SATURATION_GAIN
        best = 0.0
        # a target's limit is on writes: readers (a read sweep) have none of theirs
        reads_only = self.queries is not None and self.queries.mix is None
        limit = AUTO_LIMIT if reads_only else self.backend.max_concurrency or AUTO_LIMIT
        limit = min(limit, AUTO_LIMIT)
        while level <= limit and time.monotonic() + per_level <= deadline:
            done = await self._level(pool, level, batch_size)
            measured.append(done)
            if not await self._keep_going():
                return False
            # two flat doublings in a row, so one noisy level does not end the search
            flat = flat + 1 if done.rows_per_s < best * (1 + SATURATION_GAIN) else 0
            best = max(best, done.rows_per_s)
            if flat >= 2 and len(measured) >= len(AUTO_START):
                break
            level *= 2
        for extra in refine_levels(level_points(measured)):
            if time.monotonic() + per_level > deadline:
                break
            measured.append(await self._level(pool, extra, batch_size))
            if not await self._keep_going():
                return False
        return True

    async def _level(self, pool: BatchPool | None, level: float, batch_size: int) -> LevelResult:
        if self.spec.reset:
            await self._reset()
        # after the reset: with --processes the table is empty before any starts this level
        barrier = self.barrier
        stopped = self.control.stop_requested
        if barrier is not None and not stopped and not await barrier.wait_for_start():
            self.control.request_stop()
        plan = self.spec.plan(level, batch_size)
        writer = BatchWriter(self.backend, self.options, RunStats())
        writer.throttle_for(batch_size)
        if self.result.timeline is None:
            self.result.timeline = Timeline(self.spec.interval_s)
        driver = LevelDriver(
            writer,
            pool,
            plan,
            should_stop=lambda: self.control.stop_requested,
            queries=self._query_set,
            mix=None if self.queries is None else self.queries.mix,
            timeline=self.result.timeline,
        )
        self.progress.index += 1
        self.progress.driver = driver
        self.progress.status = plan.label
        try:
            outcome = await driver.run()
        finally:
            await writer.aclose()
            self.progress.driver = None
            self.result.rows_written += driver.rows_written  # kept or not, the table has them
        if outcome.outcome == "interrupted":
            self.result.outcome = "interrupted"
            return outcome  # a partial window is not a measurement: not kept
        if outcome.outcome == "failed":
            self.result.outcome, self.result.error = "failed", outcome.error
        self.result.levels.append(outcome)
        self.progress.done.append(outcome)
        self._warn_about(outcome)
        if self.on_level is not None:
            self.on_level(outcome)
        return outcome

    # ------------------------------------------------------------------ the tool itself

    async def _ceiling(self, pool: BatchPool, batch_size: int) -> float:
        """Batches/s bulkload drives against a target that does nothing."""
        probe = _NoopTarget()
        concurrency = min(self.spec.max_in_flight, 64)
        plan = LevelPlan(concurrency, batch_size, warmup_s=0.05, duration_s=_CEILING_PROBE_S)
        writer = BatchWriter(probe, EngineOptions(timeout=None), RunStats())  # type: ignore[arg-type]
        measured = await LevelDriver(writer, pool, plan).run()
        return measured.batches_per_s

    def _warn_about(self, level: LevelResult) -> None:
        where = f"c={level.concurrency} batch {level.batch_size:,}"
        if level.rate is not None:
            where = f"{level.rate:g} writes/s batch {level.batch_size:,}"
        ceiling = self._ceilings.get(level.batch_size)
        if ceiling and level.batches_per_s * CEILING_WARNING_FACTOR >= ceiling:
            self.result.warnings.append(
                f"{where}: {level.batches_per_s:,.0f} writes/s is within "
                f"{CEILING_WARNING_FACTOR:g}x of what bulkload can drive here against a "
                f"target that does nothing ({ceiling:,.0f}/s): the figures measure bulkload "
                "as much as the target"
            )
        if level.rate is None and level.batches and level.in_flight_mean < level.concurrency / 2:
            # a concurrency that was asked is not one that ran: say which one did
            self.result.warnings.append(
                f"{where}: only {level.in_flight_mean:.1f} writes were in flight on average, "
                f"not {level.concurrency}: the target answers before bulkload starts the "
                "next writes, so this level measured a lower concurrency than its name"
            )
        short = self.spec.batches is not None or self.spec.rows is not None
        if short and level.rate is None and level.batches < 10 * level.concurrency:
            # the window's edges (writes of the warm-up still in flight, the last ones'
            # tail) weigh up to one write's time in every writer against few writes
            self.result.warnings.append(
                f"{where}: the window held {level.batches:,} writes, fewer than 10 per "
                "writer: its throughput is understated by up to "
                f"{min(level.concurrency / max(level.batches, 1), 1):.0%} (ask for more "
                "with --batches/--rows, or use --duration)"
            )
        if level.cpu_loop >= CPU_WARNING:
            split = self.backend.describe().split(":", 1)[0] in NETWORK_SCHEMES
            self.result.warnings.append(
                f"{where}: bulkload's event loop was busy {level.cpu_loop:.0%} of the time: "
                "the figures may measure bulkload, not the target"
                + (" (--processes P splits the sweep among P processes)" if split else "")
            )

    # ------------------------------------------------------------------ analysis

    def _analyse(self) -> None:
        result = self.result
        recommend_into(result, self.spec.slo)
        if self.spec.ramped and result.timeline is not None:
            timeline = result.timeline
            result.breaking_points = breaking_points(
                timeline.intervals, self.spec.slo, step=timeline.interval_s
            )
        measured = [lvl for lvl in result.levels if lvl.outcome == "completed" and lvl.batches]
        if not self.spec.reset and _target_keeps_rows(self.backend) and len(measured) > 1:
            result.warnings.append(
                "levels ran against a growing table (each level's rows stay); "
                "--reset empties it between levels"
            )


def _target_keeps_rows(backend: Backend) -> bool:
    """A table that --reset can empty (SQL targets): not null/sim, which keep nothing,
    nor an HTTP endpoint, whose storage bulkload does not know."""
    scheme = backend.describe().split(":", 1)[0]
    return isinstance(backend, Resettable) and scheme not in ("null", "sim")


class _NoopTarget:
    """Takes every write at once: what is left is bulkload's own cost per write."""

    schemes: ClassVar[tuple[str, ...]] = ()
    max_concurrency: int | None = None
    accepts_text = False

    async def write(self, payload: Any, key: BatchKey | None = None) -> None:
        return None

    def classify(self, error: BaseException) -> ErrorKind:
        return ErrorKind.FATAL

    def describe(self) -> str:
        return "noop://"
