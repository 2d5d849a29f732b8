"""The bulkload exception tree.

Every error bulkload raises on purpose is a ``BulkloadError``; the CLI turns each into
one line on stderr and the exit code named by its class::

    BulkloadError                 exit 2  (anything not more specific)
    ├── UsageError                exit 3  bad option, bad option value, bad profile
    ├── InputError                exit 3  missing/unreadable/malformed source file
    ├── TargetError               exit 5  the target cannot be opened or written at all
    │   └── TargetUnreachable     exit 5  connection refused, unknown host, bad path
    ├── AbortedError              exit 2  the run stopped itself (too many errors)
    └── WriteError                never escapes the engine: a backend's classified failure
        ├── TransientWriteError   retry may succeed (lock, timeout, connection reset)
        └── PermanentWriteError   the rows themselves are bad (type, constraint)

Driver exceptions are translated into this tree at the backend boundary, so the engine
and the CLI never see a driver's own exception types.
"""

from __future__ import annotations


class BulkloadError(Exception):
    """Base class of every error bulkload raises deliberately."""

    exit_code = 2


class UsageError(BulkloadError):
    """A bad option, option value or configuration profile."""

    exit_code = 3


class InputError(BulkloadError):
    """A source file is missing, unreadable or malformed beyond row-level rejection."""

    exit_code = 3

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None):
        location = source or ""
        if source and line is not None:
            location = f"{source}:{line}"
        super().__init__(f"{location}: {message}" if location else message)
        self.source = source
        self.line = line


class TargetError(BulkloadError):
    """The target cannot be opened, created or written at all."""

    exit_code = 5


class TargetUnreachable(TargetError):
    """The target does not answer: refused connection, unknown host, missing directory."""


class AbortedError(BulkloadError):
    """The run stopped itself, e.g. because it exceeded --max-errors."""

    exit_code = 2


class WriteError(BulkloadError):
    """A backend's failure to write one batch, already classified."""


class TransientWriteError(WriteError):
    """Retrying the same batch later may succeed."""

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentWriteError(WriteError):
    """The batch contains rows the target will never accept."""
