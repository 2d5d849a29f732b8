"""The engine: batches fanned out to a target under one write policy. Knows nothing of
the terminal; reporters read :class:`bulkload.stats.RunStats` while it runs.

One drain, three fronts on it, one per-write policy under them:

* ``drain``              the fan-out core: bounded channel, writers on demand, accounting
* ``channel``            the drain's queue: feeder threads (or a loop task) to writer tasks
* ``import_run``         the import pipeline: reader threads -> drain -> run statistics
* ``async_loader``       ``AsyncLoader``: the drain fed by ``add()``, rows cut into batches
* ``execute_concurrent`` the drain plus a reorder buffer: results in input order
* ``batch_writer``       one write: throttle, breaker, timeout, retries, bisection
* ``in_flight``          writes to keep in flight: what was asked, capped by the target
* ``rate`` ``breaker`` ``deadline`` ``retry``  the policy's gates
* ``checkpoint`` ``bad_records``  what an import leaves for --resume and for people
* ``row_batches``        AsyncLoader's rows (dicts) -> Arrow batches
* ``loop_thread``        a private event loop, so sync callers share the async engine

(bench's driver, in :mod:`bulkload.bench.driver`, keeps its own scheduler: its closed
and open models decide when a write starts; it writes through the same BatchWriter.)
"""

from bulkload.engine.batch_writer import BatchWriter, RejectionSink
from bulkload.engine.import_run import Engine, RunControl
from bulkload.engine.retry import RetryPolicy

__all__ = ["BatchWriter", "Engine", "RejectionSink", "RetryPolicy", "RunControl"]
