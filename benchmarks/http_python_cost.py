"""bulkload's own CPU per 1-row HTTP request, without the kernel: the bench driver, the
engine's writer, the HTTP backend and the h1 client's protocol and parser, over a socket
stand-in that answers every request at once with nginx's 204.

    python benchmarks/http_python_cost.py [--levels 7] [--seconds 1] [--in-flight 50]

A request through loopback TCP costs the kernel as much again (send, receive, wake-ups:
wrk pays those too), and on a shared machine that part swings with the neighbours; this
part is what bulkload's own code decides. Each level is a closed-model level of
``--in-flight`` writes (0.2 s warm-up, then the window); printed: CPU µs per request of
each window (its process CPU over its requests), their minimum and median. Compare
two checkouts by running the script with each on PYTHONPATH, in turn.

``--layers`` also measures each layer a bench write goes through, ``--in-flight`` loops
awaiting it (one more coroutine of their own), so the difference between two lines is
what a layer adds: the h1 connection alone (a future per request, the answer parsed),
``H1Transport.send`` (the pool, the request's bytes), ``HttpBackend.write`` (the status),
``BatchWriter.write_with_retries`` (timeout, breaker, latencies) and the bench driver
(the level's window, the in-flight gauge, the counts).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_throughput import start_nginx

from bulkload import event_loop
from bulkload.backends.base import TableSpec
from bulkload.backends.http import HttpBackend, h1
from bulkload.bench.driver import LevelDriver, LevelPlan
from bulkload.bench.pool import build_pool
from bulkload.config import EngineOptions, TargetOptions
from bulkload.engine.batch_writer import BatchWriter
from bulkload.stats import RunStats

ANSWER = (
    b"HTTP/1.1 204 No Content\r\nServer: nginx/1.22.1\r\n"
    b"Date: Mon, 07 Dec 2026 17:44:00 GMT\r\nConnection: keep-alive\r\n\r\n"
)


class _AnsweringSocket(asyncio.Transport):
    """Takes a request and has nginx's answer arrive on the loop's next turn."""

    def __init__(self, protocol: asyncio.Protocol, loop: asyncio.AbstractEventLoop):
        super().__init__()
        self._protocol = protocol
        self._loop = loop

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._loop.call_soon(self._protocol.data_received, ANSWER)

    def writelines(self, items: object) -> None:
        self.write(b"")

    def close(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False


async def _connect(self: h1.H1Transport) -> h1._Connection:
    connection = h1._Connection()
    connection.connection_made(_AnsweringSocket(connection, asyncio.get_running_loop()))
    return connection


async def measure(url: str, levels: int, seconds: float, in_flight: int) -> list[float]:
    h1.H1Transport._connect = _connect  # type: ignore[method-assign]
    batch = pa.record_batch(
        {"id": [1], "event": ["page_view"], "user": ["user-00000001"], "payload": ["x" * 120]}
    )
    backend = HttpBackend(url, TargetOptions())
    await backend.open(TableSpec("bench", batch.schema, writers=in_flight))  # checks url
    pool = build_pool([batch] * (2 * in_flight), backend)
    per_request = []
    try:
        for _ in range(levels):
            writer = BatchWriter(backend, EngineOptions(concurrency=in_flight), RunStats())
            plan = LevelPlan(concurrency=in_flight, batch_size=1, warmup_s=0.2, duration_s=seconds)
            level = await LevelDriver(writer, pool, plan).run()
            await writer.aclose()
            per_request.append(1e6 * level.cpu_process * level.elapsed_s / level.batches)
    finally:
        await backend.close()
    return per_request


async def _loops(in_flight: int, seconds: float, make: Callable[[int], Callable[[], Any]]) -> float:
    """CPU µs per call of ``in_flight`` loops, each awaiting its ``make(i)()`` in turn."""
    stop = False
    calls = 0

    async def loop(i: int) -> None:
        nonlocal calls
        call = make(i)
        while not stop:
            await call()
            calls += 1

    tasks = [asyncio.create_task(loop(i)) for i in range(in_flight)]
    await asyncio.sleep(0.2)
    cpu, done = time.process_time(), calls
    await asyncio.sleep(seconds)
    cpu, done = time.process_time() - cpu, calls - done
    stop = True
    await asyncio.gather(*tasks)
    return 1e6 * cpu / done


async def layers(url: str, rounds: int, seconds: float, in_flight: int) -> dict[str, list[float]]:
    """CPU µs per request through each layer of a bench write (see the module's doc)."""
    h1.H1Transport._connect = _connect  # type: ignore[method-assign]
    batch = pa.record_batch(
        {"id": [1], "event": ["page_view"], "user": ["user-00000001"], "payload": ["x" * 120]}
    )
    backend = HttpBackend(url, TargetOptions())
    await backend.open(TableSpec("bench", batch.schema, writers=in_flight))
    pool = build_pool([batch] * (2 * in_flight), backend)
    payload = pool.batches[0].payload
    transport = backend._transport
    assert isinstance(transport, h1.H1Transport)
    headers = backend._request_headers
    wire = b"POST / HTTP/1.1\r\n\r\n" + payload.body
    connections = [await _connect(transport) for _ in range(in_flight)]
    loop = asyncio.get_running_loop()

    def protocol(i: int) -> Callable[[], Any]:
        connection = connections[i]

        def request() -> asyncio.Future[Any]:
            answer = loop.create_future()
            connection.request(wire, b"", answer)
            return answer

        return request

    figures: dict[str, list[float]] = {}
    try:
        for _ in range(rounds):
            writer = BatchWriter(backend, EngineOptions(concurrency=in_flight), RunStats())

            def write(_: int, writer: BatchWriter = writer) -> Callable[[], Any]:
                return lambda: writer.write_with_retries(payload, batch, None, due=0.0)

            steps: list[tuple[str, Callable[[int], Callable[[], Any]]]] = [
                ("h1 connection, a future per request", protocol),
                (
                    "+ H1Transport.send",
                    lambda _: (
                        lambda: transport.send("POST", backend._write_url, payload.body, headers)
                    ),
                ),
                ("+ HttpBackend.write", lambda _: lambda: backend.write(payload)),
                ("+ BatchWriter.write_with_retries", write),
            ]
            for name, make in steps:
                figures.setdefault(name, []).append(await _loops(in_flight, seconds, make))
            await writer.aclose()
            writer = BatchWriter(backend, EngineOptions(concurrency=in_flight), RunStats())
            plan = LevelPlan(concurrency=in_flight, batch_size=1, warmup_s=0.2, duration_s=seconds)
            level = await LevelDriver(writer, pool, plan).run()
            await writer.aclose()
            per = 1e6 * level.cpu_process * level.elapsed_s / level.batches
            figures.setdefault("+ the bench driver (a level)", []).append(per)
    finally:
        await backend.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument("--layers", action="store_true", help="also measure layer by layer")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bulkload-nginx-") as tmp:
        nginx, port = start_nginx(Path(tmp))  # only for open()'s reachability check
        try:
            url = f"http://127.0.0.1:{port}/"
            values = event_loop.run(measure(url, args.levels, args.seconds, args.in_flight))
            by_layer = {}
            if args.layers:
                by_layer = event_loop.run(layers(url, 3, args.seconds, args.in_flight))
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)
    print(f"loop: {event_loop.loop_name()}, {args.in_flight} in flight, 1-row requests")
    print("CPU us per request, each level: " + " ".join(f"{v:.2f}" for v in values))
    print(f"min {min(values):.2f}  median {statistics.median(values):.2f}")
    if by_layer:
        print("CPU us per request, layer by layer (min of 3 rounds; each round in turn):")
        for name, figures in by_layer.items():
            print(f"  {name:<40}{min(figures):6.2f}")


if __name__ == "__main__":
    main()
