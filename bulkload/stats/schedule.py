"""Offered load that changes over a run: rate ramps and stages (open model), and a
concurrency ramp (closed model).

A :class:`RateSchedule` is piecewise linear, as k6's ramping-arrival-rate: it starts at
``start`` writes/s and each stage moves linearly to its target over its duration.
``--ramp-rate 100:2000:5m`` is one stage from 100/s; ``--stages '30s:100/s,2m:2000/s'``
starts at 0/s. Send *i* is due when the schedule's integral (the sends offered so far)
reaches *i*, so the schedule is followed exactly, whatever the target does, and each
send's latency counts from that due time.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from bulkload.errors import UsageError

_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


@dataclass(frozen=True, slots=True)
class Stage:
    duration_s: float
    target: float  # writes/s (or writers) at the stage's end


@dataclass(frozen=True, slots=True)
class RateSchedule:
    start: float
    stages: tuple[Stage, ...]

    @property
    def duration_s(self) -> float:
        return sum(stage.duration_s for stage in self.stages)

    @property
    def peak(self) -> float:
        return max([self.start, *(stage.target for stage in self.stages)])

    def scaled(self, factor: float) -> RateSchedule:
        """The same shape at ``factor`` times the rate (a share's part of it)."""
        return RateSchedule(
            self.start * factor,
            tuple(Stage(s.duration_s, s.target * factor) for s in self.stages),
        )

    def _segments(self) -> list[tuple[float, float, float, float]]:
        """(start time, duration, rate at start, rate at end) of each stage."""
        segments, at, rate = [], 0.0, self.start
        for stage in self.stages:
            segments.append((at, stage.duration_s, rate, stage.target))
            at, rate = at + stage.duration_s, stage.target
        return segments

    def rate_at(self, t: float) -> float:
        for at, length, r0, r1 in self._segments():
            if t < at + length:
                return r0 + (r1 - r0) * max(t - at, 0.0) / length if length else r1
        return self.stages[-1].target if self.stages else self.start

    def offered_by(self, t: float) -> float:
        """Sends offered from 0 to ``t`` (the schedule's integral)."""
        total = 0.0
        for at, length, r0, r1 in self._segments():
            if t <= at:
                break
            part = min(t - at, length)
            total += r0 * part + (r1 - r0) * part * part / (2 * length) if length else 0.0
        return total

    @property
    def total_sends(self) -> int:
        """The sends the schedule offers (those due before its end)."""
        return max(math.ceil(self.offered_by(self.duration_s) - 1e-9), 0)

    def due(self, index: int) -> float:
        """When send ``index`` is due (seconds from the start): where the integral
        reaches ``index``; math.inf past the schedule."""
        done = 0.0
        for at, length, r0, r1 in self._segments():
            area = (r0 + r1) / 2 * length
            if done + area > index:
                left = index - done
                slope = (r1 - r0) / (2 * length)  # offered(τ) = r0 τ + slope τ²
                if abs(slope) < 1e-12:
                    return at + (left / r0 if r0 > 0 else 0.0)
                root = r0 * r0 + 4 * slope * left
                return at + (-r0 + math.sqrt(max(root, 0.0))) / (2 * slope)
            done += area
        return math.inf

    def __str__(self) -> str:
        stages = ",".join(f"{s.duration_s:g}s:{s.target:g}/s" for s in self.stages)
        return f"from {self.start:g}/s: {stages}"


@dataclass(frozen=True, slots=True)
class ConcurrencyRamp:
    """Closed model: writers allowed grow (or shrink) linearly over ``duration_s``."""

    start: int
    end: int
    duration_s: float

    def at(self, t: float) -> int:
        share = min(max(t / self.duration_s, 0.0), 1.0) if self.duration_s else 1.0
        return max(round(self.start + (self.end - self.start) * share), 1)

    @property
    def peak(self) -> int:
        return max(self.start, self.end)

    def __str__(self) -> str:
        return f"{self.start}:{self.end}:{self.duration_s:g}s"


# ----------------------------------------------------------------------------- parsing


def _duration(text: str, option: str) -> float:
    match = _DURATION.match(text)
    if not match:
        raise UsageError(f"{option}: {text.strip()!r} is not a duration like 30s, 2m or 1h")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise UsageError(f"{option}: a duration must be above 0, not {text.strip()!r}")
    return seconds


def _rate(text: str, option: str) -> float:
    written = text.strip().removesuffix("/s")
    try:
        rate = float(written)
    except ValueError:
        raise UsageError(f"{option}: {text.strip()!r} is not a rate like 100 or 100/s") from None
    if rate < 0 or not math.isfinite(rate):
        raise UsageError(f"{option}: a rate must not be negative, not {text.strip()!r}")
    return rate


def parse_ramp_rate(text: str, option: str = "--ramp-rate") -> RateSchedule:
    """``FROM:TO:DURATION``, e.g. ``100:2000:5m`` (writes/s)."""
    parts = str(text).split(":")
    if len(parts) != 3:
        raise UsageError(f"{option} takes FROM:TO:DURATION, e.g. 100:2000:5m, not {text!r}")
    start, end = _rate(parts[0], option), _rate(parts[1], option)
    if max(start, end) <= 0:
        raise UsageError(f"{option}: the rate must rise above 0")
    return RateSchedule(start, (Stage(_duration(parts[2], option), end),))


def parse_stages(text: str, option: str = "--stages") -> RateSchedule:
    """k6's stages, ``30s:100/s,2m:2000/s,30s:0/s``: each DURATION:TARGET, from 0/s."""
    stages = []
    for item in str(text).split(","):
        if not item.strip():
            continue
        duration, sep, target = item.partition(":")
        if not sep:
            raise UsageError(f"{option}: each stage is DURATION:RATE, e.g. 30s:100/s, not {item!r}")
        stages.append(Stage(_duration(duration, option), _rate(target, option)))
    if not stages:
        raise UsageError(f"{option} needs at least one stage, e.g. 30s:100/s")
    schedule = RateSchedule(0.0, tuple(stages))
    if schedule.peak <= 0:
        raise UsageError(f"{option}: the rate must rise above 0")
    return schedule


def parse_concurrency_ramp(text: str, option: str = "--ramp-concurrency") -> ConcurrencyRamp:
    """``FROM:TO:DURATION``, e.g. ``1:64:5m`` (writes in flight)."""
    parts = str(text).split(":")
    if len(parts) != 3:
        raise UsageError(f"{option} takes FROM:TO:DURATION, e.g. 1:64:5m, not {text!r}")
    try:
        start, end = int(parts[0]), int(parts[1])
    except ValueError:
        raise UsageError(f"{option}: FROM and TO are whole numbers of writers") from None
    if min(start, end) < 1:
        raise UsageError(f"{option}: FROM and TO must be at least 1")
    return ConcurrencyRamp(start, end, _duration(parts[2], option))
