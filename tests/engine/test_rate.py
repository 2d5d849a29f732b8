"""The rate cap: within ±5% over any 10-second window once warm.

Checked on virtual time (an injected clock and sleep) so the test is exact and fast, and
once end to end on real time against the sim backend."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from bulkload import event_loop
from bulkload.engine.rate import Throttle, TokenBucket


class VirtualTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


def _windows(stamps: list[tuple[float, int]], width: float) -> list[float]:
    """Rows per second over every window [t, t+width) starting at each send after warm-up."""
    rates = []
    for i, (start, _) in enumerate(stamps):
        if start + width > stamps[-1][0]:
            break
        rows = sum(n for t, n in stamps[i:] if t < start + width)
        rates.append(rows / width)
    return rates


def test_token_bucket_holds_the_rate_in_every_10s_window():
    time = VirtualTime()
    throttle = Throttle(
        rows_per_s=5000,
        batches_per_s=None,
        bytes_per_s=None,
        batch_rows=500,
        clock=time.clock,
        sleep=time.sleep,
    )
    sends: list[tuple[float, int]] = []

    async def writer() -> None:
        for _ in range(100):
            await throttle.admit(500, 0)
            sends.append((time.now, 500))
            await time.sleep(0.003)  # service time

    async def main() -> None:
        await asyncio.gather(*(writer() for _ in range(8)))

    event_loop.run(main())
    rates = _windows(sorted(sends), 10.0)
    assert rates, "the run must be longer than one window"
    assert all(4750 <= r <= 5250 for r in rates), (min(rates), max(rates))


def test_no_burst_above_one_batch_after_idle():
    time = VirtualTime()
    bucket = TokenBucket(1000, burst=100, clock=time.clock, sleep=time.sleep)

    async def main() -> list[float]:
        await time.sleep(60)  # a long idle spell must not bank tokens
        stamps = []
        for _ in range(5):
            await bucket.acquire(100)
            stamps.append(time.now)
        return stamps

    stamps = event_loop.run(main())
    assert stamps[0] == 60  # one batch at once
    assert [round(b - a, 6) for a, b in itertools.pairwise(stamps)] == [0.1] * 4


def test_batches_per_second_and_bytes_per_second_limits():
    time = VirtualTime()
    throttle = Throttle(
        rows_per_s=None,
        batches_per_s=20,
        bytes_per_s=2_000_000,
        batch_rows=10,
        clock=time.clock,
        sleep=time.sleep,
    )

    async def main() -> None:
        for _ in range(200):
            await throttle.admit(10, 50_000)

    event_loop.run(main())
    # 200 batches at 20/s = 10 s; 10 MB at 2 MB/s = 5 s: the batch limit binds
    assert 9.9 <= time.now <= 10.1


def _import_rate_limited(run_cli, write_file, rows: int, *args: str) -> dict[str, Any]:
    write_file("r.csv", "id\n" + "".join(f"{i}\n" for i in range(rows)))
    result = run_cli("import", "r.csv", "--batch-size", "250", *args, "--json", "-", "-q")
    assert result.code == 0, result.stderr
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def test_rate_end_to_end_against_sim(run_cli, write_file):
    summary = _import_rate_limited(
        run_cli, write_file, 30_000, "--to", "sim://?latency=2ms", "--rate", "10000", "-c", "16"
    )
    # one batch may go at once, the other 119 wait their turn: 2.975 s at exactly 10k rows/s.
    # Never faster than the rate; the upper bound only catches a limiter far too strict
    # (generous: the 2-core test machine is shared; 6.08 s was seen at load 17).
    assert 2.8 <= summary["elapsed_s"] <= 7.5, summary["elapsed_s"]
    service, from_due = summary["latency_ms"], summary["latency_from_due_ms"]
    assert from_due is not None and set(from_due) == set(service)
    for key in ("p50", "p90", "p99", "max"):
        # a write's latency from its due time includes its service time
        assert from_due[key] >= service[key], (key, service, from_due)
    # Today a write is due when its writer reaches the limiter: 16 writers share 40
    # writes/s, so each waits ~15 intervals of 25 ms (375 ms) there, and that wait counts.
    # Coordinated omission: import's rate limit is a cap on a closed pipeline, and its


# latency_from_due includes only the wait for the limit (documented in the README).
# Latency under a fixed arrival rate, stalls included, is bench's open model:
# tests/bench/test_sweep.py::test_the_open_model_shows_a_stall_that_service_time_hides


def test_a_sleep_that_ends_early_does_not_let_a_send_go_early():
    # uvloop rounds timers to the millisecond: a sleep may end before it was asked to
    time = VirtualTime()

    async def early_sleep(seconds: float) -> None:
        time.now += max(seconds, 0.0) * 0.7
        await asyncio.sleep(0)

    bucket = TokenBucket(1000.0, burst=100.0, clock=time.clock, sleep=early_sleep)
    sent_at: list[float] = []

    async def main() -> None:
        for _ in range(20):
            await bucket.acquire(100.0)
            sent_at.append(time.now)

    event_loop.run(main())
    # the first goes at once (a full bucket), then one every 100 tokens / 1000 per s
    for k, at in enumerate(sent_at):
        assert at >= k * 0.1 - 1e-9, (k, at)
