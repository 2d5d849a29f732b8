"""The machine-readable run summary (``--json``)."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from bulkload.errors import UsageError
from bulkload.redact import redact_url
from bulkload.stats.run import RunStats

SCHEMA_VERSION = 1


def summary_dict(stats: RunStats, *, now: float | None = None) -> dict[str, Any]:
    elapsed = stats.elapsed(now if now is not None else time.perf_counter())
    return {
        "schema_version": SCHEMA_VERSION,
        "outcome": stats.outcome,
        "target": redact_url(stats.target),
        "table": stats.table,
        "rows_read": stats.rows_read,
        "rows_loaded": stats.rows_loaded,
        "rows_rejected": stats.rows_rejected,
        "rows_unfinished": stats.rows_pending,
        "rows_skipped": stats.rows_skipped,
        "batches": stats.batches,
        "batches_failed": stats.batches_failed,
        "retries": stats.retries,
        "retry_causes": dict(stats.retry_causes),
        "breaker_opened": stats.breaker_opened,
        "bytes_read": stats.bytes_read,
        "elapsed_s": round(elapsed, 6),
        "rows_per_s": round(stats.rows_loaded / elapsed, 1) if elapsed > 0 else 0.0,
        "mb_per_s": round(stats.bytes_read / 1e6 / elapsed, 3) if elapsed > 0 else 0.0,
        "concurrency": stats.concurrency,
        "effective_concurrency": stats.effective_concurrency,
        "batch_size": stats.batch_size,
        "latency_ms": stats.latency.summary_ms(),
        "latency_samples": stats.latency.count,
        "latency_hdr": stats.latency.encode() if stats.latency.count else None,
        "latency_from_due_ms": (
            stats.latency_from_due.summary_ms() if stats.latency_from_due.count else None
        ),
        "bad_records": stats.bad_records_path if stats.rows_rejected else None,
        "rejections_sample": [
            {"source": r.source, "line": r.line, "reason": r.reason} for r in stats.first_rejections
        ],
    }


def write_json(stats: RunStats, path: str) -> None:
    """Write the summary to ``path``, or to stdout when path is '-'."""
    text = json.dumps(summary_dict(stats), indent=2) + "\n"
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise UsageError(f"--json: cannot write {path}: {exc.strerror}") from None
