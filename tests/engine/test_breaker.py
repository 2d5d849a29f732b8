from __future__ import annotations

import asyncio
import json

from bulkload import event_loop
from bulkload.engine.breaker import BreakerState, CircuitBreaker
from tests.engine.test_rate import VirtualTime


def test_opens_after_k_failures_then_probes_half_open():
    time = VirtualTime()
    breaker = CircuitBreaker(threshold=3, cooldown=5.0, clock=time.clock, sleep=time.sleep)

    async def main() -> None:
        for _ in range(3):
            assert await breaker.before_write() is False
            breaker.record(False, probe=False)
        assert breaker.state is BreakerState.OPEN and breaker.opened_count == 1
        # the next writer waits out the cool-down, then goes as the probe
        probe = await breaker.before_write()
        assert probe is True and time.now == 5.0 and breaker.state is BreakerState.HALF_OPEN
        breaker.record(False, probe=True)  # probe fails: open again
        assert breaker.state is BreakerState.OPEN and breaker.opened_count == 2
        probe = await breaker.before_write()
        assert probe and time.now == 10.0
        breaker.record(True, probe=True)
        assert breaker.state is BreakerState.CLOSED
        assert await breaker.before_write() is False

    event_loop.run(main())


def test_only_one_probe_in_half_open():
    time = VirtualTime()
    breaker = CircuitBreaker(threshold=1, cooldown=1.0, clock=time.clock, sleep=time.sleep)
    order: list[str] = []

    async def writer(name: str) -> None:
        probe = await breaker.before_write()
        order.append(f"{name}:{'probe' if probe else 'go'}")
        await asyncio.sleep(0)
        breaker.record(True, probe)

    async def main() -> None:
        breaker.record(False, probe=False)
        await asyncio.gather(writer("a"), writer("b"), writer("c"))

    event_loop.run(main())
    assert order[0].endswith(":probe") and sum(o.endswith(":probe") for o in order) == 1


def test_breaker_end_to_end_with_a_failing_sim(run_cli, write_file):
    write_file("r.csv", "id\n" + "".join(f"{i}\n" for i in range(2000)))
    result = run_cli(
        "import",
        "r.csv",
        "--to",
        "sim://?latency=1ms&error_rate=0.5&seed=3",
        "--batch-size",
        "100",
        "-c",
        "4",
        "--retries",
        "40",
        "--retry-max-wait",
        "0.01",
        "--breaker-threshold",
        "2",
        "--breaker-cooldown",
        "0.02",
        "--json",
        "-",
        "-q",
    )
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["rows_loaded"] == 2000
    assert summary["breaker_opened"] > 0 and summary["retries"] > 0
