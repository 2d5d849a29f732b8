"""What share i of N runs: its part of every count, rate and limit, by :mod:`.partition`.

Every runner gives its shares these configurations: ``--shard i/N`` runs one in this
process, ``--processes P`` one per child, ``--cluster`` one per Dask worker.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bulkload.config import BenchConfig, GateOptions, ImportConfig
from bulkload.errors import UsageError
from bulkload.parallel.partition import Share, part, part_at_least_one
from bulkload.stats.schedule import ConcurrencyRamp


def bench_share(config: BenchConfig, share: Share) -> BenchConfig:
    """The sweep one share runs: its part of each level (open model: of each arrival
    rate and of the in-flight cap) and of the ``--rows``/``--batches`` counts."""
    sweep = config.sweep
    need_fixed_levels(config, "--shard", "job")
    if config.synthetic is not None and config.synthetic.rows < share[1]:
        raise UsageError(f"--shard {share[0]}/{share[1]}: fewer synthetic rows than shards")
    count = share[1]
    shared = replace(
        sweep,
        levels=tuple(part_at_least_one(level, share) for level in sweep.levels),
        rates=tuple(rate / count for rate in sweep.rates),
        rows=None if sweep.rows is None else part_at_least_one(sweep.rows, share),
        batches=None if sweep.batches is None else part_at_least_one(sweep.batches, share),
        ramp_rate=None if sweep.ramp_rate is None else sweep.ramp_rate.scaled(1 / count),
        stages=None if sweep.stages is None else sweep.stages.scaled(1 / count),
        ramp_concurrency=_ramp_share(sweep.ramp_concurrency, share),
    )
    engine = config.engine
    if sweep.rates or sweep.ramp_rate or sweep.stages:  # the open model's cap is divided too
        engine = replace(engine, concurrency=part_at_least_one(engine.concurrency, share))
    return replace(config, sweep=shared, engine=engine)


def _ramp_share(ramp: ConcurrencyRamp | None, share: Share) -> ConcurrencyRamp | None:
    if ramp is None:
        return None
    start, end = part_at_least_one(ramp.start, share), part_at_least_one(ramp.end, share)
    return ConcurrencyRamp(start, end, ramp.duration_s)


def need_fixed_levels(config: BenchConfig, option: str, who: str) -> None:
    """Shares run the same levels: those of ``--sweep auto`` depend on what each measures."""
    if config.sweep.auto:
        raise UsageError(
            f"{option} needs fixed levels (--sweep 1,8,32 or --sweep-rate): the levels of "
            f"--sweep auto depend on what each {who} measures"
        )


def bench_child(config: BenchConfig) -> BenchConfig:
    """What a child of ``bench --processes`` runs besides its share: appending to the
    table the parent prepared, without the outputs and gates of the whole run (the
    parent judges those on the merged result; a gate judged on one share, as
    --abort-on-fail would, judges the wrong figures)."""
    return replace(
        config,
        target=replace(config.target, if_exists="append"),
        report=replace(config.report, html_path=None, hdr_log=None),
        gates=GateOptions(),
    )


def import_share(config: ImportConfig, share: Share, workdir: Path) -> ImportConfig:
    """What child ``share`` (i, P) of ``import --processes`` runs: its batches, its part
    of the concurrency, rates and error budget, appending to the prepared table, its
    files in ``workdir``."""
    index, count = share
    engine = config.engine

    def divided(rate: float | None) -> float | None:
        return None if rate is None else rate / count

    engine = replace(
        engine,
        concurrency=part_at_least_one(engine.concurrency, share),
        rate=divided(engine.rate),
        max_batches_per_sec=divided(engine.max_batches_per_sec),
        max_bytes_per_sec=divided(engine.max_bytes_per_sec),
        max_errors=None if engine.max_errors is None else part(engine.max_errors, share),
        checkpoint=str(share_file(workdir, index, "checkpoint.json"))
        if engine.checkpoint
        else None,
    )
    connections = config.target.connections
    target = replace(
        config.target,
        if_exists="append",  # the parent prepared the table
        connections=None if connections is None else part_at_least_one(connections, share),
    )
    return replace(
        config,
        source=replace(config.source, process_share=share),
        target=target,
        engine=engine,
        report=replace(
            config.report,
            json_path=None,
            hdr_log=None,
            bad_records=str(share_file(workdir, index, "bad-records.csv")),
            progress="off",
            quiet=True,
        ),
        processes=1,
    )


def share_file(workdir: Path, index: int, name: str) -> Path:
    """Where share ``index`` keeps its file ``name`` in the parent's scratch directory."""
    return workdir / f"process-{index}.{name}"
