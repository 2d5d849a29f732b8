"""``bulkload bench --processes P``: the sweep in P child processes, merged as shards are.

For when one event loop is the bottleneck. The command starts P children of itself
(``python -m bulkload bench <the same options> --shard i/P --json <temp> --quiet``); the
parent keeps the terminal. Before each level every child waits at a barrier (see
:mod:`bulkload.bench.process_link`), so the levels start together and their windows
overlap; the overlap is measured and saved. Under ``--reset`` a first barrier lets one
child empty the table only once every child's writes have ended. The results are merged with
:func:`merge_results` (throughput over the union of the windows), then shown, saved and
judged exactly as a single run's.

The first Ctrl-C is passed on to every child (each drops the level running and keeps
the finished ones); the second stops them at once; a child still running after that is
killed. A child that fails is named on one line with its exit code, and stops the
others after their level; what the others measured is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from bulkload import event_loop
from bulkload.bench.auto_processes import Decision
from bulkload.bench.merge import merge_results, window_overlap
from bulkload.bench.process_link import DONE, READY, ChildLink, child_environment
from bulkload.bench.result import SweepResult
from bulkload.config import BenchConfig
from bulkload.errors import BulkloadError, UsageError
from bulkload.parallel import children
from bulkload.parallel.prepare import prepare_bench_target
from bulkload.process_signals import StopSignals, stop_within
from bulkload.sources.discovery import STDIN

#: levels whose windows overlapped less than this get a warning
OVERLAP_WARNING = 0.9

EXIT_ABORTED = 2
EXIT_INTERRUPTED = 4


def check_processes(config: BenchConfig, argv: Sequence[str]) -> None:
    """Refuse what cannot be split among processes, before any is started."""
    count = config.sweep.processes
    if config.sweep.shard is not None:
        raise UsageError(
            "--processes and --shard exclude each other: --processes runs the shards i/P "
            "itself (on several machines, give each job --shard and no --processes)"
        )
    if config.sweep.auto:
        raise UsageError(
            "--processes needs fixed levels (--sweep 1,8,32 or --sweep-rate): the levels "
            "of --sweep auto depend on what each process measures"
        )
    if config.synthetic is not None and config.synthetic.rows < count:
        raise UsageError(f"--processes {count}: fewer synthetic rows than processes")
    if config.source is not None and STDIN in config.source.paths:
        raise UsageError("bench reads its input several times: pass files, not stdin (-)")
    if len(argv) < 2:
        raise BulkloadError("--processes needs the command line to start its children")


@dataclass
class Child(children.Child):
    """One child process: its shard, its link, where its result goes."""

    link: ChildLink | None = None
    json_path: Path = Path()


@dataclass
class ChildOutcome:
    child: Child
    code: int
    result: SweepResult | None
    failed: bool

    def said(self) -> str:
        """Its error, from the result it saved ("" if none)."""
        return (self.result.error if self.result else None) or ""

    def describe(self) -> str:
        return self.child.describe(self.said())


class ProcessRunner:
    """Starts the children, holds the barrier before each level, waits for them all."""

    def __init__(self, argv: Sequence[str], count: int, workdir: Path):
        self.argv = list(argv)
        self.count = count
        self.workdir = workdir
        self.children: list[Child] = []
        self.stopping = False  # the user stopped the run
        self.halted = False  # a child ended early: the others were stopped after their level
        self.on_level_start: Any = None  # called with (level number, processes) as it starts

    def stop(self) -> None:
        """The first Ctrl-C: each child drops the level running and runs no other."""
        self.stopping = True
        for child in self.children:
            child.signal(signal.SIGINT)
            _link(child).stop()

    async def run(self) -> None:
        try:
            for index in range(1, self.count + 1):
                if self.stopping:
                    break
                self.children.append(await self._start(index))
            await self._levels()
            for child in self.children:
                await child.process.wait()
        finally:  # cancelled (the second Ctrl-C) or failed: no child outlives the command
            await self._shutdown()

    async def _start(self, index: int) -> Child:
        ready_read, ready_write = os.pipe()
        go_read, go_write = os.pipe()
        json_path = self.workdir / f"process-{index}.json"
        stderr_path = self.workdir / f"process-{index}.stderr"
        command = [
            *(sys.executable, "-m", "bulkload", *self.argv[1:]),
            *("--shard", f"{index}/{self.count}", "--json", str(json_path), "--quiet"),
            *("--processes", "1"),  # over whatever a profile or variable says
        ]
        try:
            with stderr_path.open("wb") as stderr:
                process = await asyncio.create_subprocess_exec(
                    *command,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=stderr,
                    env=child_environment(ready_write, go_read),
                    pass_fds=(ready_write, go_read),
                    # a terminal's Ctrl-C reaches the parent only (a session, not
                    # process_group=0: uvloop's subprocesses do not take that)
                    start_new_session=True,
                )
        except BaseException:
            for fd in (ready_read, ready_write, go_read, go_write):
                os.close(fd)
            raise
        os.close(ready_write)
        os.close(go_read)
        link = await ChildLink.open(ready_read, go_write)
        return Child(index, self.count, process, stderr_path, link, json_path)

    async def _levels(self) -> None:
        """The barriers: each level (and each --reset) goes ahead when every child still
        running has reached it; a child that ended early (failed, or stopped) stops the
        others after their level."""
        running = list(self.children)
        level = 0
        while running:
            said = await asyncio.gather(*(_link(child).next_message() for child in running))
            reached = [message is not None for message in said]
            ended_early = len(running) - sum(reached) if any(reached) else 0
            running = [child for child, is_in in zip(running, reached, strict=True) if is_in]
            # children at different barriers (one done, one ready) are out of step: a
            # bug, never a measurement: stop them all rather than start a level unevenly
            out_of_step = READY in said and DONE in said
            self.halted = self.halted or bool(ended_early) or out_of_step
            if self.stopping or self.halted:
                for child in running:
                    _link(child).stop()
                continue
            for child in running:
                _link(child).go()
            if READY in said:  # DONE: the children's writes ended; no level starts yet
                level += 1
                if self.on_level_start is not None and running:
                    self.on_level_start(level, len(running))

    async def _shutdown(self) -> None:
        running = [child for child in self.children if child.process.returncode is None]
        for child in running:
            child.signal(signal.SIGINT)  # their second: stop at once, save what is done
            _link(child).stop()
        await asyncio.gather(
            *(stop_within(child.process, children.KILL_AFTER_S) for child in running)
        )
        for child in self.children:
            _link(child).close()

    def outcomes(self) -> list[ChildOutcome]:
        """Each child's exit code and result (None when it saved none)."""
        from bulkload.cli_report import read_result

        found = []
        for child in self.children:
            code = child.code
            result = None
            if child.json_path.exists():
                with contextlib.suppress(BulkloadError):
                    result = read_result(child.json_path)
            # once the user stopped the run, how a child ended is the stop's doing; one
            # halted because another failed is interrupted, not failed
            stopped = self.stopping or (self.halted and code == EXIT_INTERRUPTED)
            found.append(ChildOutcome(child, code, result, code != 0 and not stopped))
        return found


