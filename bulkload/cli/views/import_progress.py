"""An import's live progress: a bar and a line on a terminal, plain lines otherwise."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.text import Text

from bulkload.report.estimate import clock, estimate
from bulkload.stats.run import RunStats

PLAIN_INTERVAL_S = 5.0
LIVE_INTERVAL_S = 0.25


def status_line(stats: RunStats, now: float) -> str:
    elapsed = stats.elapsed(now)
    rate = stats.rows_loaded / elapsed if elapsed > 0 else 0.0
    mbps = stats.bytes_read / 1e6 / elapsed if elapsed > 0 else 0.0
    parts = [
        f"{clock(elapsed)}",
        f"{stats.rows_loaded:,} rows",
        f"{rate:,.0f} rows/s",
        f"{mbps:,.1f} MB/s",
        f"in flight {stats.in_flight}",
        f"rejected {stats.rows_rejected:,}",
    ]
    if stats.retries:
        parts.append(f"retries {stats.retries:,}")
    if stats.breaker_state != "closed":
        parts.append(f"circuit {stats.breaker_state}")
    known = estimate(stats, now)
    if known is not None and known.eta_s is not None:
        parts.append(f"ETA {clock(math.ceil(known.eta_s))}")  # 0:00:00 only when done
    return "  ".join(parts)


class ProgressReporter:
    """Shows a run's progress until stopped. ``mode``: rich, plain or off."""

    def __init__(
        self,
        stats: RunStats,
        console: Console,
        mode: str,
        *,
        clock: Callable[[], float] = time.perf_counter,
    ):
        self.stats = stats
        self.console = console
        self.mode = mode
        self.clock = clock

    @staticmethod
    def choose_mode(requested: str, quiet: bool, console: Console) -> str:
        if quiet or requested == "off":
            return "off"
        if requested in ("rich", "plain"):
            return requested
        return "rich" if console.is_terminal else "plain"

    async def run(self) -> None:
        """Report until cancelled."""
        if self.mode == "off":
            await asyncio.Event().wait()
        elif self.mode == "plain":
            await self._plain()
        else:
            await self._live()

    async def _plain(self) -> None:
        try:
            while True:
                await asyncio.sleep(PLAIN_INTERVAL_S)
                self.console.print(status_line(self.stats, self.clock()), highlight=False)
        except asyncio.CancelledError:
            raise

    async def _live(self) -> None:
        with Live(
            get_renderable=self._render,
            console=self.console,
            refresh_per_second=1 / LIVE_INTERVAL_S,
            transient=True,
        ):
            await asyncio.Event().wait()

    def _render(self) -> Group:
        stats = self.stats
        line = Text(status_line(stats, self.clock()))
        known = estimate(stats, self.clock())
        if known is not None:
            bar = ProgressBar(total=known.rows_total, completed=known.rows_done, width=50)
            return Group(bar, line)
        if stats.bytes_total:  # no row read yet
            return Group(ProgressBar(total=stats.bytes_total, completed=0, width=50), line)
        return Group(line)
