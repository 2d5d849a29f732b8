"""The rate cap: within ±5% over any 10-second window once warm.

Checked on virtual time (an injected clock and sleep) so the test is exact and fast, and
once end to end on real time against the sim backend."""

from __future__ import annotations

import asyncio
import itertools
import json

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

    asyncio.run(main())
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

    stamps = asyncio.run(main())
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

    asyncio.run(main())
    # 200 batches at 20/s = 10 s; 10 MB at 2 MB/s = 5 s: the batch limit binds
    assert 9.9 <= time.now <= 10.1


def test_rate_end_to_end_against_sim(run_cli, write_file):
    rows = 30_000
    write_file("r.csv", "id\n" + "".join(f"{i}\n" for i in range(rows)))
    result = run_cli(
        "import",
        "r.csv",
        "--to",
        "sim://?latency=2ms",
        "--rate",
        "10000",
        "--batch-size",
        "250",
        "-c",
        "16",
        "--json",
        "-",
        "-q",
    )
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    # one batch may go at once, the other 119 wait their turn: 2.975 s at exactly 10k rows/s
    assert 2.8 <= summary["elapsed_s"] <= 3.3, summary["elapsed_s"]
    assert summary["latency_from_due_ms"] is not None
