"""Shards of one sweep joined into one result, losslessly.

Each shard (``bulkload bench --shard i/N``, or the cluster runner) ran the same levels
in the same order with its share of the work; level *k* of every shard is level *k* of
the whole, merged by :meth:`LevelResult.merge` (histograms added, never percentiles
averaged). Results of different commands (other than ``--shard`` and where the outputs
were written), models, targets or batch sizes are refused: they are not parts of one run.

Shards that are not all there (``shard 1/2`` alone), or whose measured windows did not
overlap (run one after another), still merge, with a warning, and ``merged_shards`` in
the result says which shards were merged, which are missing, and how each level's
windows overlapped: throughput is over the union of the windows, so shards that did not
run together understate what they do together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bulkload.bench.recommend import recommend_into
from bulkload.bench.result import SweepResult
from bulkload.errors import InputError
from bulkload.stats.breaking import breaking_points
from bulkload.stats.level import LevelResult
from bulkload.stats.thresholds import parse_slo
from bulkload.stats.timeline import Timeline

#: options whose value may differ between the shards of one run
_PER_SHARD_OPTIONS = ("--shard", "--json", "--html", "--baseline", "--progress")
_PER_SHARD_FLAGS = ("--quiet", "-q", "--abort-on-fail")
_OUTCOME_ORDER = ("completed", "aborted", "interrupted", "failed")
#: levels whose shards' windows overlapped less than this get a warning
OVERLAP_WARNING = 0.9


def merge_results(
    results: Sequence[SweepResult], *, names: Sequence[str] = (), check_whole: bool = True
) -> SweepResult:
    """The sweep the shards ran together. ``names`` (file names, in the same order) only
    serve the error messages. ``check_whole``: warn of missing shards and of windows
    that did not overlap (the runners that start the shards themselves say it their
    way)."""
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
        fit_on=first.fit_on,
        timeline=_merged_timeline(results),
    )
    if check_whole:
        _check_whole(results, merged)
    slo = tuple(t for text in first.slo for t in parse_slo(text))
    recommend_into(merged, slo)
    if first.breaking_points is not None and merged.timeline is not None:  # a ramp
        step = merged.timeline.interval_s
        merged.breaking_points = breaking_points(merged.timeline.intervals, slo, step=step)
    return merged


def _merged_timeline(results: Sequence[SweepResult]) -> Timeline | None:
    """The shards' timelines added up, interval by interval of the wall clock."""
    timelines = [result.timeline for result in results if result.timeline is not None]
    return Timeline.merge(timelines) if timelines else None


def _check_whole(results: Sequence[SweepResult], merged: SweepResult) -> None:
    """Say, in the warnings and in ``merged_shards``, when the shards are not one whole
    run: some are missing, or they did not run at the same time."""
    shards = [result.shard for result in results if result.shard is not None]
    summary: dict[str, Any] = {}
    if shards:
        count = shards[0]["count"]
        indices = sorted(shard["index"] for shard in shards)
        missing = [index for index in range(1, count + 1) if index not in indices]
        summary.update(count=count, merged=indices, missing=missing)
        if missing:
            merged.warnings.insert(
                0,
                f"{_shards(indices, count)} only: {_shards(missing, count)} missing, so the "
                "merged figures are those of part of the run, not all of it",
            )
    overlaps = _overlaps(results, merged, "shards", " (were they run one after another?)")
    summary["window_overlap"] = [round(overlap, 4) for overlap in overlaps]
    merged.merged_shards = summary


def merge_shares(
    results: Sequence[SweepResult], *, names: Sequence[str], command: list[str], who: str
) -> tuple[SweepResult, list[float]]:
    """What a runner's shares (``who``: "processes", "workers") sent, merged over the
    levels all of them ran, and how their windows overlapped at each level."""
    common = min(len(result.levels) for result in results)
    for result in results:
        del result.levels[common:]  # a level some share never ran is not a level of the whole
    merged = merge_results(results, names=names, check_whole=False)
    merged.command, merged.shard = command, None
    return merged, _overlaps(results, merged, who)


def _overlaps(
    results: Sequence[SweepResult], merged: SweepResult, who: str, hint: str = ""
) -> list[float]:
    """How the parts' windows overlapped at each merged level; a warning for each level
    where they overlapped too little."""
    overlaps = [
        window_overlap([(r.levels[k].started_at, r.levels[k].finished_at) for r in results])
        for k in range(len(merged.levels))
    ]
    for level, overlap in zip(merged.levels, overlaps, strict=True):
        if len(results) > 1 and overlap < OVERLAP_WARNING:
            where = f"{level.rate:g}/s" if level.rate is not None else f"c={level.concurrency}"
            merged.warnings.append(
                f"{where} batch {level.batch_size:,}: the {who}' measured windows overlapped "
                f"{overlap:.0%}{hint}: throughput is over the union of the windows, so it "
                f"understates what the {who} do together"
            )
    return overlaps


def shards_only(result: SweepResult) -> str | None:
    """``shard 1/2 only`` when a merged result lacks some of its shards."""
    summary = result.merged_shards or {}
    if not summary.get("missing"):
        return None
    return f"{_shards(summary['merged'], summary['count'])} only"


def _shards(indices: Sequence[int], count: int) -> str:
    listed = ", ".join(f"{index}/{count}" for index in indices)
    return f"shard {listed}" if len(indices) == 1 else f"shards {listed}"


def window_overlap(windows: Sequence[tuple[float, float]]) -> float:
    """The share of the union of the windows that all of them cover (1.0: the same)."""
    start, end = max(w[0] for w in windows), min(w[1] for w in windows)
    union = max(w[1] for w in windows) - min(w[0] for w in windows)
    if union <= 0:
        return 1.0
    return max(0.0, end - start) / union


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
