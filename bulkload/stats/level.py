"""One measured level of a sweep: its counters, histograms and figures, mergeable.

A level's measured window is a :class:`RunStats` the driver wrote into (warm-up and the
writes finishing after the window went to other ones); :meth:`LevelResult.from_window`
turns it into this saved form. Rates are computed here, once, from the counters and the
window's length; latencies stay HDR histograms (encoded in JSON), so shards of a level
merge exactly (histograms added, counters summed, throughput over the union of their
wall-clock windows) and percentiles are never averaged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from bulkload.stats.histogram import LatencyHistogram
from bulkload.stats.operation import OperationResult
from bulkload.stats.outcome import Outcome, OutcomeField
from bulkload.stats.run import RunStats


@dataclass
class LevelResult:
    """A level: ``concurrency`` writes in flight (closed model), or ``rate`` batch
    writes per second with ``concurrency`` as the in-flight cap (open model)."""

    concurrency: int
    batch_size: int
    rate: float | None = None
    outcome: OutcomeField = OutcomeField(Outcome.COMPLETED)  # completed | failed | interrupted
    error: str | None = None
    #: the measured window, wall clock (epoch seconds), and its length
    started_at: float = 0.0
    finished_at: float = 0.0
    elapsed_s: float = 0.0
    rows: int = 0  # loaded in the window
    batches: int = 0
    bytes: int = 0  # Arrow bytes of the batches loaded
    rows_rejected: int = 0
    batches_failed: int = 0  # refused, or failed after every retry
    write_errors: int = 0  # failed attempts, retries included
    retries: int = 0
    timeouts: int = 0
    #: open model: sends that waited for a free slot, and sends due but never started
    sends_delayed: int = 0
    sends_missed: int = 0
    in_flight_mean: float = 0.0
    in_flight_max: int = 0
    #: share of one core used by bulkload's event loop / by its whole process
    cpu_loop: float = 0.0
    cpu_process: float = 0.0
    #: rows the target took during the whole level (warm-up and drain included)
    rows_written: int = 0
    #: from when each write started (closed model) or was due (open), retries included
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    #: each successful attempt's own time at the target
    service_time: LatencyHistogram = field(default_factory=LatencyHistogram)
    latency_errors: LatencyHistogram = field(default_factory=LatencyHistogram)
    #: what the level ran: write (batches) or query (then ``batches`` counts the queries
    #: answered and ``rows`` the rows they returned)
    kind: str = "write"
    #: per named operation (queries): its counts and latency; empty for a write sweep
    operations: dict[str, OperationResult] = field(default_factory=dict)

    # ------------------------------------------------------------------ building

    @classmethod
    def from_window(
        cls,
        window: RunStats,
        *,
        concurrency: int,
        batch_size: int,
        rate: float | None,
        elapsed_s: float,
        wall: tuple[float, float],
    ) -> LevelResult:
        return cls(
            concurrency=concurrency,
            batch_size=batch_size,
            rate=rate,
            started_at=wall[0],
            finished_at=wall[1],
            elapsed_s=elapsed_s,
            rows=window.rows_loaded,
            batches=window.batches,
            bytes=window.bytes_read,
            rows_rejected=window.rows_rejected,
            batches_failed=window.batches_failed,
            write_errors=window.write_errors,
            retries=window.retries,
            timeouts=window.timeouts,
            latency=window.latency_from_due,  # from the start (closed) or due time (open)
            service_time=window.latency,
            latency_errors=window.latency_errors,
        )

    @classmethod
    def merge(cls, shards: Sequence[LevelResult]) -> LevelResult:
        """One level run as shards (side by side or one after another) as if by one
        process: histograms added, counters summed, throughput over the union of the
        shards' wall-clock windows, writes in flight (mean and max) summed."""
        if not shards:
            raise ValueError("nothing to merge")
        first = shards[0]
        rates = [shard.rate for shard in shards if shard.rate is not None]
        merged = cls(
            concurrency=sum(shard.concurrency for shard in shards),
            batch_size=first.batch_size,
            rate=sum(rates) if rates else None,
            outcome=max((shard.outcome for shard in shards), key=_OUTCOME_ORDER.index),
            error=next((shard.error for shard in shards if shard.error), None),
            started_at=min(shard.started_at for shard in shards),
            finished_at=max(shard.finished_at for shard in shards),
            elapsed_s=_union_length([(s.started_at, s.finished_at) for s in shards]),
            in_flight_mean=sum(shard.in_flight_mean for shard in shards),
            in_flight_max=sum(shard.in_flight_max for shard in shards),
            # each shard's own event loop: the busiest says whether a tool was the limit
            cpu_loop=max(shard.cpu_loop for shard in shards),
            cpu_process=max(shard.cpu_process for shard in shards),
            kind=first.kind,
        )
        for shard in shards:
            for name, operation in shard.operations.items():
                mine = merged.operations.setdefault(name, OperationResult(name, operation.kind))
                mine.merge(operation)
        for name in _SUMMED:
            setattr(merged, name, sum(getattr(shard, name) for shard in shards))
        for name in _HISTOGRAM_KEYS:
            histogram: LatencyHistogram = getattr(merged, name)
            for shard in shards:
                histogram.merge(getattr(shard, name))
        return merged

    # ------------------------------------------------------------------ figures

    def _per_s(self, count: float) -> float:
        return count / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def rows_per_s(self) -> float:
        return self._per_s(self.rows)

    @property
    def batches_per_s(self) -> float:
        return self._per_s(self.batches)

    @property
    def mb_per_s(self) -> float:
        return self._per_s(self.bytes / 1e6)

    @property
    def error_rate(self) -> float:
        """Share of write attempts in the window that failed (each retry is one): a
        target refusing everything shows 1.0 even while its writes are still retried."""
        attempts = self.batches + self.write_errors
        return self.write_errors / attempts if attempts else 0.0

    def metrics(self) -> dict[str, float]:
        """What thresholds and SLOs are checked against (latencies in ms)."""
        latency = self.latency.summary_ms()
        return {
            **latency,
            "rows_per_s": self.rows_per_s,
            "batches_per_s": self.batches_per_s,
            "mb_per_s": self.mb_per_s,
            "error_rate": self.error_rate,
            "retries": float(self.retries),
            "errors": float(self.write_errors),
            "queries_per_s": self.batches_per_s if self.kind == "query" else 0.0,
            **self._operation_metrics(),
        }

    def _operation_metrics(self) -> dict[str, float]:
        """``NAME.METRIC`` for each named operation (``lookup.p99``, ``lookup.per_s``)."""
        out: dict[str, float] = {}
        for name, operation in self.operations.items():
            attempts = operation.count + operation.errors
            out.update({f"{name}.{k}": v for k, v in operation.latency.summary_ms().items()})
            out[f"{name}.per_s"] = self._per_s(operation.count)
            out[f"{name}.rows_per_s"] = self._per_s(operation.rows)
            out[f"{name}.errors"] = float(operation.errors)
            out[f"{name}.error_rate"] = operation.errors / attempts if attempts else 0.0
        return out

    # ------------------------------------------------------------------ saving

    def to_dict(self) -> dict[str, Any]:
        return {
            "concurrency": self.concurrency,
            "batch_size": self.batch_size,
            "rate": self.rate,
            "outcome": self.outcome,
            "error": self.error,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "elapsed_s": self.elapsed_s,
            "rows": self.rows,
            "batches": self.batches,
            "bytes": self.bytes,
            "rows_per_s": round(self.rows_per_s, 1),
            "batches_per_s": round(self.batches_per_s, 2),
            "mb_per_s": round(self.mb_per_s, 3),
            "rows_rejected": self.rows_rejected,
            "batches_failed": self.batches_failed,
            "error_rate": round(self.error_rate, 6),
            "errors": self.write_errors,
            "retries": self.retries,
            "timeouts": self.timeouts,
            "sends_delayed": self.sends_delayed,
            "sends_missed": self.sends_missed,
            "in_flight_mean": self.in_flight_mean,
            "in_flight_max": self.in_flight_max,
            "cpu_loop": self.cpu_loop,
            "cpu_process": self.cpu_process,
            "rows_written": self.rows_written,
            "latency_ms": self.latency.summary_ms(),
            "service_time_ms": self.service_time.summary_ms(),
            "error_latency_ms": self.latency_errors.summary_ms(),
            "latency_hdr": _encoded(self.latency),
            "service_time_hdr": _encoded(self.service_time),
            "error_latency_hdr": _encoded(self.latency_errors),
            "kind": self.kind,
            "operations": {
                name: operation.to_dict(self.elapsed_s)
                for name, operation in self.operations.items()
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LevelResult:
        """The inverse of :meth:`to_dict` (derived figures are recomputed)."""
        counters = {
            f.name: data[f.name]
            for f in fields(cls)
            if f.name not in _HISTOGRAM_KEYS
            and f.name not in ("write_errors", "operations")
            and f.name in data
        }
        operations = {
            name: OperationResult.from_dict(name, body)
            for name, body in (data.get("operations") or {}).items()
        }
        histograms: dict[str, Any] = {
            name: _decoded(data.get(key)) for name, key in _HISTOGRAM_KEYS.items()
        }
        return cls(**counters, **histograms, write_errors=data["errors"], operations=operations)


#: counters that add up across shards
_SUMMED = (
    "rows",
    "batches",
    "bytes",
    "rows_rejected",
    "batches_failed",
    "write_errors",
    "retries",
    "timeouts",
    "sends_delayed",
    "sends_missed",
    "rows_written",
)
#: a merged level's outcome is its shards' worst
_OUTCOME_ORDER = ("completed", "interrupted", "failed")


def _union_length(windows: list[tuple[float, float]]) -> float:
    """Seconds covered by at least one of the windows (overlaps counted once)."""
    covered = 0.0
    end = float("-inf")
    for start, finish in sorted(windows):
        start = max(start, end)
        if finish > start:
            covered += finish - start
            end = finish
    return covered


#: histogram attribute -> its key in the JSON (encoded HDR)
_HISTOGRAM_KEYS = {
    "latency": "latency_hdr",
    "service_time": "service_time_hdr",
    "latency_errors": "error_latency_hdr",
}


def _encoded(histogram: LatencyHistogram) -> str | None:
    return histogram.encode() if histogram.count else None


def _decoded(text: str | None) -> LatencyHistogram:
    return LatencyHistogram.decode(text) if text else LatencyHistogram()
