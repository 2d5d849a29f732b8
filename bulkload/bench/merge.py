"""Shards of one sweep joined into one result, losslessly.

Each shard (``bulkload bench --shard i/N``, or the cluster runner) ran the same levels
in the same order with its share of the work; level *k* of every shard is level *k* of
the whole, merged by :meth:`LevelResult.merge` (histograms added, never percentiles
averaged). Results of different commands (other than ``--shard`` and where the outputs
were written), models, targets or batch sizes are refused: they are not parts of one run.
"""

from __future__ import annotations

from collections.abc import Sequence

from bulkload.bench.result import SweepResult
from bulkload.bench.sweep import recommend_into
from bulkload.errors import InputError
from bulkload.stats.level import LevelResult
from bulkload.stats.thresholds import parse_slo

#: options whose value may differ between the shards of one run
_PER_SHARD_OPTIONS = ("--shard", "--json", "--html", "--baseline", "--progress")
_PER_SHARD_FLAGS = ("--quiet", "-q", "--abort-on-fail")
_OUTCOME_ORDER = ("completed", "aborted", "interrupted", "failed")


def merge_results(results: Sequence[SweepResult], *, names: Sequence[str] = ()) -> SweepResult:
    """The sweep the shards ran together. ``names`` (file names, in the same order) only
    serve the error messages."""
    if not results:
        raise InputError("nothing to merge")
    labels = list(names) or [f"result {i + 1}" for i in range(len(results))]
    first = results[0]
    _check_same_run(results, labels)
    _check_shards(results, labels)
    levels = [
        LevelResult.merge([result.levels[k] for result in results])
        for k in range(len(first.levels))
    ]
    merged = SweepResult(
        model=first.model,
        target=first.target,
        table=first.table,
        command=shared_command(first.command),
        version=first.version,
        machine={**first.machine, "shards": [result.machine for result in results]},
        started_at=min(result.started_at for result in results),
        levels=levels,
        slo=list(first.slo),
        warnings=_unique(w for result in results for w in result.warnings),
        outcome=max((r.outcome for r in results), key=_outcome_rank),
        error=next((result.error for result in results if result.error), None),
        rows_written=sum(result.rows_written for result in results),
        levels_planned=first.levels_planned,
    )
    slo = tuple(t for text in first.slo for t in parse_slo(text))
    recommend_into(merged, slo)
    return merged


def shared_command(command: Sequence[str]) -> list[str]:
    """The command line without what may differ between shards of one run."""
    kept: list[str] = []
    skip = False
    for arg in command:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in _PER_SHARD_OPTIONS:
            skip = "=" not in arg
            continue
        if arg in _PER_SHARD_FLAGS:
            continue
        kept.append(arg)
    return kept


def _check_same_run(results: Sequence[SweepResult], labels: Sequence[str]) -> None:
    first = results[0]
    for result, label in zip(results[1:], labels[1:], strict=True):
        if shared_command(result.command) != shared_command(first.command):
            raise InputError(
                f"not a shard of the same run as {labels[0]}: its command differs "
                f"({' '.join(shared_command(result.command))!r})",
                source=label,
            )
        for what in ("model", "target", "table"):
            if getattr(result, what) != getattr(first, what):
                raise InputError(
                    f"not a shard of the same run as {labels[0]}: its {what} differs "
                    f"({getattr(result, what)!r} vs {getattr(first, what)!r})",
                    source=label,
                )
        sizes = [level.batch_size for level in result.levels]
        if sizes != [level.batch_size for level in first.levels]:
            raise InputError(
                f"its levels do not match those of {labels[0]} (a sweep cut short, or an "
                "auto sweep: shards need the same fixed levels)",
                source=label,
            )


def _check_shards(results: Sequence[SweepResult], labels: Sequence[str]) -> None:
    seen: dict[tuple[int, int], str] = {}
    for result, label in zip(results, labels, strict=True):
        if result.shard is None:
            continue
        key = (result.shard["index"], result.shard["count"])
        if key in seen:
            raise InputError(
                f"shard {key[0]}/{key[1]} is given twice (also in {seen[key]})", source=label
            )
        seen[key] = label
    counts = {count for _, count in seen}
    if len(counts) > 1:
        raise InputError(f"shards of different splits: {sorted(counts)} shards")


def _unique(items: object) -> list[str]:
    return list(dict.fromkeys(items))  # type: ignore[call-overload]


def _outcome_rank(outcome: str) -> int:
    return _OUTCOME_ORDER.index(outcome) if outcome in _OUTCOME_ORDER else len(_OUTCOME_ORDER)
