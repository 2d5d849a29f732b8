"""The bulkload exception tree.

Every error bulkload raises on purpose is a ``BulkloadError``, and says what kind of
failure it is (its :class:`FailureKind`); the CLI (``bulkload.cli.exit_codes``) turns each
into one line on stderr and the exit code of its kind::

    BulkloadError                 FAILED   (anything not more specific)
    ├── UsageError                USAGE    bad option, bad option value, bad profile
    ├── InputError                INPUT    missing/unreadable/malformed source file
    ├── TargetError               TARGET   the target cannot be opened or written at all
    │   └── TargetUnreachable     TARGET   connection refused, unknown host, bad path
    ├── AbortedError              ABORTED  the run stopped itself (too many errors)
    └── WriteError                never escapes the engine: a backend's classified failure
        ├── TransientWriteError   retry may succeed (lock, timeout, connection reset)
        └── PermanentWriteError   the rows themselves are bad (type, constraint)

Driver exceptions are translated into this tree at the backend boundary, so the engine
and the CLI never see a driver's own exception types.
"""

from __future__ import annotations

import enum


class FailureKind(enum.Enum):
    """What kind of failure ended a run: data, not an exit code (the CLI maps kinds to
    its codes). The value is what crosses a process boundary."""

    FAILED = "failed"  # anything not more specific
    USAGE = "usage"  # bad option, option value or profile
    INPUT = "input"  # a source file missing, unreadable or malformed
    TARGET = "target"  # the target cannot be opened, created or written
    ABORTED = "aborted"  # the run stopped itself (--max-errors, ...)
    INTERRUPTED = "interrupted"  # Ctrl-C / SIGTERM


class BulkloadError(Exception):
    """Base class of every error bulkload raises deliberately. ``kind`` may be set on
    an instance (an error relayed from another process keeps its own kind)."""

    kind = FailureKind.FAILED


class UsageError(BulkloadError):
    """A bad option, option value or configuration profile."""

    kind = FailureKind.USAGE


class InputError(BulkloadError):
    """A source file is missing, unreadable or malformed beyond row-level rejection."""

    kind = FailureKind.INPUT

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None):
        location = source or ""
        if source and line is not None:
            location = f"{source}:{line}"
        super().__init__(f"{location}: {message}" if location else message)
        self.source = source
        self.line = line


class TargetError(BulkloadError):
    """The target cannot be opened, created or written at all."""

    kind = FailureKind.TARGET


class TargetUnreachable(TargetError):
    """The target does not answer: refused connection, unknown host, missing directory."""


class AbortedError(BulkloadError):
    """The run stopped itself, e.g. because it exceeded --max-errors."""

    kind = FailureKind.ABORTED


class WriteError(BulkloadError):
    """A backend's failure to write one batch, already classified."""


class TransientWriteError(WriteError):
    """Retrying the same batch later may succeed."""

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentWriteError(WriteError):
    """The batch contains rows the target will never accept."""
