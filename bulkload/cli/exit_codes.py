"""The exit codes, and the one mapping from a run's outcome or error to its code.

Nothing below the CLI knows these numbers: the library returns results (an outcome, a
verdict) or raises the exception tree of :mod:`bulkload.errors`, whose errors say their
:class:`~bulkload.errors.FailureKind`. The codes are documented in the README; they do
not change.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from bulkload.errors import BulkloadError, FailureKind

if TYPE_CHECKING:
    from bulkload.parallel.runner import ShareEnd


class ExitCode(enum.IntEnum):
    OK = 0  # every row read was loaded
    REJECTED = 1  # finished, but some rows were rejected
    ABORTED = 2  # too many errors, retries exhausted, or an internal error
    USAGE = 3  # bad usage, configuration or input file
    INTERRUPTED = 4  # Ctrl-C / SIGTERM
    TARGET = 5  # target unavailable: cannot connect, open or create the table
    GATE_FAILED = 99  # a --threshold gate failed, or a level regressed (k6 uses 99 too)


_OF_KIND = {
    FailureKind.FAILED: ExitCode.ABORTED,
    FailureKind.USAGE: ExitCode.USAGE,
    FailureKind.INPUT: ExitCode.USAGE,
    FailureKind.TARGET: ExitCode.TARGET,
    FailureKind.ABORTED: ExitCode.ABORTED,
    FailureKind.INTERRUPTED: ExitCode.INTERRUPTED,
}


def for_error(error: BaseException) -> ExitCode:
    """The code of the error that ended a command; anything not ours is internal (2)."""
    if isinstance(error, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    if isinstance(error, BulkloadError):
        return _OF_KIND[error.kind]
    return ExitCode.ABORTED


def for_kind(kind: FailureKind) -> ExitCode:
    """The code of a failure told as data (a share's, from another process)."""
    return _OF_KIND[kind]


def for_share(end: ShareEnd) -> ExitCode:
    """The code share ``end``'s own run would have had: its failure's, else rows
    rejected (1) or none (0)."""
    if end.kind is not None:
        return for_kind(end.kind)
    return ExitCode.REJECTED if int((end.body or {}).get("rows_rejected", 0)) else ExitCode.OK


def describe_share(end: ShareEnd) -> str:
    """``process 2/4 (pid N) exited 5: its error``, as the error line tells it."""
    return end.describe(int(for_share(end)))


def for_outcome(outcome: str, *, rows_rejected: int = 0, gates_failed: bool = False) -> ExitCode:
    """The code of a run that ended without an error to raise: interrupted (4); a bench
    level the target failed (5); a gate failed or a level regressed, or the run stopped on
    a failed gate (99); else rows rejected (1) or none (0)."""
    if outcome == "interrupted":
        return ExitCode.INTERRUPTED
    if outcome == "failed":
        return ExitCode.TARGET
    if gates_failed:
        return ExitCode.GATE_FAILED
    if outcome == "aborted":
        return ExitCode.ABORTED
    return ExitCode.REJECTED if rows_rejected else ExitCode.OK
