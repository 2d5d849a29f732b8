"""How far a run is and how long it has left: plain data for the progress views."""

from __future__ import annotations

from dataclasses import dataclass

from bulkload.stats.run import RunStats

#: no ETA before this much of the run: the rate of its first moments (opening the
#: target, the first batches in flight) says little about the rest
ETA_AFTER_S = 2.0


@dataclass(frozen=True, slots=True)
class Estimate:
    """How far a run is, in rows."""

    rows_total: float  # rows the input holds: counted once all is read, else estimated
    rows_done: int  # rows loaded, rejected, or skipped by --resume
    eta_s: float | None  # seconds left at the rate so far; None until it means something


def estimate(stats: RunStats, now: float) -> Estimate | None:
    """Rows done against rows known. Rows (and their bytes) are counted as read when
    their write starts, and rows wait in the queue and in flight: neither says what is
    done. The total is counted once every input is read; before that it is
    estimated from the rows read per source byte and the inputs' size (None when a
    size is unknown: stdin). The ETA is the rows left at the rate rows were handled
    (loaded or rejected: a run rejecting every row still advances)."""
    done = stats.rows_loaded + stats.rows_rejected + stats.rows_skipped
    total: float
    if stats.rows_total is not None:
        total = stats.rows_total
    elif stats.bytes_total and stats.bytes_read > 0 and stats.rows_read > 0:
        per_byte = stats.rows_read / stats.bytes_read  # bytes_read: those rows' bytes
        total = max(per_byte * stats.bytes_total, stats.rows_read + stats.rows_skipped)
    else:
        return None
    handled = stats.rows_loaded + stats.rows_rejected
    elapsed = stats.elapsed(now)
    eta = None
    if handled > 0 and elapsed >= ETA_AFTER_S:
        eta = max(total - done, 0.0) * elapsed / handled
    return Estimate(total, done, eta)


def clock(seconds: float) -> str:
    """0:01:05: hours, minutes, seconds."""
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
