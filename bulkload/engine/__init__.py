"""Fan-out: the bounded queue, the writers, retries and accounting. Knows nothing of the
terminal; reporters read :class:`bulkload.stats.RunStats` while it runs."""

from bulkload.engine.retry import RetryPolicy
from bulkload.engine.runner import Engine, RunControl
from bulkload.engine.writer import BatchWriter, RejectionSink

__all__ = ["BatchWriter", "Engine", "RejectionSink", "RetryPolicy", "RunControl"]
