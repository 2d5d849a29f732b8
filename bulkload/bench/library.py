"""``bulkload.bench(...)``: a sweep from Python, returning the
:class:`~bulkload.bench.result.SweepResult` ``bulkload bench --json`` writes (its
``to_dict()`` is that JSON document). No terminal, no files, no exit code: what stopped
the sweep is raised as a :class:`~bulkload.BulkloadError`.

Cheap to import (the package imports it eagerly: its name is also a subpackage's).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Unpack

from bulkload.errors import UsageError

if TYPE_CHECKING:  # the config models at run time: `bulkload --version` imports this module
    from bulkload.bench.result import SweepResult
    from bulkload.config import BenchConfig
    from bulkload.config.keywords import BenchKeywords
    from bulkload.library import Paths


def bench_config(source: Paths | BenchConfig | None, options: Mapping[str, Any]) -> BenchConfig:
    """``source`` and keyword options as one checked ``BenchConfig`` (or the config given)."""
    from bulkload.config import BenchConfig
    from bulkload.config.keywords import CLI_ONLY, BenchKeywords, check_keywords

    if isinstance(source, BenchConfig):
        if options:
            raise TypeError(
                f"bench(config) takes its options from the config, not as keywords too "
                f"(got {', '.join(sorted(options))}): use dataclasses.replace(config, ...)"
            )
        return source
    from bulkload.library import allowed_keywords, paths_of

    check_keywords(
        "bench",
        options,
        allowed_keywords(frozenset(BenchKeywords.__optional_keys__) - CLI_ONLY, options, "bench"),
    )
    from bulkload.options import build_bench_config

    paths = None if source is None else paths_of(source)
    # in this process: bench's default (a probe choosing worker processes) is the CLI's
    return build_bench_config({**options, "paths": paths, "processes": 1})


async def bench_async(
    source: Paths | BenchConfig | None = None, /, **options: Unpack[BenchKeywords]
) -> SweepResult:
    """:func:`bench` on the running loop."""
    from bulkload.bench.gates import judge_run
    from bulkload.bench.run import ShardRun, read_baseline

    config = bench_config(source, options)
    if config.sweep.shard is not None and config.sweep.reset:
        raise UsageError(
            "reset=True cannot be used with shard=: each job would empty the table under "
            "the others' writes"
        )
    baseline = read_baseline(config)  # a bad baseline: found before the sweep
    run = ShardRun(config)  # --abort-on-fail: a failed gate stops it, "aborted"
    await run.run()
    error = run.outcome().error
    if error is not None:
        raise error
    judge_run(run.sweep.result, config.gates, baseline)
    return run.sweep.result


def bench(
    source: Paths | BenchConfig | None = None, /, **options: Unpack[BenchKeywords]
) -> SweepResult:
    """Run a ``bulkload bench`` sweep over ``source`` (files, as :func:`bulkload.load`
    reads them) or generated rows (``synthetic="rows=100000,columns=6"``) and return its
    :class:`~bulkload.bench.result.SweepResult`, the object ``--json`` saves
    (``result.to_dict()``)::

        result = bulkload.bench(synthetic="rows=50000", to="sqlite:///b.db", sweep=[1, 4])
        result.recommended_concurrency

    Every option of ``bulkload bench`` is a keyword (see :class:`BenchKeywords`) except
    how the command line runs and shows a run (``processes``, ``cluster``, ``json``,
    ``html``, ``progress``...); one left out takes the config model's default. A
    :class:`~bulkload.config.BenchConfig` may be passed instead. ``threshold`` and
    ``baseline`` are judged into ``result.thresholds`` and ``result.comparison``
    (``bulkload.bench.gates``); a failed gate is data here, not an exception."""
    from bulkload.engine.loop_thread import run_blocking

    return run_blocking(bench_async(bench_config(source, options)), "bulkload-bench")
