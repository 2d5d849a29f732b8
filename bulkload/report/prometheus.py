"""``--metrics-addr``: the run's timeline served to Prometheus while it runs.

Each interval the timeline takes (1 s by default) is added to running totals, which
prometheus-client serves at ``http://ADDR/metrics`` from its own thread:

* ``bulkload_rows_total``, ``bulkload_operations_total``, ``bulkload_bytes_total``,
  ``bulkload_errors_total`` (failed attempts), ``bulkload_retries_total``: counters;
* ``bulkload_in_flight``: writes in flight at the last interval's end;
* ``bulkload_latency_seconds``: a histogram of the writes' latency (from each write's
  start, or due time in the open model), buckets from 1 ms to 60 s.

Every series is labelled ``run`` (this run's id), ``level`` (the interval's tag:
``import``, or a bench level) and ``operation`` (``write``; ``query`` for a read sweep,
``mixed`` for ``--mix``: a mixed level's series count its writes and queries together).
A run split among local processes (``--processes P``) is served by the parent, from the
intervals each process sends it as they close: the series add up the processes. The
event loop adds; a scrape reads a copy under a lock. At the end the server waits (up
to a few seconds) for one more scrape, so the run's last interval is scraped too, then
stops.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bulkload.errors import UsageError
from bulkload.stats.timeline import Interval, Timeline

BUCKETS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 60_000)
_COUNTERS = {
    "rows": "Rows loaded",
    "operations": "Operations (batch writes) that succeeded",
    "bytes": "Bytes of the batches loaded",
    "errors": "Failed attempts, retries included",
    "retries": "Retries",
}
_LAST_SCRAPE_WAIT_S = 5.0


@dataclass
class _Series:
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_COUNTERS, 0))
    #: writes in flight at the last interval's end, per process that sent it
    in_flight: dict[int, int] = field(default_factory=dict)
    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS_MS))
    count: int = 0
    total_s: float = 0.0


def parse_address(text: str, option: str = "--metrics-addr") -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"{option} takes HOST:PORT, e.g. 127.0.0.1:9464, not {text!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


class LiveMetrics:
    """A collector (prometheus-client's protocol) fed by a timeline's intervals."""

    def __init__(self, run: str, operation: str = "write"):
        self.run = run
        self.operation = operation
        self._lock = threading.Lock()
        self._series: dict[str, _Series] = {}
        self._scrapes = 0
        self._scraped = threading.Condition(self._lock)
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def watch(self, timeline: Timeline) -> None:
        timeline.listeners.append(self.add)

    def add(self, interval: Interval, source: int = 0) -> None:
        """Add ``interval`` to the totals of its tag; ``source`` is the process it came
        from (``--processes``: the gauge of writes in flight sums the processes' last)."""
        latency = interval.latency
        below = latency.counts_at_or_below(BUCKETS_MS)
        total_s = latency.mean_ms * latency.count / 1000
        with self._lock:
            series = self._series.setdefault(interval.tag, _Series())
            for name, value in (
                ("rows", interval.rows),
                ("operations", interval.batches),
                ("bytes", interval.bytes),
                ("errors", interval.errors),
                ("retries", interval.retries),
            ):
                series.counters[name] += value
            series.in_flight[source] = interval.in_flight
            series.buckets = [a + b for a, b in zip(series.buckets, below, strict=True)]
            series.count += latency.count
            series.total_s += total_s

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        labels = ["run", "level", "operation"]
        with self._lock:
            series = {tag: _copy(s) for tag, s in self._series.items()}
            self._scrapes += 1
            self._scraped.notify_all()
        counters = {
            name: CounterMetricFamily(f"bulkload_{name}", help_, labels=labels)
            for name, help_ in _COUNTERS.items()
        }
        in_flight = GaugeMetricFamily("bulkload_in_flight", "Writes in flight", labels=labels)
        latency = HistogramMetricFamily(
            "bulkload_latency_seconds", "Latency of the writes", labels=labels
        )
        for tag, values in series.items():
            names = [self.run, tag, self.operation]
            for name, family in counters.items():
                family.add_metric(names, values.counters[name])
            in_flight.add_metric(names, sum(values.in_flight.values()))
            buckets = [
                (f"{b / 1000:g}", c) for b, c in zip(BUCKETS_MS, values.buckets, strict=True)
            ]
            buckets.append(("+Inf", values.count))
            latency.add_metric(names, buckets, values.total_s)
        yield from counters.values()
        yield in_flight
        yield latency

    # ------------------------------------------------------------------ serving

    def serve(self, address: str) -> None:
        """Start serving ``/metrics`` on ``address`` (HOST:PORT). Raises UsageError when
        prometheus-client is missing or the port cannot be bound."""
        try:
            from prometheus_client import CollectorRegistry, start_http_server
        except ImportError:
            raise UsageError(
                "--metrics-addr needs prometheus-client: pip install 'bulkload[metrics]'"
            ) from None
        host, port = parse_address(address)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self)
        try:
            self._server, self._thread = start_http_server(port, host, registry=registry)
        except OSError as exc:
            raise UsageError(f"--metrics-addr {address}: {exc.strerror or exc}") from None

    def close(self) -> None:
        """Wait for one scrape of the final figures (if anything scrapes), then stop."""
        if self._server is None:
            return
        with self._lock:
            if self._scrapes:
                seen = self._scrapes
                deadline = time.monotonic() + _LAST_SCRAPE_WAIT_S
                while self._scrapes == seen and (left := deadline - time.monotonic()) > 0:
                    self._scraped.wait(left)
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None


def _copy(series: _Series) -> _Series:
    return _Series(
        dict(series.counters),
        dict(series.in_flight),
        list(series.buckets),
        series.count,
        series.total_s,
    )
