"""Fan-out: the bounded queue, the writers, retries and accounting. Knows nothing of the
terminal; reporters read :class:`bulkload.stats.RunStats` while it runs."""

from bulkload.engine.batch_writer import BatchWriter, RejectionSink
from bulkload.engine.import_run import Engine, RunControl
from bulkload.engine.retry import RetryPolicy

__all__ = ["BatchWriter", "Engine", "RejectionSink", "RetryPolicy", "RunControl"]