def merge_children(
    outcomes: Sequence[ChildOutcome], count: int, command: list[str]
) -> SweepResult | None:
    """The children's results merged over the levels all of them ran, with how their
    windows overlapped; None when none saved a result."""
    saved = [outcome for outcome in outcomes if outcome.result is not None]
    if not saved:
        return None
    results = [outcome.result for outcome in saved if outcome.result is not None]
    common = min(len(result.levels) for result in results)
    for result in results:
        del result.levels[common:]  # a level some child never ran is not a level of the whole
    merged = merge_results(
        results, names=[outcome.child.name for outcome in saved], check_whole=False
    )
    merged.command = command
    merged.shard = None
    overlaps = [
        window_overlap([(r.levels[k].started_at, r.levels[k].finished_at) for r in results])
        for k in range(common)
    ]
    merged.processes = {
        "count": count,
        "window_overlap": [round(overlap, 4) for overlap in overlaps],
        "children": [_child_summary(outcome) for outcome in outcomes],
    }
    for level, overlap in zip(merged.levels, overlaps, strict=True):
        if len(results) > 1 and overlap < OVERLAP_WARNING:
            merged.warnings.append(
                f"c={level.concurrency} batch {level.batch_size:,}: the processes' measured "
                f"windows overlapped {overlap:.0%}: throughput is over their union, lower "
                "than what they did together"
            )
    return merged


def _child_summary(outcome: ChildOutcome) -> dict[str, Any]:
    levels = outcome.result.levels if outcome.result is not None else []
    return {
        "index": outcome.child.index,
        "pid": outcome.child.process.pid,
        "exit_code": outcome.code,
        "levels": [
            {
                "started_at": level.started_at,
                "finished_at": level.finished_at,
                "rows": level.rows,
                "batches": level.batches,
            }
            for level in levels
        ],
    }


