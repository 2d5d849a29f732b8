"""Writes to keep in flight: what was asked, capped by what the backend carries."""

from __future__ import annotations

import warnings

from bulkload.backends.base import Backend
from bulkload.stats.run import RunStats


def in_flight_limit(backend: Backend, requested: int) -> int:
    """Writes to keep in flight: what was asked, capped by what the backend can carry."""
    limit = backend.max_concurrency
    return min(requested, limit) if limit else requested


class InFlightCapWarning(RuntimeWarning):
    """More writes in flight were asked for than the target's connections carry."""


def in_flight_ceiling(
    backend: Backend, requested: int, stats: RunStats, *, asked: bool, stacklevel: int
) -> int:
    """The writes to keep in flight, recorded in ``stats`` (asked and effective).

    Drivers raise (DataStax's BusyConnectionException) when asked for more than
    connections x requests per connection; the library caps instead, and says so once
    when the number was ``asked`` for (a default capped is no surprise: SQLite has one
    writer whatever the default).
    """
    effective = in_flight_limit(backend, requested)
    stats.concurrency = requested
    stats.effective_concurrency = effective
    if asked and effective < requested:
        warnings.warn(
            f"{backend.describe()}: {requested} writes in flight asked, capped at {effective}: "
            f"the most this target takes at once (connections x requests per connection, "
            f"or one writer for SQLite)",
            InFlightCapWarning,
            stacklevel=stacklevel,
        )
    return effective
