"""A sweep's results as data: every level, the analysis, and where and how it ran.

This is what ``--json`` writes and what every report reads back (vegeta's
``attack | report``): the terminal view, and later HTML, comparisons and merges, all
render a :class:`SweepResult`, never the live run.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bulkload import event_loop
from bulkload.errors import InputError
from bulkload.stats.level import LevelResult
from bulkload.stats.outcome import Outcome, OutcomeField
from bulkload.stats.timeline import Timeline

SCHEMA_VERSION = 1
KIND = "bulkload-bench"


@dataclass
class SweepResult:
    model: str  # closed | open
    target: str  # secrets removed
    table: str
    command: list[str] = field(default_factory=list)
    version: str = ""
    machine: dict[str, Any] = field(default_factory=dict)
    started_at: float = 0.0  # epoch seconds
    levels: list[LevelResult] = field(default_factory=list)
    slo: list[str] = field(default_factory=list)
    recommended_concurrency: int | None = None
    recommended_batch_size: int | None = None
    recommended_rate: float | None = None
    recommendation: str = ""
    #: the rule the recommendation follows, in words (printed beside it)
    recommendation_rule: str = ""
    #: the levels the sweep was to run (levels x batch sizes); None for --sweep auto
    levels_planned: int | None = None
    usl: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    #: completed | interrupted | failed | aborted (a gate): an Outcome (a str)
    outcome: OutcomeField = OutcomeField(Outcome.COMPLETED)
    error: str | None = None
    #: rows the target took during the sweep, levels dropped (interrupted) included
    rows_written: int = 0
    #: --threshold gates: [{expression, level, measured, allowed, ok}]
    thresholds: list[dict[str, Any]] = field(default_factory=list)
    #: --baseline: the comparison with the saved run (bulkload.bench.compare)
    comparison: dict[str, Any] | None = None
    #: --shard i/N: {index, count}, the share of the work this run did
    shard: dict[str, int] | None = None
    #: report merge: {count, merged: [i...], missing: [i...], window_overlap: [per level]}
    merged_shards: dict[str, Any] | None = None
    #: --processes P: {count, window_overlap per level, children: [{index, pid,
    #: exit_code, levels: [{started_at, finished_at, rows, batches}]}]}
    processes: dict[str, Any] | None = None
    #: --processes auto: {requested, processes, reason, cores, probe: {level, seconds,
    #: busy, runnable, writes_per_s, error} or None} (bulkload.bench.auto_processes)
    processes_decision: dict[str, Any] | None = None
    #: --fit-on NAME: the operation whose rate the recommendation and the USL fit use
    fit_on: str | None = None
    #: every level over time, interval by interval (warm-ups and drains included)
    timeline: Timeline | None = None
    #: a ramp's analysis, per ramp level: [{tag, cause, time_s, at, rate, concurrency,
    #: throughput, detail, signs}] (cause None: it never broke); None without a ramp
    breaking_points: list[dict[str, Any]] | None = None

    def levels_by_level(self) -> list[LevelResult]:
        """The levels as tables list them: by batch size (in the order they ran), then
        by concurrency or arrival rate, whatever order they ran in (``--sweep auto``
        runs its refining levels after the doublings)."""
        sizes = list(dict.fromkeys(level.batch_size for level in self.levels))

        def key(level: LevelResult) -> tuple[int, float]:
            at = level.rate if level.rate is not None else float(level.concurrency)
            return sizes.index(level.batch_size), at

        return sorted(self.levels, key=key)

    def recommended_level(self) -> LevelResult | None:
        for level in self.levels:
            if self.model == "open":
                if level.rate == self.recommended_rate and (
                    level.batch_size == self.recommended_batch_size
                ):
                    return level
            elif (level.concurrency, level.batch_size) == (
                self.recommended_concurrency,
                self.recommended_batch_size,
            ):
                return level
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "schema_version": SCHEMA_VERSION,
            "version": self.version,
            "command": self.command,
            "target": self.target,
            "table": self.table,
            "machine": self.machine,
            "started_at": self.started_at,
            "model": self.model,
            "outcome": self.outcome,
            "error": self.error,
            "rows_written": self.rows_written,
            "slo": self.slo,
            "recommended_concurrency": self.recommended_concurrency,
            "recommended_batch_size": self.recommended_batch_size,
            "recommended_rate": self.recommended_rate,
            "recommendation": self.recommendation,
            "recommendation_rule": self.recommendation_rule,
            "levels_planned": self.levels_planned,
            "usl": self.usl,
            "warnings": self.warnings,
            "levels": [level.to_dict() for level in self.levels],
            "thresholds": self.thresholds,
            "comparison": self.comparison,
            "shard": self.shard,
            "merged_shards": self.merged_shards,
            "processes": self.processes,
            "processes_decision": self.processes_decision,
            "fit_on": self.fit_on,
            "timeline": None if self.timeline is None else self.timeline.to_dict(),
            "breaking_points": self.breaking_points,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "result") -> SweepResult:
        if data.get("kind") != KIND:
            raise InputError("not a bulkload bench result (no kind: bulkload-bench)", source=source)
        if data.get("schema_version") != SCHEMA_VERSION:
            raise InputError(
                f"schema_version {data.get('schema_version')} is not {SCHEMA_VERSION}",
                source=source,
            )
        try:
            return cls(
                model=data["model"],
                target=data["target"],
                table=data["table"],
                command=list(data["command"]),
                version=data["version"],
                machine=dict(data["machine"]),
                started_at=data["started_at"],
                levels=[LevelResult.from_dict(level) for level in data["levels"]],
                slo=list(data["slo"]),
                recommended_concurrency=data["recommended_concurrency"],
                recommended_batch_size=data["recommended_batch_size"],
                recommended_rate=data["recommended_rate"],
                recommendation=data["recommendation"],
                # absent from results saved before the rule was printed
                recommendation_rule=data.get("recommendation_rule") or "",
                levels_planned=data.get("levels_planned"),
                usl=data["usl"],
                warnings=list(data["warnings"]),
                outcome=data["outcome"],
                error=data["error"],
                rows_written=data["rows_written"],
                # absent from results saved before CI gates existed
                thresholds=list(data.get("thresholds") or []),
                comparison=data.get("comparison"),
                shard=data.get("shard"),
                merged_shards=data.get("merged_shards"),
                processes=data.get("processes"),
                processes_decision=data.get("processes_decision"),
                fit_on=data.get("fit_on"),
                # absent from results saved before timelines existed
                timeline=Timeline.from_dict(data["timeline"]) if data.get("timeline") else None,
                breaking_points=data.get("breaking_points"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"malformed bench result: {exc!r}", source=source) from None


def read_result(path: Path) -> SweepResult:
    """The SweepResult saved in ``path`` (by ``bench --json``); InputError naming it
    otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("no such file", source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InputError(f"cannot read: {reason}", source=str(path)) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc}", source=str(path)) from None
    if not isinstance(data, dict):
        raise InputError("not a bulkload bench result (not a JSON object)", source=str(path))
    return SweepResult.from_dict(data, source=str(path))


def machine_facts() -> dict[str, Any]:
    """Where the sweep ran: enough to tell two machines' results apart."""
    return {
        "hostname": platform.node(),
        "cores": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "timezone": time.strftime("%z"),
        "event_loop": event_loop.loop_name(),  # uvloop or asyncio (BULKLOAD_EVENT_LOOP)
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
