"""Retry policy: exponential backoff with full jitter, honouring a server's hint."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    retries: int = 5
    base_wait: float = 0.05
    max_wait: float = 5.0

    def wait(self, attempt: int, rng: random.Random, hint: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based).

        Full jitter (uniform in [0, min(max, base * 2^attempt)]) spreads retries of many
        workers apart; a server's retry-after hint is a floor, capped at ``max_wait``.
        """
        ceiling = min(self.max_wait, self.base_wait * 2**attempt)
        wait = rng.uniform(0, ceiling)
        if hint is not None:
            wait = max(wait, min(hint, self.max_wait))
        return wait
