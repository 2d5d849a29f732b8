"""The error of a share that failed (a local process, a Dask task), as data."""

from __future__ import annotations

from bulkload.errors import BulkloadError


class ShareFailed(BulkloadError):
    """What stopped a share, with the exit code its own error would have had."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code
