"""What can go wrong with one request, and how the engine should take it.

The transports translate their library's failures into these, so the backend classifies
the same way whichever client carries the request.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping

from bulkload.backends.base import ErrorKind

#: answers worth retrying: the server is busy, restarting or timed out on its side
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
#: transient answers after which the rows may still have been stored (a gateway gave up
#: waiting, a server failed part-way); 503, 429 and the others say it was not taken
MAY_HAVE_APPLIED_STATUSES = frozenset({500, 502, 504})
#: the credentials are refused: retrying or bisecting cannot help
FATAL_STATUSES = frozenset({401, 403})
_HINTS = {
    401: " (the server wants credentials: see --http-header)",
    403: " (the credentials given may not write here)",
}
BODY_HEAD = 200  # bytes of a refusal's body kept in its rejection reason


class HttpStatusError(Exception):
    """The server answered with a status outside 2xx.

    ``kind``: how the engine takes it when a preset knows better than the status (an old
    ClickHouse answers 500 to a row it cannot parse); None: by the status."""

    def __init__(
        self,
        status: int,
        body: bytes,
        retry_after: float | None = None,
        *,
        kind: ErrorKind | None = None,
        may_have_applied: bool | None = None,
    ):
        head = body[:BODY_HEAD].decode("utf-8", "replace")
        head = " ".join(head.split())  # one line, whatever the server sent
        hint = _HINTS.get(status, "")
        super().__init__(f"HTTP {status}{hint}" + (f": {head}" if head else ""))
        self.status = status
        self.retry_after = retry_after  # read by the engine's retry policy
        self.kind = kind
        # a server error or a gateway's timeout: the server behind may have applied it
        if may_have_applied is None:
            may_have_applied = status in MAY_HAVE_APPLIED_STATUSES
        self.may_have_applied = may_have_applied


class HttpTransportError(Exception):
    """No answer: connection refused or reset, timeout, TLS failure, bad host.

    ``may_have_applied``: the connection broke after the request was sent (not for a
    connection refused or a failed handshake): the engine counts its rows as in doubt if
    the write is given up."""

    def __init__(
        self,
        message: str,
        *,
        transient: bool,
        retry_after: float | None = None,
        may_have_applied: bool = False,
    ):
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after
        self.may_have_applied = may_have_applied


#: what OpenSSL says when the answer to its hello is not TLS (a plain-HTTP server's text)
_NOT_TLS = ("WRONG_VERSION_NUMBER", "WRONG VERSION NUMBER", "RECORD_LAYER_FAILURE")


def answered_without_tls(detail: str) -> bool:
    """Whether OpenSSL's ``detail`` says the server answered the hello with something
    else than TLS (https:// to a plain-HTTP port)."""
    return any(mark in detail.upper() for mark in _NOT_TLS)


def tls_failure(detail: str) -> str:
    """The message of a failed TLS handshake: OpenSSL's reason, unless the server did not
    speak TLS at all, which is said in words (OpenSSL calls it a wrong version number)."""
    if answered_without_tls(detail):
        return "TLS: the server did not answer TLS on this port (plain HTTP, perhaps): try http://"
    return f"TLS: {detail}"


class HttpItemsFailed(Exception):
    """A bulk API took the request but refused some of its items (a partial failure).

    ``rejected`` maps a row of the batch to its reason: those rows are refused for good.
    ``retry`` lists the rows the server asks to have sent again (throttled items). Every
    other row was stored. The engine's writer rejects, retries and counts accordingly.
    """

    def __init__(
        self,
        rejected: Mapping[int, str],
        retry: tuple[int, ...] = (),
        retry_after: float | None = None,
    ):
        super().__init__(
            f"{len(rejected)} item(s) refused, {len(retry)} to retry"
            + (f": {next(iter(rejected.values()))}" if rejected else "")
        )
        self.rejected_rows = dict(rejected)
        self.retry_rows = retry
        self.retry_after = retry_after


def classify(error: BaseException) -> ErrorKind:
    if isinstance(error, HttpStatusError):
        if error.kind is not None:
            return error.kind
        if error.status in TRANSIENT_STATUSES:
            return ErrorKind.TRANSIENT
        if error.status in FATAL_STATUSES or not 400 <= error.status < 500:
            return ErrorKind.FATAL  # 3xx, 501, 505...: no retry or bisection will help
        return ErrorKind.PERMANENT
    if isinstance(error, HttpTransportError):
        return ErrorKind.TRANSIENT if error.transient else ErrorKind.FATAL
    if isinstance(error, HttpItemsFailed):
        return ErrorKind.PERMANENT
    return ErrorKind.FATAL


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a Retry-After header: ``120`` or an HTTP date."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now())
