"""The in-flight ceiling of the library API: what was asked, what the backend carries."""

from __future__ import annotations

import warnings

from bulkload.backends.base import Backend
from bulkload.engine.writer import in_flight_limit
from bulkload.stats.run import RunStats


class InFlightCapWarning(RuntimeWarning):
    """More writes in flight were asked for than the target's connections carry."""


def in_flight_ceiling(backend: Backend, requested: int, stats: RunStats, *, stacklevel: int) -> int:
    """The writes to keep in flight, recorded in ``stats`` (asked and effective).

    Drivers raise (DataStax's BusyConnectionException) when asked for more than
    connections x requests per connection; the library caps instead, and says so once.
    """
    effective = in_flight_limit(backend, requested)
    stats.concurrency = requested
    stats.effective_concurrency = effective
    if effective < requested:
        warnings.warn(
            f"{backend.describe()}: {requested} writes in flight asked, capped at {effective}: "
            f"the most this target takes at once (connections x requests per connection)",
            InFlightCapWarning,
            stacklevel=stacklevel,
        )
    return effective
