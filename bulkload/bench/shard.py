"""``--shard i/N``: this job's share of a sweep, so that N jobs together do one run.

The split is deterministic, so N machines agree on it without talking to each other:

- each level's concurrency (open model: its arrival rate and in-flight cap) and the
  ``--rows``/``--batches`` count of a level are divided among the shards, at least 1
  each (the remainder goes to the first shards);
- synthetic rows by key range: shard i generates its own contiguous range of keys, so
  no key is written by two shards (values are a pure function of seed, key and column);
- file inputs by batch: shard i takes the batches ``i-1, i-1+N, ...`` of the files read
  in order, each batch a range of rows no other shard takes.

Shard indexes count from 1 (``--shard 1/4`` .. ``--shard 4/4``).
"""

from __future__ import annotations

from dataclasses import replace

from bulkload.config import BenchConfig
from bulkload.errors import UsageError

Shard = tuple[int, int]  # (index from 1, count)


def share(total: int, shard: Shard) -> int:
    """Shard ``shard``'s part of ``total`` (the shares add up to ``total`` when it is at
    least the number of shards; each is at least 1)."""
    index, count = shard
    base, extra = divmod(total, count)
    return max(1, base + (1 if index <= extra else 0))


def key_range(rows: int, shard: Shard) -> tuple[int, int]:
    """(first key, number of keys) of a shard's part of ``rows`` synthetic keys."""
    index, count = shard
    base, extra = divmod(rows, count)
    first = (index - 1) * base + min(index - 1, extra)
    return first, base + (1 if index <= extra else 0)


def shard_config(config: BenchConfig, shard: Shard) -> BenchConfig:
    """The sweep one shard runs: its share of each level and count."""
    sweep = config.sweep
    if sweep.auto:
        raise UsageError(
            "--shard needs fixed levels (--sweep 1,8,32 or --sweep-rate): the levels of "
            "--sweep auto depend on what each job measures"
        )
    if config.synthetic is not None and config.synthetic.rows < shard[1]:
        raise UsageError(f"--shard {shard[0]}/{shard[1]}: fewer synthetic rows than shards")
    count = shard[1]
    levels = tuple(share(level, shard) for level in sweep.levels)
    rates = tuple(rate / count for rate in sweep.rates)
    shared = replace(
        sweep,
        levels=levels,
        rates=rates,
        rows=None if sweep.rows is None else share(sweep.rows, shard),
        batches=None if sweep.batches is None else share(sweep.batches, shard),
    )
    engine = config.engine
    if sweep.rates:  # the open model's in-flight cap is divided too
        engine = replace(engine, concurrency=share(engine.concurrency, shard))
    return replace(config, sweep=shared, engine=engine)
