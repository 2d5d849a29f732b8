"""Counters of one run. Updated by the engine on the event loop; read by reporters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bulkload.stats.histogram import LatencyHistogram
from bulkload.stats.outcome import Outcome, OutcomeField
from bulkload.stats.timeline import Timeline

if TYPE_CHECKING:  # stats sits beside sources, not above them (and needs no pyarrow)
    from bulkload.sources.batch import Rejection

_KEPT_REJECTIONS = 20

#: The counters that add up across the workers of one run (the children of ``import
#: --processes``, the Dask tasks of ``--cluster``): what a worker publishes and its
#: parent sums. The rows come first: the five a summary shows per worker.
SUMMED_COUNTERS = (
    "rows_read",
    "rows_loaded",
    "rows_rejected",
    "rows_skipped",
    "batches",
    "batches_failed",
    "retries",
    "bytes_read",
    "write_errors",
    "timeouts",
    "in_flight",
    "breaker_opened",
    "rows_in_doubt",
)
PER_WORKER_COUNTERS = SUMMED_COUNTERS[:5]
_MERGED_HISTOGRAMS = ("latency", "latency_errors", "latency_from_due")


@dataclass
class RunStats:
    target: str = ""
    table: str = ""
    concurrency: int = 0
    effective_concurrency: int = 0
    batch_size: int = 0
    bytes_total: int | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    batches: int = 0
    batches_failed: int = 0
    retries: int = 0
    rows_skipped: int = 0  # committed by a previous run, passed over by --resume
    #: rows the target may hold beyond rows_loaded: writes that got no answer after they
    #: were sent and were given up or cut (not counted as read: a resume sends them
    #: again), or were sent again where the target cannot tell a retry (a PostgreSQL
    #: COMMIT unanswered, without --checkpoint): loaded, and maybe there twice
    rows_in_doubt: int = 0
    breaker_state: str = "closed"
    breaker_opened: int = 0
    #: retries by cause (the error's one-line message, shortened)
    retry_causes: dict[str, int] = field(default_factory=dict)
    #: source bytes of the rows counted in rows_read (not of rows read ahead, or skipped)
    bytes_read: int = 0
    #: rows the input holds (loaded, rejected or skipped), once every input is read
    rows_total: int | None = None
    in_flight: int = 0
    #: the most writes that were really in flight at once (writers start on demand, so
    #: a target that answers at once is served by fewer than --concurrency)
    in_flight_max: int = 0
    #: the most in flight since the timeline last looked (reset at each interval)
    in_flight_peak: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    #: service time of the writes that succeeded (attempt start to end)
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    #: service time of the attempts that failed (kept apart: a fast refusal is no success)
    latency_errors: LatencyHistogram = field(default_factory=LatencyHistogram)
    #: successful writes measured from when each was due (a rate limit's admission, or
    #: bench's open-model schedule), so a stall is not hidden (coordinated omission)
    latency_from_due: LatencyHistogram = field(default_factory=LatencyHistogram)
    #: attempts that failed (each retry counts), and of those the timeouts
    write_errors: int = 0
    timeouts: int = 0
    #: the first rejections, for the summary (all of them go to the bad-records sink)
    first_rejections: list[Rejection] = field(default_factory=list)
    bad_records_path: str | None = None
    outcome: OutcomeField = OutcomeField(Outcome.RUNNING)  # an Outcome (a str)
    #: import --processes P: each worker process's index, pid, exit code and counters
    processes: list[dict[str, Any]] | None = None
    #: the run over time (None: not kept)
    timeline: Timeline | None = None

    def reject(self, rejection: Rejection) -> None:
        self.rows_rejected += 1
        if len(self.first_rejections) < _KEPT_REJECTIONS:
            self.first_rejections.append(rejection)

    def summed_counters(self) -> dict[str, int]:
        """The counters a worker publishes while it runs (``SUMMED_COUNTERS``)."""
        return {counter: getattr(self, counter) for counter in SUMMED_COUNTERS}

    def worker_result(self) -> dict[str, Any]:
        """What a worker hands its parent at its end, for :meth:`add_worker`: the summed
        counters, the encoded histograms, the retry causes, its in-flight peak."""
        return {
            **self.summed_counters(),
            "in_flight_max": self.in_flight_max,
            "retry_causes": dict(self.retry_causes),
            **{name: getattr(self, name).encode() for name in _MERGED_HISTOGRAMS},
            "timeline": None if self.timeline is None else self.timeline.to_dict(),
        }

    def add_worker(self, result: dict[str, Any]) -> None:
        """Add one worker's :meth:`worker_result` (or the counters it last published)."""
        for name in _MERGED_HISTOGRAMS:
            if result.get(name):
                getattr(self, name).merge(LatencyHistogram.decode(result[name]))
        for cause, count in (result.get("retry_causes") or {}).items():
            self.retry_causes[cause] = self.retry_causes.get(cause, 0) + int(count)
        for counter in SUMMED_COUNTERS:
            setattr(self, counter, getattr(self, counter) + int(result.get(counter, 0)))
        self.in_flight_max += int(result.get("in_flight_max", 0))
        if result.get("timeline"):  # by interval of the wall clock, with the others'
            theirs = Timeline.from_dict(result["timeline"])
            self.timeline = Timeline.merge([self.timeline, theirs] if self.timeline else [theirs])

    def take_in_flight(self) -> tuple[int, int]:
        """In flight now, and the most since the last call (for the timeline)."""
        most, self.in_flight_peak = self.in_flight_peak, self.in_flight
        return self.in_flight, most

    def retried(self, cause: str) -> None:
        self.retries += 1
        key = cause[:120]
        self.retry_causes[key] = self.retry_causes.get(key, 0) + 1

    def elapsed(self, now: float) -> float:
        if self.started_at is None:
            return 0.0
        end = self.finished_at if self.finished_at is not None else now
        return max(end - self.started_at, 0.0)

    @property
    def rows_pending(self) -> int:
        """Rows read but neither loaded nor rejected yet (in the queue or in flight)."""
        return self.rows_read - self.rows_loaded - self.rows_rejected
