"""How long a sweep is planned to take, and how long it has left: plain figures for the
views (a sweep says its planned time before it starts, and its time left as it goes)."""

from __future__ import annotations

from dataclasses import dataclass

from bulkload.bench.sweep import SweepSpec


@dataclass(frozen=True, slots=True)
class SweepTime:
    """A sweep's plan in time. Each level runs its warm-up then its window; the few
    tenths of a second between levels (a pool encoded, a probe) are not counted."""

    levels: int | None  # None: chosen as the sweep runs (auto)
    warmup_s: float
    window_s: float | None  # None: the window ends after a count of rows or batches
    budget_s: float | None = None  # auto: no level starts past it

    @property
    def level_s(self) -> float | None:
        return None if self.window_s is None else self.warmup_s + self.window_s

    @property
    def total_s(self) -> float | None:
        """The whole sweep (auto: at most), or None when a count bounds its levels."""
        if self.levels is None:
            return self.budget_s
        level = self.level_s
        return None if level is None else self.levels * level

    def left_s(self, finished: int, running_s: float | None, elapsed_s: float) -> float | None:
        """Seconds left once ``finished`` levels are done and the next has run
        ``running_s`` (None: not started); auto: the budget left (at most)."""
        level = self.level_s
        if self.levels is None:
            return None if self.budget_s is None else max(self.budget_s - elapsed_s, 0.0)
        if level is None:
            return None
        waiting = max(self.levels - finished, 0) * level
        if running_s is not None and finished < self.levels:
            waiting -= min(running_s, level)
        return waiting


def sweep_time(spec: SweepSpec) -> SweepTime:
    counted = spec.rows is not None or spec.batches is not None
    window = None if counted else spec.duration_s
    if spec.levels is None and not spec.rates:
        budget = spec.max_time_s * len(spec.batch_sizes)  # each batch size: its own search
        return SweepTime(None, spec.warmup_s, window, budget)
    planned = len(spec.rates or spec.levels or ()) * len(spec.batch_sizes)
    return SweepTime(planned, spec.warmup_s, window)
