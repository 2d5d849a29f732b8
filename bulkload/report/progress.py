"""Live progress while a run goes: a rich display on a terminal, plain lines otherwise."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.text import Text

from bulkload.stats.run import RunStats

PLAIN_INTERVAL_S = 5.0
LIVE_INTERVAL_S = 0.25


def status_line(stats: RunStats, now: float) -> str:
    elapsed = stats.elapsed(now)
    rate = stats.rows_loaded / elapsed if elapsed > 0 else 0.0
    mbps = stats.bytes_read / 1e6 / elapsed if elapsed > 0 else 0.0
    parts = [
        f"{_clock(elapsed)}",
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
    eta = _eta(stats, elapsed)
    if eta is not None:
        parts.append(f"ETA {_clock(eta)}")
    return "  ".join(parts)


def _eta(stats: RunStats, elapsed: float) -> float | None:
    if not stats.bytes_total or stats.bytes_read <= 0 or elapsed <= 0:
        return None
    left = max(stats.bytes_total - stats.bytes_read, 0)
    return left * elapsed / stats.bytes_read


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


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
        if stats.bytes_total:
            bar = ProgressBar(total=stats.bytes_total, completed=stats.bytes_read, width=50)
            return Group(bar, line)
        return Group(line)
