"""An import's live progress: a bar and a line on a terminal, plain lines otherwise."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

from rich.console import Console, Group
from rich.text import Text

from bulkload.cli.views.console import fit
from bulkload.cli.views.sparkline import throughput_line
from bulkload.report.estimate import clock, estimate
from bulkload.stats.run import RunStats

PLAIN_INTERVAL_S = 5.0
LIVE_INTERVAL_S = 0.25
_BAR_WIDTH = 50


def status_line(stats: RunStats, now: float, width: int | None = None) -> str:
    """One line: rows, rows/s and the ETA first; then the rest. ``width``: the fields
    least needed are left out, whole, until the line fits (None: every field)."""
    return fit(status_fields(stats, now), width)


def status_fields(stats: RunStats, now: float) -> list[tuple[int, str]]:
    """(priority, text) in the order shown; 0 matters most."""
    elapsed = stats.elapsed(now)
    rate = stats.rows_loaded / elapsed if elapsed > 0 else 0.0
    mbps = stats.bytes_read / 1e6 / elapsed if elapsed > 0 else 0.0
    fields = [(0, f"{stats.rows_loaded:,} rows"), (1, f"{rate:,.0f} rows/s")]
    known = estimate(stats, now)
    if known is not None and known.eta_s is not None:
        fields.append((2, f"ETA {clock(math.ceil(known.eta_s))}"))  # 0:00:00 only when done
    if stats.breaker_state != "closed":
        fields.append((3, f"circuit {stats.breaker_state}"))
    fields.append((4, f"rejected {stats.rows_rejected:,}"))
    if stats.retries:
        fields.append((5, f"retries {stats.retries:,}"))
    fields.append((6, f"elapsed {clock(elapsed)}"))
    fields += [(7, f"in flight {stats.in_flight}"), (8, f"{mbps:,.1f} MB/s")]
    return fields


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
        from rich.live import Live  # a terminal's progress only, not plain lines or --quiet

        with Live(
            get_renderable=self._render,
            console=self.console,
            refresh_per_second=1 / LIVE_INTERVAL_S,
            transient=True,
        ):
            await asyncio.Event().wait()

    def _render(self) -> Group:
        stats = self.stats
        now, width = self.clock(), self.console.width
        line = Text(status_line(stats, now, width), no_wrap=True, overflow="crop")
        lines = [line]
        spark = throughput_line(stats.timeline, "import", min(width, 80))
        if spark is not None:
            lines.append(Text(spark, no_wrap=True, overflow="crop"))
        known = estimate(stats, now)
        if known is not None:
            return Group(bar(known.rows_done / known.rows_total, width), *lines)
        if stats.bytes_total:  # no row read yet
            return Group(bar(0.0, width), *lines)
        return Group(*lines)


def bar(done: float, width: int) -> Text:
    """A line of its own: ``━━━━━━────── 45%``, at most :data:`_BAR_WIDTH` wide. (rich's
    ProgressBar draws no line end, so the status line was glued to it and cut, and
    without colour it draws no unfilled part.)"""
    done = min(max(done, 0.0), 1.0)
    cells = max(min(_BAR_WIDTH, width - 5), 1)
    filled = int(done * cells)
    return Text.assemble(
        ("━" * filled, "bar.complete"), ("─" * (cells - filled), "bar.back"), f" {done:4.0%}"
    )
