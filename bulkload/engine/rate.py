"""Token-bucket throttling: rows, batches or bytes per second, smooth.

The bucket holds at most one batch's worth of tokens, so after an idle moment the engine
can send one batch at once and no more: no burst above the rate. Callers are served in
arrival order. The clock and sleep are injected, so tests run on virtual time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


class TokenBucket:
    def __init__(
        self,
        rate: float,
        *,
        burst: float,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = burst
        self._stamp = clock()
        self._lock = asyncio.Lock()

    async def acquire(self, amount: float) -> float:
        """Wait until ``amount`` tokens are available and take them.

        Returns the time at which the send was due (the intended start), which is earlier
        than now when the caller was late: latency measured from it is not hidden by
        stalls (coordinated omission).
        """
        async with self._lock:
            self._refill()
            # A request larger than the bucket waits for a full bucket, then borrows.
            need = min(amount, self.burst)
            # again until there are enough: uvloop rounds a timer to the millisecond,
            # so a sleep may end up to half a millisecond early (a float's rounding
            # error is not a deficit: it would never be slept off)
            while (deficit := need - self._tokens) > need * 1e-9:
                await self._sleep(deficit / self.rate)
                self._refill()
            due = self._clock() - max(self._tokens - need, 0) / self.rate
            self._tokens -= amount
            return due

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now


class Throttle:
    """All the limits of a run: any of rows/s, batches/s and bytes/s, applied together."""

    def __init__(
        self,
        *,
        rows_per_s: float | None,
        batches_per_s: float | None,
        bytes_per_s: float | None,
        batch_rows: int,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        def bucket(rate: float | None, burst: float) -> TokenBucket | None:
            return TokenBucket(rate, burst=burst, clock=clock, sleep=sleep) if rate else None

        self.rows = bucket(rows_per_s, float(batch_rows))
        self.batches = bucket(batches_per_s, 1.0)
        # bytes are only known per batch; the bucket holds one batch of ~1 MiB at least
        self.bytes = bucket(bytes_per_s, max(float(bytes_per_s or 0) / 10, 1 << 20))
        self._clock = clock
        self.active = any((self.rows, self.batches, self.bytes))

    async def admit(self, rows: int, nbytes: int) -> float:
        """Wait until a batch may be sent; return when it was due."""
        due = self._clock()
        for bucket, amount in ((self.rows, rows), (self.batches, 1), (self.bytes, nbytes)):
            if bucket is not None:
                due = min(due, await bucket.acquire(amount))
        return due
