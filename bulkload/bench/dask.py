"""``bulkload bench --cluster``, the Dask runner of a sweep: each level runs on W Dask
workers at once, then the workers' windows are merged as ``bulkload report merge`` does.

A level is one round of W tasks, worker i running shard i/W of that level alone (its
share of the concurrency, rate and counts, its own key range). Every task of a round
is given the same wall-clock start time and sleeps until it: that is the barrier that
makes the workers' measured windows overlap (clocks of different hosts must agree, as
NTP keeps them). The merged level adds the histograms and counters and takes its
throughput over the union of the windows, so a worker starting late lowers the rate
instead of inflating it; how much the windows overlapped is recorded per level.
The CLI shows, saves and judges what :func:`run_on_cluster` returns. (Below, the Dask
client and import --cluster are in ``bulkload.parallel``; this module needs the sweep.)
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from bulkload import event_loop
from bulkload.bench import run as command
from bulkload.bench.merge import merge_results, window_overlap
from bulkload.bench.recommend import recommend_into
from bulkload.bench.result import SweepResult
from bulkload.config import BenchConfig, ClusterOptions
from bulkload.engine.batch_writer import one_line
from bulkload.errors import BulkloadError, FailureKind, UsageError
from bulkload.parallel.dask_connect import cluster_client, pick_workers
from bulkload.parallel.failure import ShareFailed
from bulkload.parallel.prepare import prepare_bench_target
from bulkload.redact import redact_url
from bulkload.stats.level import LevelResult
from bulkload.stats.thresholds import parse_slo

LEAD_S = 1.0  # a round starts this long after it is sent: every worker has it by then
OVERLAP_WARNING = 0.9  # a level whose workers' windows overlapped less gets a warning


def run_on_cluster(
    config: BenchConfig, *, argv: Sequence[str] = ()
) -> tuple[SweepResult, BulkloadError | None]:
    """The sweep run level by level on the cluster's workers, merged; and the error
    that stopped it, if one did (raised by the caller once the result is saved)."""
    address = config.cluster.address
    assert address is not None
    _refuse_what_cannot_be_split(config)
    rounds: list[SweepResult] = []
    failure: BulkloadError | None = None
    _prepare_table(config)
    config = replace(config, target=replace(config.target, if_exists="append"))
    with cluster_client(address) as client:
        workers = pick_workers(client, config.cluster.workers, address)
        hosts: dict[str, str] = client.run(socket.gethostname, workers=workers)
        for level_config in _level_configs(config):
            try:
                shares = _run_round(client, workers, level_config, argv)
            except KeyboardInterrupt:
                if rounds:
                    rounds[-1].outcome = "interrupted"
                break
            round_result, failure = _merge_round(shares)
            rounds.append(round_result)
            if round_result.outcome != "completed":
                break
    if not rounds:
        raise ShareFailed(
            "bench --cluster: interrupted before the first level ended", FailureKind.INTERRUPTED
        )
    return _join(rounds, address, workers, hosts), failure


def _refuse_what_cannot_be_split(config: BenchConfig) -> None:
    if config.sweep.auto:
        raise UsageError(
            "--cluster needs fixed levels (--sweep 1,8,32 or --sweep-rate): the levels of "
            "--sweep auto depend on what each worker measures"
        )
    if config.sweep.shard is not None:
        raise UsageError("--cluster and --shard exclude each other: --cluster makes the shards")
    if config.sweep.reset:
        raise UsageError(
            "--reset cannot be used with --cluster: one worker emptying the table would "
            "delete the rows the others are writing"
        )


def _prepare_table(config: BenchConfig) -> None:
    """Create (or replace) the table once, from the client, before the workers append."""
    sweep = command.prepare_shard(config, None)
    batches = sweep.data.batches(config.sweep.batch_sizes[0])
    event_loop.run(
        prepare_bench_target(
            sweep.backend,
            batches,
            table=sweep.table,
            if_exists=sweep.if_exists,
            timeout=config.engine.timeout,
        )
    )


def _level_configs(config: BenchConfig) -> Iterator[BenchConfig]:
    """One single-level sweep per level and batch size, in the order a sweep runs them."""
    sweep = config.sweep
    for batch_size in sweep.batch_sizes:
        for level in sweep.rates or sweep.levels:
            one = replace(sweep, batch_sizes=(batch_size,))
            if sweep.rates:
                one = replace(one, rates=(float(level),), levels=())
            else:
                one = replace(one, levels=(int(level),))
            yield replace(config, sweep=one, cluster=ClusterOptions())


def _run_round(
    client: Any, workers: list[str], config: BenchConfig, argv: Sequence[str]
) -> list[dict[str, Any]]:
    """One level on every worker at once: shard i/W on worker i, all starting at the
    same wall-clock time."""
    count = len(workers)
    start_at = time.time() + LEAD_S
    futures = [
        client.submit(
            run_share,
            config,
            (index, count),
            start_at,
            list(argv),
            workers=[worker],
            allow_other_workers=False,
            pure=False,
        )
        for index, worker in enumerate(workers, start=1)
    ]
    try:
        shares: list[dict[str, Any]] = client.gather(futures)
    except BaseException:
        client.cancel(futures)
        raise
    return shares


def run_share(
    config: BenchConfig, shard: tuple[int, int], start_at: float, argv: list[str]
) -> dict[str, Any]:
    """On a worker: wait for the round's start, run this shard of the level, return its
    result (as a dict: no bulkload class crosses the wire) and the error that stopped it."""
    time.sleep(max(0.0, start_at - time.time()))
    sweep = command.prepare_shard(config, shard, argv=argv)
    error: dict[str, Any] | None = None
    try:
        event_loop.run(sweep.run())
    except BulkloadError as exc:
        error = {"message": str(exc), "kind": exc.kind.value}
    except Exception as exc:  # reported by the client like any failed level
        error = {"message": one_line(exc), "kind": FailureKind.FAILED.value}
    if error is not None:
        sweep.result.outcome = "failed"
        sweep.result.error = sweep.result.error or error["message"]
    return {"result": sweep.result.to_dict(), "error": error, "host": socket.gethostname()}


def _merge_round(shares: list[dict[str, Any]]) -> tuple[SweepResult, BulkloadError | None]:
    results = [SweepResult.from_dict(share["result"]) for share in shares]
    errors = [(share["host"], share["error"]) for share in shares if share["error"]]
    failure = None
    if errors:
        host, error = errors[0]
        failure = ShareFailed(f"worker on {host}: {error['message']}", FailureKind(error["kind"]))
    measured = [result for result in results if result.levels]
    if len(measured) < len(results):  # a worker measured nothing: the level is not whole
        kept = measured[0] if measured else results[0]
        kept.levels, kept.outcome = [], "failed"
        kept.error = kept.error or next((r.error for r in results if r.error), None)
        kept.rows_written = sum(result.rows_written for result in results)
        return kept, failure
    merged = merge_results(results, names=[share["host"] for share in shares], check_whole=False)
    merged.rows_written = sum(result.rows_written for result in results)
    windows = [result.levels[0] for result in results]
    overlap = window_overlap([(w.started_at, w.finished_at) for w in windows])
    # what each worker measured, beside the merge: taken into machine.cluster by _join
    merged.machine["round"] = {
        "concurrency": merged.levels[0].concurrency,
        "rate": merged.levels[0].rate,
        "batch_size": merged.levels[0].batch_size,
        "window_overlap": overlap,
        "workers": [
            {
                "host": share["host"],
                "rows": window.rows,
                "batches": window.batches,
                "rows_per_s": window.rows_per_s,
                "started_at": window.started_at,
                "finished_at": window.finished_at,
            }
            for share, window in zip(shares, windows, strict=True)
        ],
    }
    warning = _overlap_warning(merged.levels[0], overlap)
    if warning:
        merged.warnings.append(warning)
    return merged, failure


def _overlap_warning(level: LevelResult, overlap: float) -> str | None:
    if overlap >= OVERLAP_WARNING:
        return None
    where = f"c={level.concurrency}" if level.rate is None else f"{level.rate:g} writes/s"
    return (
        f"{where} batch {level.batch_size:,}: the workers' measured windows overlapped "
        f"{overlap:.0%} of the time; throughput is over the union of the windows"
    )


def _join(
    rounds: list[SweepResult], address: str, workers: list[str], hosts: dict[str, str]
) -> SweepResult:
    """The rounds (one level each) as one sweep, with where it ran."""
    first = rounds[0]
    cluster = {
        "address": redact_url(address),
        "workers": [{"address": worker, "host": hosts.get(worker, "")} for worker in workers],
        "levels": [r.machine["round"] for r in rounds if "round" in r.machine],
    }
    machine = {k: v for k, v in first.machine.items() if k != "round"}
    joined = SweepResult(
        model=first.model,
        target=first.target,
        table=first.table,
        command=first.command,
        version=first.version,
        machine={**machine, "cluster": cluster},
        started_at=min(r.started_at for r in rounds),
        levels=[level for r in rounds for level in r.levels],
        slo=list(first.slo),
        warnings=list(dict.fromkeys(w for r in rounds for w in r.warnings)),
        outcome=next((r.outcome for r in rounds if r.outcome != "completed"), "completed"),
        error=next((r.error for r in rounds if r.error), None),
        rows_written=sum(r.rows_written for r in rounds),
    )
    recommend_into(joined, tuple(t for text in first.slo for t in parse_slo(text)))
    return joined
