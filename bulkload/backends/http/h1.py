"""A lean HTTP/1.1 client: asyncio protocols on a keep-alive pool, answers parsed by
httptools (llhttp, the parser of Node.js, in C).

The request head is written with the body in one ``write`` (a large body: one
``writelines``, a writev on uvloop, not a copy behind the head); the parser's
callbacks collect the status, ``Retry-After``, the body (chunked or not) and whether the
server keeps the connection. No proxies: the backend hands proxied targets to libcurl.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from urllib.parse import urlsplit

import httptools

from bulkload.backends.base import mark_may_have_applied
from bulkload.backends.http.errors import HttpTransportError, parse_retry_after, tls_failure
from bulkload.backends.http.transport import (
    ClientSettings,
    Response,
    basic_authorization,
    ssl_context,
)

#: bodies this large go out beside their head rather than copied behind it
_GATHER_FROM = 16 * 1024
#: request heads kept: one per method, URL and headers; a header that differs on every
#: request (an idempotency key) fills the cache once, then such heads are built each time
_CACHED_STARTS = 64
#: whole requests (head and body) kept per head, by body: bench writes the same pooled
#: payloads over and over; only small bodies (hashing a large one costs more than it saves)
_CACHED_WIRES = 1024
_WIRE_BODY_UP_TO = 4 * 1024
#: answers without a body or a Retry-After (a 204, a bare 200), one per status: shared
#: by every request that gets one (a Response is read, never changed)
_BARE_ANSWERS: dict[int, Response] = {}


class _Head:
    """What an answer's head says beyond its status, read again from the bytes received
    when it matters: a refusal's ``Retry-After``, and, when the server closes during an
    answer, whether its head was complete and said where its body ends. The connection's
    own parser reads no header (httptools makes two bytes objects and a call per header
    for a parser that asks: ~0.35 µs of a 1-row request's ~6, for a 204 from nginx)."""

    def __init__(self, received: list[bytes]):
        self.retry_after: bytes | None = None
        self.done = False  # the status line and headers are all in
        self.sized = False  # Content-Length or chunked: the body's end is known
        parser = httptools.HttpResponseParser(self)
        try:
            for data in received:
                parser.feed_data(data)
        except httptools.HttpParserError:
            pass  # the connection's own parser judged these bytes already

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"retry-after":
            self.retry_after = value
        elif name in (b"content-length", b"transfer-encoding"):
            self.sized = True

    def on_headers_complete(self) -> None:
        self.done = True


class _Connection(asyncio.Protocol):
    """One connection, one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._answer: asyncio.Future[Response] | None = None
        self._body: list[bytes] | None = None  # the answer's body, once a byte of it came
        #: the bytes received since this request was sent (read again by _Head)
        self._received: list[bytes] = []
        self.alive = True

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._received.append(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(
                HttpTransportError(
                    f"malformed answer: {exc}", transient=True, may_have_applied=True
                )
            )

    def connection_lost(self, exc: Exception | None) -> None:
        self.alive = False
        if exc is None and self._answer is not None and self._received:
            head = _Head(self._received)
            if head.done and not head.sized:
                # an answer without a length ends where the server closes (HTTP/1.0
                # style): that close is its end, not a reset (which would send the rows
                # again)
                self.on_message_complete()
                return
        if isinstance(exc, ssl.SSLError):
            reason = exc.reason or str(exc)
            self._fail(HttpTransportError(tls_failure(reason), transient=False))
        else:
            self._fail(_Reset(got_bytes=bool(self._received)))

    # httptools callbacks

    def on_body(self, body: bytes) -> None:
        if self._body is None:
            self._body = [body]
        else:
            self._body.append(body)

    def on_message_complete(self) -> None:
        answer, self._answer = self._answer, None
        if not self._parser.should_keep_alive():
            self.alive = False
        if answer is not None and not answer.done():
            retry_after = None
            status = self._parser.get_status_code()
            if not 200 <= status < 300:  # a refusal: its Retry-After is read (and only its)
                hint = _Head(self._received).retry_after
                if hint is not None:
                    retry_after = parse_retry_after(hint.decode("latin-1"))
            parts = self._body
            if parts is None and retry_after is None:  # no body, no hint: one per status
                response = _BARE_ANSWERS.get(status)
                if response is None:
                    response = _BARE_ANSWERS.setdefault(status, Response(status, b""))
            else:
                body = b"" if parts is None else parts[0] if len(parts) == 1 else b"".join(parts)
                response = Response(status, body, retry_after)
                # read: not kept beside the body while the connection idles (a bulk API's
                # per-item report can be megabytes)
                self._received = []
            answer.set_result(response)

    # use

    def request(self, head: bytes, body: bytes, answer: asyncio.Future[Response]) -> None:
        """Send ``head`` and ``body`` (``body`` empty: ``head`` is the whole request)."""
        assert self.transport is not None
        self._answer = answer
        self._body = None
        self._received = []
        if not body:
            self.transport.write(head)
        elif len(body) < _GATHER_FROM:
            self.transport.write(head + body)
        else:  # one writev of both: copying a large body behind its head cost more
            self.transport.writelines((head, body))

    def _fail(self, error: Exception) -> None:
        self.alive = False
        answer, self._answer = self._answer, None
        if answer is not None and not answer.done():
            answer.set_exception(error)
        if self.transport is not None:
            self.transport.close()

    def close(self) -> None:
        self.alive = False
        if self.transport is not None:
            self.transport.close()


class _Reset(HttpTransportError):
    def __init__(self, *, got_bytes: bool):
        super().__init__("connection reset by the server", transient=True, may_have_applied=True)
        self.got_bytes = got_bytes


class H1Transport:
    """Keep-alive pool of at most ``connections`` connections to the target's host."""

    def __init__(self, settings: ClientSettings, url: str):
        parts = urlsplit(url)
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._ssl = ssl_context(settings) if parts.scheme == "https" else None
        default_port = self._port == (443 if parts.scheme == "https" else 80)
        host_header = self._host if default_port else f"{self._host}:{self._port}"
        if ":" in self._host:  # IPv6 literal
            host_header = f"[{self._host}]" + ("" if default_port else f":{self._port}")
        static = [("Host", host_header), *settings.headers]
        basic = basic_authorization(url)  # user:password@ in the URL, as curl and httpx do
        if basic and not any(name.lower() == "authorization" for name, _ in settings.headers):
            static.append(("Authorization", basic))
        self._static = "".join(f"{name}: {value}\r\n" for name, value in static)
        self._limit = settings.connections
        self._idle: deque[_Connection] = deque()
        self._count = 0  # connections open or opening
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._loop = asyncio.get_running_loop()
        #: a head up to Content-Length by (method, url, headers): the same for every
        #: write, but for an idempotency key; with it, whole requests by their body
        self._starts: dict[
            tuple[str, str, tuple[tuple[str, str], ...]], tuple[bytes, dict[bytes, bytes]]
        ] = {}
        #: the last request's method, URL and headers (the objects), and its entry above
        self._last: tuple[object, object, object, tuple[bytes, dict[bytes, bytes]]] = (
            None,
            None,
            None,
            (b"", {}),
        )

    def _request_start(
        self, method: str, url: str, extra_headers: tuple[tuple[str, str], ...]
    ) -> bytes:
        parts = urlsplit(url)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        extra = "".join(f"{name}: {value}\r\n" for name, value in extra_headers)
        return f"{method} {target} HTTP/1.1\r\n{self._static}{extra}".encode("latin-1")

    async def send(
        self, method: str, url: str, body: bytes, extra_headers: tuple[tuple[str, str], ...]
    ) -> Response:
        last = self._last
        if last[0] is method and last[1] is url and last[2] is extra_headers:
            cached = last[3]  # the same objects as the last request's (a writer's usual)
        else:  # hashing the key (its headers' tuples: no cached hash) costs more
            key = (method, url, extra_headers)
            known = self._starts.get(key)
            if known is None:
                known = (self._request_start(method, url, extra_headers), {})
                if len(self._starts) < _CACHED_STARTS:
                    self._starts[key] = known
            cached = known
            self._last = (method, url, extra_headers, cached)
        start, wires = cached
        small = len(body) <= _WIRE_BODY_UP_TO and type(body) is bytes  # (hashable)
        wire = wires.get(body) if small else None
        if wire is None:
            head = b"%sContent-Length: %d\r\n\r\n" % (start, len(body))
            if small:
                wire = head + body
                if len(wires) < _CACHED_WIRES:
                    wires[body] = wire
        if wire is not None:
            head, body = wire, b""  # the whole request in one piece
        idle = self._idle
        for attempt in (1, 2):
            # a kept-alive connection when one is idle (the usual case), else wait for one
            connection = idle.pop() if idle else None
            reused = True
            if connection is None or not connection.alive:
                if connection is not None:
                    self._count -= 1  # closed by the server while idle
                connection, reused = await self._acquire()
            answer: asyncio.Future[Response] = self._loop.create_future()
            try:
                connection.request(head, body, answer)
                response = await answer
            except _Reset as reset:
                self._release(None, connection)
                # a kept-alive connection the server had closed: once more on a new one,
                # as libcurl does (it may have been applied: delivery is at-least-once)
                if reused and not reset.got_bytes and attempt == 1:
                    continue
                raise
            except BaseException as cut:  # cancelled mid-request: the connection's state is lost
                self._release(None, connection)
                mark_may_have_applied(cut)  # the request was handed to the socket
                raise
            if connection.alive:  # kept alive: back to the pool (_release, inline)
                idle.append(connection)
                if self._waiters:
                    self._wake()
            else:
                self._release(None, connection)
            return response
        raise AssertionError("unreachable")

    def _idle_connection(self) -> _Connection | None:
        """A kept-alive connection, when one is idle (no coroutine: the usual case)."""
        while self._idle:
            connection = self._idle.pop()
            if connection.alive:
                return connection
            self._count -= 1
        return None

    async def _acquire(self) -> tuple[_Connection, bool]:
        """A new connection, or one released while this waited for the pool (True:
        kept alive from an earlier request)."""
        while True:
            connection = self._idle_connection()
            if connection is not None:
                return connection, True
            if self._count < self._limit:
                self._count += 1
                try:
                    return await self._connect(), False
                except BaseException:
                    self._count -= 1
                    self._wake()
                    raise
            waiter: asyncio.Future[None] = self._loop.create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # pass the turn on
                raise

    async def _connect(self) -> _Connection:
        try:
            _, connection = await self._loop.create_connection(
                _Connection,
                self._host,
                self._port,
                ssl=self._ssl,
                server_hostname=self._host if self._ssl else None,
            )
        except ssl.SSLError as exc:
            raise HttpTransportError(tls_failure(exc.reason or str(exc)), transient=False) from None
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise HttpTransportError(f"cannot connect: {reason}", transient=True) from None
        return connection

    def _release(self, keep: _Connection | None, used: _Connection) -> None:
        if keep is not None:
            self._idle.append(keep)
        else:
            used.close()
            self._count -= 1
        if self._waiters:
            self._wake()

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def close(self) -> None:
        while self._idle:
            self._idle.pop().close()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.cancel()
