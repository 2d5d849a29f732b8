"""A sweep's live progress. Before it starts, one line with its planned time. Then, on a
terminal, two lines: the sweep (level k of n, time left) and the level running (phase,
window so far), each fitted to the width; otherwise (CI logs, pipes) a plain line as
each level ends, with the sweep's time left."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from bulkload.bench.timing import SweepTime
from bulkload.cli.views.console import fit
from bulkload.cli.views.sparkline import throughput_line
from bulkload.report.estimate import clock
from bulkload.report.summary import ms
from bulkload.stats.level import LevelResult

if TYPE_CHECKING:  # the view reads the sweep's progress; the sweep does not know the view
    from bulkload.bench.sweep import SweepProgress

LIVE_INTERVAL_S = 0.25
_PHASES = {"warmup": "warming up", "measure": "measuring", "drain": "draining"}


def plan_line(plan: SweepTime) -> str:
    """What the sweep will take, said before it starts."""
    levels = "levels" if plan.levels is None else f"{plan.levels} level{_s(plan.levels)}"
    warmup = _seconds(plan.warmup_s)
    if plan.level_s is None:
        return (
            f"bench: {levels}, each a {warmup} warm-up and a window of a count of rows or "
            "batches: its time depends on the target"
        )
    each = f"{_seconds(plan.level_s)} ({warmup} warm-up + {_seconds(plan.window_s or 0)} measured)"
    total = clock(math.ceil(plan.total_s or 0))
    if plan.levels is None:
        return f"bench: levels chosen as it runs (auto), each {each}: at most {total}"
    return f"bench: {levels} x {each}: about {total} planned"


def level_line(index: int, total: int | None, level: LevelResult, left: str | None = None) -> str:
    of = f"/{total}" if total else ""
    what = f"{level.rate:g}/s" if level.rate is not None else f"c={level.concurrency}"
    rate = f"{level.rows_per_s:,.0f} rows/s"
    if level.kind != "write":  # what a read or mixed sweep counts: its operations
        unit = "queries/s" if level.kind == "query" else "ops/s"
        rate = f"{level.batches_per_s:,.0f} {unit} ({rate})"
    line = (
        f"level {index}{of} {what} batch {level.batch_size:,}: {rate}, "
        f"p99 {ms(level.latency.percentile_ms(99))} ms, in flight {level.in_flight_mean:.1f}, "
        f"errors {level.write_errors:,}"
    )
    if level.outcome != "completed":
        line += f" ({level.outcome}{': ' + level.error if level.error else ''})"
    elif left is not None and (total is None or index < total):
        line += f"; sweep {left}"
    return line


def time_left(seconds: float, plan: SweepTime) -> str:
    """about 0:01:12 left; an auto sweep's budget: at most 0:04:00 left"""
    return f"{'at most' if plan.levels is None else 'about'} {clock(math.ceil(seconds))} left"


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def _seconds(seconds: float) -> str:
    return f"{seconds:g} s"


class BenchProgress:
    """Shows a sweep's progress until cancelled. ``mode``: rich, plain or off."""

    def __init__(
        self,
        progress: SweepProgress,
        console: Console,
        mode: str,
        plan: SweepTime | None = None,
        *,
        clock: Callable[[], float] = time.perf_counter,
    ):
        self.progress = progress
        self.console = console
        self.mode = mode
        self.plan = plan
        self.clock = clock
        self._printed = 0
        self._started = clock()
        self._level: tuple[int, float] = (0, self._started)  # (index, when it started)

    async def run(self) -> None:
        if self.mode == "off":
            await asyncio.Event().wait()
            return
        self._started = self.clock()
        if self.plan is not None:
            self.console.print(plan_line(self.plan), highlight=False, markup=False)
        if self.mode == "plain":
            try:
                while True:
                    self._print_finished()
                    await asyncio.sleep(LIVE_INTERVAL_S)
            finally:
                self._print_finished()
        else:
            with Live(
                get_renderable=self._render,
                console=self.console,
                refresh_per_second=1 / LIVE_INTERVAL_S,
                transient=True,
            ):
                await asyncio.Event().wait()

    def _print_finished(self) -> None:
        done = self.progress.done
        while self._printed < len(done):
            self._printed += 1
            left = self._left(self._printed, None)
            line = level_line(self._printed, self.progress.total, done[self._printed - 1], left)
            self.console.print(line, highlight=False, markup=False)

    def _left(self, finished: int, running_s: float | None) -> str | None:
        if self.plan is None:
            return None
        left = self.plan.left_s(finished, running_s, self.clock() - self._started)
        return None if left is None else time_left(left, self.plan)

    def _render(self) -> Group:
        progress, width, now = self.progress, self.console.width, self.clock()
        if progress.index != self._level[0]:  # a level started: its time is counted from now
            self._level = (progress.index, now)
        driver = progress.driver
        total = progress.total or (self.plan.levels if self.plan else None)
        running = now - self._level[1] if driver is not None else None
        finished = progress.index - 1 if driver is not None else progress.index
        overall: list[tuple[int, str]] = [
            (0, f"sweep: level {max(progress.index, 1)}{f' of {total}' if total else ''}")
        ]
        left = self._left(finished, running)
        if left is not None:
            overall.append((1, left))
        overall.append((2, f"elapsed {clock(now - self._started)}"))
        lines = [Text(fit(overall, width), no_wrap=True, overflow="crop")]
        if driver is None:
            lines.append(Text(fit([(0, f"bench: {progress.status}")], width), no_wrap=True))
            return Group(*lines)
        window = driver.window
        fields = [(0, f"{driver.plan.label}: {_PHASES[driver.phase]}")]
        if driver.phase != "warmup":
            started = driver.window_started
            elapsed = max(now - started, 1e-9) if started else 0.0
            if elapsed:
                fields.append((1, f"{window.rows_loaded / elapsed:,.0f} rows/s"))
        p99 = window.latency.percentile_ms(99) if window.latency.count else 0.0
        fields += [
            (2, f"p99 {ms(p99)} ms"),
            (4, f"in flight {driver.in_flight}"),
            (3, f"errors {window.write_errors:,}"),
        ]
        lines.append(Text(fit(fields, width), no_wrap=True, overflow="crop"))
        spark = throughput_line(driver.timeline, driver.plan.label, min(width, 80))
        if spark is not None:
            lines.append(Text(spark, no_wrap=True, overflow="crop"))
        return Group(*lines)
