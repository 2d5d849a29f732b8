"""Circuit breaker: stop hammering a failing target, probe, then resume.

closed --K consecutive failures--> open --cool-down--> half-open --probe ok--> closed
                                    ^                      |
                                    +------probe fails-----+
While open, writers wait; in half-open exactly one writer sends (the probe).
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    def __init__(
        self,
        *,
        threshold: int,
        cooldown: float,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._sleep = sleep
        self.state = BreakerState.CLOSED
        self.consecutive_failures = 0
        self.opened_count = 0
        self._opened_at = 0.0
        self._probe = asyncio.Lock()
        self._changed = asyncio.Event()

    @property
    def enabled(self) -> bool:
        return self.threshold > 0

    async def before_write(self) -> bool:
        """Wait until a write may go. Returns True if this write is the half-open probe
        (the caller must then report its outcome, and holds the probe slot until then)."""
        if not self.enabled:
            return False
        while True:
            if self.state is BreakerState.CLOSED:
                return False
            if self.state is BreakerState.OPEN:
                remaining = self._opened_at + self.cooldown - self._clock()
                if remaining > 0:
                    await self._sleep(remaining)
                    continue
                self.state = BreakerState.HALF_OPEN
            if not self._probe.locked():
                await self._probe.acquire()
                if self.state is BreakerState.HALF_OPEN:
                    return True
                self._probe.release()
                continue
            self._changed.clear()
            await self._changed.wait()

    def record(self, success: bool, probe: bool) -> None:
        if success and not probe and not self.consecutive_failures:
            return  # the common case, first (a call per write): nothing changes
        if not self.enabled:
            return
        if success:
            self.consecutive_failures = 0
            self.state = BreakerState.CLOSED
        else:
            self.consecutive_failures += 1
            if probe or self.consecutive_failures >= self.threshold:
                if self.state is not BreakerState.OPEN:
                    self.opened_count += 1
                self.state = BreakerState.OPEN
                self._opened_at = self._clock()
        if probe and self._probe.locked():
            self._probe.release()
        self._changed.set()
