"""A sweep's live progress: on a terminal, one line for the level running (phase,
window so far); otherwise (CI logs, NO_COLOR pipes) a plain line as each level ends."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from rich.console import Console
from rich.live import Live
from rich.text import Text

from bulkload.report.summary import ms
from bulkload.stats.level import LevelResult

if TYPE_CHECKING:  # the view reads the sweep's progress; the sweep does not know the view
    from bulkload.bench.sweep import SweepProgress

LIVE_INTERVAL_S = 0.25


def level_line(index: int, total: int | None, level: LevelResult) -> str:
    of = f"/{total}" if total else ""
    what = f"{level.rate:g}/s" if level.rate is not None else f"c={level.concurrency}"
    line = (
        f"level {index}{of} {what} batch {level.batch_size:,}: {level.rows_per_s:,.0f} rows/s, "
        f"p99 {ms(level.latency.percentile_ms(99))} ms, in flight {level.in_flight_mean:.1f}, "
        f"errors {level.write_errors:,}"
    )
    if level.outcome != "completed":
        line += f" ({level.outcome}{': ' + level.error if level.error else ''})"
    return line


class BenchProgress:
    """Shows a sweep's progress until cancelled. ``mode``: rich, plain or off."""

    def __init__(self, progress: SweepProgress, console: Console, mode: str):
        self.progress = progress
        self.console = console
        self.mode = mode
        self._printed = 0

    async def run(self) -> None:
        if self.mode == "off":
            await asyncio.Event().wait()
        elif self.mode == "plain":
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
            line = level_line(self._printed, self.progress.total, done[self._printed - 1])
            self.console.print(line, highlight=False, markup=False)

    def _render(self) -> Text:
        progress = self.progress
        driver = progress.driver
        of = f"/{progress.total}" if progress.total else ""
        if driver is None:
            return Text(f"bench: {progress.status}")
        window = driver.window
        phase = {"warmup": "warming up", "measure": "measuring", "drain": "draining"}
        rate = ""
        if driver.phase != "warmup":
            started = driver.window_started
            elapsed = max(time.perf_counter() - started, 1e-9) if started else 0.0
            if elapsed:
                rate = f"  {window.rows_loaded / elapsed:,.0f} rows/s"
        p99 = window.latency.percentile_ms(99) if window.latency.count else 0.0
        return Text(
            f"level {progress.index}{of} {driver.plan.label}: {phase[driver.phase]}{rate}"
            f"  p99 {ms(p99)} ms  in flight {driver.in_flight}  errors {window.write_errors}"
        )
