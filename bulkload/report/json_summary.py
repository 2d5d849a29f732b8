"""The machine-readable run summary (``--json``)."""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from pathlib import Path
from typing import Any

from bulkload.errors import UsageError
from bulkload.redact import redact_url
from bulkload.stats.run import RunStats

SCHEMA_VERSION = 1


KIND = "bulkload-import"


def summary_dict(
    stats: RunStats,
    *,
    now: float | None = None,
    error: str | None = None,
    command: list[str] | None = None,
) -> dict[str, Any]:
    """The summary; ``error`` is the one-line message of the error that ended the run,
    ``command`` the command line (secrets removed) when the CLI ran it."""
    from bulkload.version import __version__

    elapsed = stats.elapsed(now if now is not None else time.perf_counter())
    summary = {
        "kind": KIND,
        "schema_version": SCHEMA_VERSION,
        "version": __version__,
        "command": command or [],
        "outcome": stats.outcome,
        "error": error,
        "target": redact_url(stats.target),
        "table": stats.table,
        "rows_read": stats.rows_read,
        "rows_loaded": stats.rows_loaded,
        "rows_rejected": stats.rows_rejected,
        "rows_unfinished": stats.rows_pending,
        "rows_in_doubt": stats.rows_in_doubt,
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
        "in_flight_max": stats.in_flight_max,
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
    summary["timeline"] = None if stats.timeline is None else stats.timeline.to_dict()
    if stats.processes is not None:  # import --processes P
        summary["processes"] = stats.processes
    return summary


def check_json_path(path: str, option: str = "--json") -> None:
    """Fail before the run, not after it, when the file could not be written there."""
    target = Path(os.path.realpath(path))
    if path == "-" or _is_special(target):
        return
    if target.is_dir():
        raise UsageError(f"{option}: {path} is a directory")
    probe = _temporary_name(target)
    try:
        probe.open("x").close()
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"{option}: cannot write {path}: {exc.strerror}") from None


def write_json(stats: RunStats, path: str, *, error: str | None = None) -> None:
    """Write the run's summary to ``path``, or to stdout when path is '-'."""
    write_document(summary_dict(stats, error=error), path)


def write_document(document: dict[str, Any], path: str) -> None:
    """Write a JSON document to ``path``, or to stdout when path is '-'.

    A file is replaced atomically (written beside it, then renamed over it): a full
    disk leaves the previous file or none, never a truncated one. Raises OSError.
    """
    write_text(json.dumps(document, indent=2) + "\n", path)


def write_text(text: str, path: str) -> None:
    """Write ``text`` to ``path`` (atomically, as :func:`write_document` says), or to
    stdout when path is '-'. Raises OSError."""
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    target = Path(os.path.realpath(path))  # through a symlink: replace what it points to
    if _is_special(target):  # /dev/stdout, a named pipe: nothing to replace
        with target.open("w", encoding="utf-8") as fh:
            fh.write(text)
        return
    temporary = _temporary_name(target)
    try:
        with temporary.open("x", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _temporary_name(target: Path) -> Path:
    # Same directory, so the rename is atomic; hidden, and unique to this process.
    return target.with_name(f".{target.name}.{os.getpid()}.tmp")


def _is_special(path: Path) -> bool:
    """An existing file that is not a regular one (device, pipe): written in place."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)
