"""The error of a share that failed (a local process, a Dask task), as data."""

from __future__ import annotations

from bulkload.errors import BulkloadError, FailureKind


class ShareFailed(BulkloadError):
    """What stopped a share, with the kind its own error had (the CLI maps kinds to
    exit codes)."""

    def __init__(self, message: str, kind: FailureKind):
        super().__init__(message)
        self.kind = kind
