"""The Backend protocol: what a target must do, and nothing more.

A backend opens the target (creating the table from an Arrow schema), encodes and writes
one batch per call, closes, and says whether a failure is worth retrying. Concurrency, throttling,
retries, accounting and checkpoints all live in the engine.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

import pyarrow as pa

from bulkload.backends.query import Query
from bulkload.config import TargetOptions


class ErrorKind(enum.Enum):
    """How the engine should treat a failed write."""

    TRANSIENT = "transient"  # retry the same batch later
    PERMANENT = "permanent"  # the rows are bad: reject them (bisecting to find which)
    FATAL = "fatal"  # the target is unusable: stop the run


@dataclass(frozen=True, slots=True)
class BatchKey:
    """One stretch of rows a checkpoint records: rows [offset, offset + count) of batch
    ``index`` of the file whose fingerprint is ``source``."""

    source: str
    index: int
    offset: int
    count: int
    #: rows per batch when the key was recorded (what ``index`` counts in), as read back
    #: from a target's bookkeeping; None: not recorded
    batch_size: int | None = None


@dataclass(frozen=True, slots=True)
class TableSpec:
    """The table a run writes into."""

    name: str
    schema: pa.Schema
    if_exists: str = "append"
    checkpoints: bool = False  # batch keys will be recorded (--checkpoint)
    writers: int = 1  # writes the engine will keep in flight: size pools from it
    #: rows per batch: what a checkpoint key's index counts in. A backend that records
    #: keys in the target records it with each key, so a resume can refuse another size.
    batch_size: int | None = None
    #: how long connecting may take (the run's --timeout); None: the backend's own bound
    connect_timeout: float | None = None


@runtime_checkable
class Backend(Protocol):
    """A target bulkload can write to. Implementations register under the
    ``bulkload.backends`` entry-point group and are chosen by URL scheme."""

    schemes: ClassVar[tuple[str, ...]]
    #: the most writes the target can usefully take at once (None: no limit of its own)
    max_concurrency: int | None
    #: True if CSV columns can go as text, as read: the target converts and checks each
    #: value itself (a bad one fails the write, and bisection isolates its row), so the
    #: client skips its own conversion. Parquet columns always arrive typed.
    accepts_text: bool

    async def open(self, table: TableSpec) -> None:
        """Connect and prepare the table. Raise TargetError/TargetUnreachable on failure."""

    def encode(self, batch: pa.RecordBatch) -> Any:
        """Turn a batch into what ``write`` sends: CPU work only, no I/O, thread-safe.

        The engine calls it off the event loop, on the reader's thread, so encoding one
        batch overlaps with writing the previous ones. Return the batch itself if there
        is nothing to do.
        """

    async def write(self, payload: Any, key: BatchKey | None = None) -> None:
        """Write one encoded batch atomically: all of its rows, or none.

        With a ``key`` (checkpointing is on), a backend that records checkpoints in the
        target writes the key in the same transaction, and skips a batch whose key is
        already there (a retry after an ambiguous failure must not load it twice).
        If the call is cancelled (a timeout, or the run aborting), either nothing is
        committed and the ``CancelledError`` propagates, or the write is let finish and,
        when it committed, :class:`CancelledAfterCommit` is raised instead, so the engine
        counts its rows and still stops. A cancellation is never swallowed.

        A target that may have applied a write it gave no answer for (HTTP: the
        connection broke, or the call was cancelled, after the request was sent) says so
        with :func:`mark_may_have_applied` on the error or cancellation it raises: the
        engine then counts the rows as in doubt if the write is given up.
        """

    async def committed_keys(self) -> list[BatchKey]:
        """Keys recorded in the target for the open table (for --resume); [] if the
        backend does not record checkpoints in the target."""

    async def close(self) -> None:
        """Release connections; called once, also after failures."""

    async def forget_checkpoints(self, table: str) -> int:
        """Delete the checkpoint keys recorded for ``table`` (and the bookkeeping table
        once empty), without opening the table itself. Returns the keys removed."""

    def classify(self, error: BaseException) -> ErrorKind:
        """Say whether a failure raised by ``write`` is transient, permanent or fatal."""

    def describe(self) -> str:
        """The target for humans and reports, with any password removed."""


class CancelledAfterCommit(asyncio.CancelledError):
    """A write was cancelled while committing, was let finish, and did commit.

    Still a ``CancelledError`` (the cancellation goes on to whoever asked for it), but the
    engine catches it first to count the committed rows: an abort never loses track of
    what the target holds.
    """


T = TypeVar("T")
MAY_HAVE_APPLIED = "may_have_applied"


async def finish_despite_cancel(work: asyncio.Future[T]) -> T:
    """Await work that cannot be interrupted once started (a commit) to its end, even if
    the caller is cancelled meanwhile: then raise :class:`CancelledAfterCommit` when the
    work succeeded, or a plain ``CancelledError`` when it did not (nothing committed)."""
    cancelled = False
    while not work.done():
        try:
            await asyncio.wait({work})  # unlike await/shield, never cancels ``work``
        except asyncio.CancelledError:
            cancelled = True
    if not cancelled:
        return work.result()
    if work.cancelled() or work.exception() is not None:  # retrieved: no stray warning
        raise asyncio.CancelledError
    raise CancelledAfterCommit


MAY_BE_APPLIED_AGAIN = "may_be_applied_again"


def mark_may_have_applied(error: BaseException, *, again: bool = False) -> None:
    """Mark a write's failure (or its cancellation) as one after which the target may
    hold the rows: the request had reached it and no answer came.

    ``again``: the target cannot tell a retry of this write from a new one (no key it
    checks), so a retry that succeeds may have stored the rows a second time: the engine
    then counts them in doubt even though the write ends well."""
    setattr(error, MAY_HAVE_APPLIED, True)  # a CancelledError has no such field
    if again:
        setattr(error, MAY_BE_APPLIED_AGAIN, True)


def may_have_been_applied(error: BaseException) -> bool:
    """See :func:`mark_may_have_applied`."""
    return bool(getattr(error, MAY_HAVE_APPLIED, False))


def may_be_applied_again(error: BaseException) -> bool:
    """See :func:`mark_may_have_applied` (``again``)."""
    return bool(getattr(error, MAY_BE_APPLIED_AGAIN, False))


@runtime_checkable
class Resettable(Protocol):
    """A backend that can empty the open table (``bench --reset``: every level starts
    from the same table size). Optional: a backend without it refuses ``--reset``."""

    async def reset(self) -> None:
        """Delete every row of the open table (and its checkpoint keys)."""


class BackendFactory(Protocol):
    """What an entry point must name: a class (or callable) built from URL and options."""

    schemes: ClassVar[tuple[str, ...]]

    def __call__(self, url: str, options: TargetOptions) -> Backend: ...


@runtime_checkable
class Queryable(Protocol):
    """A backend that can answer queries (``bench --query``). Optional, as
    :class:`Resettable` is: a backend without it refuses ``--query``.

    ``prepare`` checks a query against the target and returns a handle (a bad query
    raises, before any level runs); the backend prepares it again on each connection
    that runs it (once per connection). ``run`` executes it with one set of values,
    reads every row it returns (as an application would) and returns how many."""

    async def open_for_queries(self, *, connections: int, connect_timeout: float | None) -> None:
        """Connect, sized for ``connections`` queries in flight; no table is created."""

    async def prepare(self, query: Query) -> Any:
        """A handle for :meth:`run`; raise if the target refuses the query."""

    async def run(self, prepared: Any, values: tuple[Any, ...]) -> int:
        """Run with ``values`` (in the order of ``query.parameters``); rows returned."""

    async def fetch(self, prepared: Any, values: tuple[Any, ...]) -> list[dict[str, Any]]:
        """As :meth:`run`, returning the rows, each a dict of column name to value."""
