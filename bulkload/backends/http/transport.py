"""The HTTP clients a batch can travel by, behind one small interface.

``h1`` (h1.py, the default) is a lean HTTP/1.1 client on asyncio protocols with a C
parser; ``curl`` (curl.py) drives a libcurl multi handle from the event loop, for
proxies; ``httpx`` is the pure-Python client, for comparison.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import unquote, urlsplit

import httpx

from bulkload.backends.base import mark_may_have_applied
from bulkload.backends.http.errors import HttpTransportError, parse_retry_after, tls_failure

#: httpx's failures once the request was (being) sent: the server may have applied it
_BROKEN_AFTER_SENDING = (
    httpx.ReadError,
    httpx.WriteError,
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.RemoteProtocolError,
)


@dataclass(slots=True)  # not frozen: one per request, and a frozen __init__ costs 3x
class Response:
    status: int
    body: bytes
    retry_after: float | None = None


@dataclass(frozen=True, kw_only=True)
class ClientSettings:
    """What every transport needs to know, whichever library it wraps."""

    connections: int  # pool size: at most this many connections, all kept alive
    verify: bool = True
    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    headers: tuple[tuple[str, str], ...] = field(default=())  # sent with every request
    http2: bool = False  # HTTP/2: many requests in flight on each connection (libcurl)
    streams: int | None = None  # HTTP/2: at most this many on one connection (None: 100)


class Transport(Protocol):
    async def send(
        self, method: str, url: str, body: bytes, extra_headers: tuple[tuple[str, str], ...]
    ) -> Response:
        """Send one request and return its answer; raise HttpTransportError when there is
        none. Cancellation aborts the request and propagates."""

    async def close(self) -> None: ...


class HttpxTransport:
    """httpx.AsyncClient: pure Python, portable, slower per request."""

    def __init__(self, settings: ClientSettings):
        limits = httpx.Limits(
            max_connections=settings.connections, max_keepalive_connections=settings.connections
        )
        self._client = httpx.AsyncClient(
            limits=limits,
            verify=ssl_context(settings),
            timeout=None,  # the engine's --timeout cancels the whole write
            headers=list(settings.headers),
            follow_redirects=False,
        )

    async def send(
        self, method: str, url: str, body: bytes, extra_headers: tuple[tuple[str, str], ...]
    ) -> Response:
        try:
            answer = await self._client.request(method, url, content=body, headers=extra_headers)
        except httpx.ConnectError as exc:
            if _is_tls_failure(exc):
                raise HttpTransportError(tls_failure(str(exc)), transient=False) from None
            raise HttpTransportError(f"cannot connect: {exc}", transient=True) from None
        except httpx.TransportError as exc:  # reset, closed early, protocol error, timeout
            tls = _tls_alert(exc)
            text = tls or str(exc) or type(exc).__name__
            raise HttpTransportError(
                f"connection failed: {text}",
                transient=not tls,
                may_have_applied=isinstance(exc, _BROKEN_AFTER_SENDING) and not tls,
            ) from None
        except asyncio.CancelledError as cut:  # httpx does not say how far the request got
            mark_may_have_applied(cut)
            raise
        return Response(
            answer.status_code, answer.content, parse_retry_after(answer.headers.get("retry-after"))
        )

    async def close(self) -> None:
        await self._client.aclose()


def basic_authorization(url: str) -> str | None:
    """The ``Authorization`` value curl and httpx send for ``user:password@`` in the URL
    (None without a user): h1 sends it too, and it is a secret to hide."""
    parts = urlsplit(url)
    if parts.username is None:
        return None
    user = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    return "Basic " + base64.b64encode(user.encode()).decode()


def ssl_context(settings: ClientSettings) -> ssl.SSLContext:
    """What to trust (the system's CAs, --ca-cert, or nothing with --insecure) and the
    client certificate to present."""
    if not settings.verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context = ssl.create_default_context(cafile=settings.ca_cert)
    if settings.client_cert:
        context.load_cert_chain(settings.client_cert, settings.client_key)
    return context


def _is_tls_failure(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE" in str(error).upper() or "SSL" in str(error).upper()


def _tls_alert(error: BaseException) -> str | None:
    """The TLS alert behind a read error (TLS 1.3 reports a refused client certificate
    after the handshake), or None: a plain reset or EOF is worth retrying, an alert not."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLError) and not isinstance(seen, ssl.SSLEOFError):
            return tls_failure(seen.reason or str(seen))
        seen = seen.__cause__ or seen.__context__
    return None
