"""One operation's share of a level (a named query, or the writes): its counts and
latency histogram, mergeable like the level's own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bulkload.stats.histogram import LatencyHistogram


@dataclass
class OperationResult:
    name: str
    kind: str = "query"  # query | write
    count: int = 0  # completed (a query answered; a batch written)
    rows: int = 0  # rows returned (query) or written (write)
    errors: int = 0
    #: from when each operation started (closed model) or was due (open)
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)

    def merge(self, other: OperationResult) -> None:
        self.count += other.count
        self.rows += other.rows
        self.errors += other.errors
        self.latency.merge(other.latency)

    def to_dict(self, elapsed_s: float) -> dict[str, Any]:
        per_s = (lambda n: round(n / elapsed_s, 1)) if elapsed_s > 0 else (lambda n: 0.0)
        return {
            "kind": self.kind,
            "count": self.count,
            "per_s": per_s(self.count),
            "rows": self.rows,
            "rows_per_s": per_s(self.rows),
            "errors": self.errors,
            "latency_ms": self.latency.summary_ms(),
            "latency_hdr": self.latency.encode() if self.latency.count else None,
        }

    @classmethod
    def from_dict(cls, name: str, data: dict[str, Any]) -> OperationResult:
        hdr = data.get("latency_hdr")
        return cls(
            name=name,
            kind=data.get("kind", "query"),
            count=int(data["count"]),
            rows=int(data["rows"]),
            errors=int(data["errors"]),
            latency=LatencyHistogram.decode(hdr) if hdr else LatencyHistogram(),
        )