def run_processes(
    config: BenchConfig, *, argv: Sequence[str], decision: Decision | None = None
) -> int:
    """``bench --processes P``: run the children, merge, show, save, judge; the exit
    code is a single run's (a failed child's own code first)."""
    from bulkload.bench.command import (
        EXIT_OK,
        EXIT_TARGET,
        _write_html,
        judge_run,
        prepare_shard,
        read_baseline,
        render_verdict,
    )
    from bulkload.bench.gates import EXIT_GATE_FAILED
    from bulkload.engine.writer import one_line
    from bulkload.redact import redact_text, redact_url
    from bulkload.report.bench_view import render_sweep
    from bulkload.report.html import require_html_support
    from bulkload.report.json_summary import check_json_path, write_document
    from bulkload.report.progress import ProgressReporter

    check_processes(config, argv)
    count = config.sweep.processes
    report, gates = config.report, config.gates
    if report.html_path:
        require_html_support()
        check_json_path(report.html_path, "--html")
    if report.json_path:
        check_json_path(report.json_path)
    out = Console(stderr=report.json_path == "-", highlight=False)
    err = Console(stderr=True, highlight=False)
    baseline = read_baseline(config)
    mode = ProgressReporter.choose_mode(report.progress, report.quiet, err)
    levels = len(config.sweep.rates or config.sweep.levels) * len(config.sweep.batch_sizes)
    secrets = [p for p in [_password(config.target.url)] if p]
    command = [redact_url(redact_text(arg, secrets)) for arg in argv]

    runner = ProcessRunner(argv, count, Path())
    if mode != "off":
        runner.on_level_start = lambda level, running: err.print(
            f"level {level}/{levels}: started in {running} processes together", highlight=False
        )

    def stop() -> None:
        runner.stop()
        err.print(
            "bulkload: stopping: every process drops the level running, the finished ones "
            "are kept (Ctrl-C again to stop at once)"
        )

    signals = StopSignals(stop)

    whole = prepare_shard(config, None, argv=argv)  # the whole run: its table, its result

    async def main() -> None:
        signals.attach()  # from now on the second signal cancels this task
        # the table prepared once, before any child writes: the children append to it
        await prepare_bench_target(
            whole.backend,
            whole.data.batches(config.sweep.batch_sizes[0]),
            table=whole.table,
            if_exists=whole.if_exists,
            timeout=config.engine.timeout,
        )
        await runner.run()

    with signals, tempfile.TemporaryDirectory(prefix="bulkload-processes-") as workdir:
        runner.workdir = Path(workdir)
        try:
            with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
                event_loop.run_command(main())
        except Exception as exc:  # preparing the target failed: shown and saved as one run's
            failed = whole.result
            failed.outcome, failed.error = "failed", one_line(exc)
            render_sweep(failed, out)
            if report.json_path:
                write_document(failed.to_dict(), report.json_path)
            if report.html_path:
                _write_html(failed, report.html_path, exc, None)
            raise
        runner.stopping = runner.stopping or signals.received > 0
        outcomes = runner.outcomes()
        failures = [outcome for outcome in outcomes if outcome.failed]
        for outcome in failures:
            print(f"bulkload: error: {outcome.describe()}", file=sys.stderr)  # one line
        failure_code = failures[0].code if failures else None
        merged = merge_children(outcomes, count, command)
        if merged is None:  # no child saved a result: nothing to show or judge
            if failure_code is not None:
                return failure_code
            return EXIT_INTERRUPTED if runner.stopping else EXIT_ABORTED
        if decision is not None:
            merged.processes_decision = decision.to_dict()
        if failures and merged.outcome != "failed":
            merged.outcome, merged.error = "failed", failures[0].describe()
        elif runner.stopping and merged.outcome == "completed":
            merged.outcome = "interrupted"
        verdict = judge_run(merged, gates, baseline)
        render_sweep(merged, out)
        _render_overlap(merged, out)
        render_verdict(verdict, out)
        if report.json_path:
            write_document(merged.to_dict(), report.json_path)
        if report.html_path:
            _write_html(merged, report.html_path, None, verdict.baseline)
    if failure_code is not None:
        return failure_code
    if merged.outcome == "interrupted":
        return EXIT_INTERRUPTED
    if merged.outcome == "failed":
        return EXIT_TARGET
    if verdict.failed:
        return EXIT_GATE_FAILED
    return EXIT_OK


def _render_overlap(result: SweepResult, console: Console) -> None:
    processes = result.processes or {}
    overlaps = processes.get("window_overlap") or []
    if overlaps:
        console.print(
            f"  {processes['count']} processes; their measured windows overlapped "
            f"{min(overlaps):.0%} at least (the levels' throughput is over the union)",
            highlight=False,
        )


def _link(child: Child) -> ChildLink:
    assert child.link is not None  # set as it starts
    return child.link


def _password(url: str) -> str | None:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).password
    except ValueError:
        return None
