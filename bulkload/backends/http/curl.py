"""A libcurl multi handle driven by the asyncio event loop (pycurl).

libcurl tells us which sockets to watch (``M_SOCKETFUNCTION``) and when to wake it
(``M_TIMERFUNCTION``); the loop calls ``socket_action`` when a socket is ready or the
timer fires, and finished transfers resolve their futures. One multi handle holds the
connection cache, so connections are kept alive and reused across requests; easy
handles are pooled with their static options set once.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pycurl

from bulkload.backends.base import mark_may_have_applied
from bulkload.backends.http.errors import HttpTransportError, answered_without_tls, tls_failure
from bulkload.backends.http.transport import ClientSettings, Response

# errors after which the same request may well succeed: the connection broke or stalled
_TRANSIENT = frozenset(
    {
        pycurl.E_COULDNT_CONNECT,
        pycurl.E_OPERATION_TIMEDOUT,
        pycurl.E_SEND_ERROR,
        pycurl.E_RECV_ERROR,
        pycurl.E_GOT_NOTHING,
        pycurl.E_PARTIAL_FILE,
        getattr(pycurl, "E_HTTP2", 16),
        getattr(pycurl, "E_HTTP2_STREAM", 92),
    }
)


class _Request:
    __slots__ = ("body", "future", "handle")

    def __init__(self, handle: pycurl.Curl, future: asyncio.Future[Response]):
        self.handle = handle
        self.future = future
        self.body = io.BytesIO()


class CurlTransport:
    def __init__(self, settings: ClientSettings, url: str):
        self._settings = settings
        self._http_version = pycurl.CURL_HTTP_VERSION_1_1
        if settings.http2:  # over TLS, ALPN settles it (1.1 if the server says so)
            tls = url.startswith("https:")
            self._http_version = (
                pycurl.CURL_HTTP_VERSION_2TLS if tls else pycurl.CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
            )
        self._loop = asyncio.get_running_loop()
        self._multi = multi = pycurl.CurlMulti()
        multi.setopt(pycurl.M_SOCKETFUNCTION, self._on_socket)
        multi.setopt(pycurl.M_TIMERFUNCTION, self._on_timer)
        multi.setopt(pycurl.M_MAX_HOST_CONNECTIONS, settings.connections)
        multi.setopt(pycurl.M_MAX_TOTAL_CONNECTIONS, settings.connections)
        multi.setopt(pycurl.M_MAXCONNECTS, settings.connections)
        if settings.http2 and settings.streams:
            multi.setopt(pycurl.M_MAX_CONCURRENT_STREAMS, settings.streams)
        self._headers = [f"{name}: {value}" for name, value in settings.headers]
        self._headers.append("Expect:")  # no 100-continue round trip before large bodies
        self._idle: list[pycurl.Curl] = []
        self._requests: dict[pycurl.Curl, _Request] = {}
        self._watched: dict[int, int] = {}  # fd -> the POLL_* libcurl asked for
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False

    # ------------------------------------------------------------------ requests

    async def send(
        self, method: str, url: str, body: bytes, extra_headers: tuple[tuple[str, str], ...]
    ) -> Response:
        if self._closed:
            raise HttpTransportError("the client is closed", transient=False)
        handle = self._idle.pop() if self._idle else self._new_handle()
        request = _Request(handle, self._loop.create_future())
        handle.setopt(pycurl.URL, url)
        handle.setopt(pycurl.CUSTOMREQUEST, method)
        handle.setopt(pycurl.POSTFIELDSIZE_LARGE, len(body))
        handle.setopt(pycurl.POSTFIELDS, body)  # pycurl keeps a reference
        headers = self._headers
        if extra_headers:
            headers = headers + [f"{name}: {value}" for name, value in extra_headers]
        handle.setopt(pycurl.HTTPHEADER, headers)
        handle.setopt(pycurl.WRITEFUNCTION, request.body.write)
        self._requests[handle] = request
        self._multi.add_handle(handle)
        try:
            return await request.future
        except asyncio.CancelledError as cut:
            if handle.getinfo(pycurl.REQUEST_SIZE):  # cut after the request was sent
                mark_may_have_applied(cut)
            raise
        finally:
            if self._requests.pop(handle, None) is not None:  # cancelled: abort it
                self._multi.remove_handle(handle)
                handle.close()  # its connection state is unknown: do not reuse
            elif not self._closed:
                self._idle.append(handle)

    def _new_handle(self) -> pycurl.Curl:
        s = self._settings
        handle = pycurl.Curl()
        handle.setopt(pycurl.NOSIGNAL, 1)
        handle.setopt(pycurl.POST, 1)
        handle.setopt(pycurl.TCP_NODELAY, 1)
        handle.setopt(pycurl.TCP_KEEPALIVE, 1)
        handle.setopt(pycurl.FOLLOWLOCATION, 0)
        handle.setopt(pycurl.HTTP_VERSION, self._http_version)
        if s.http2:
            handle.setopt(pycurl.PIPEWAIT, 1)  # a stream on a connection, not a new one
        if not s.verify:
            handle.setopt(pycurl.SSL_VERIFYPEER, 0)
            handle.setopt(pycurl.SSL_VERIFYHOST, 0)
        elif s.ca_cert:
            handle.setopt(pycurl.CAINFO, s.ca_cert)
        else:
            _use_system_certificates(handle)
        if s.client_cert:
            handle.setopt(pycurl.SSLCERT, s.client_cert)
            handle.setopt(pycurl.SSLKEY, s.client_key or s.client_cert)
        return handle

    def _finish(self, handle: pycurl.Curl, errno: int = 0, message: str = "") -> None:
        self._multi.remove_handle(handle)
        request = self._requests.pop(handle, None)
        if request is None or request.future.done():
            return
        if errno:
            # a TLS alert (certificate required/refused) can come after the handshake, as
            # a read error: retrying cannot fix a certificate
            transient = errno in _TRANSIENT and " alert " not in message
            if errno == pycurl.E_SSL_CONNECT_ERROR and answered_without_tls(message):
                # https:// to a plain-HTTP port: said in words, not as OpenSSL's code
                error = HttpTransportError(tls_failure(message), transient=False)
            elif "SETTINGS frame" in message:
                # h2c with prior knowledge to a server that speaks only HTTP/1.1: it never
                # took the request, and no retry will change its mind (libcurl says so as
                # error 16 or, when it was still sending, 55)
                error = HttpTransportError(
                    f"curl error {errno}: the server does not speak HTTP/2 over plain "
                    "http:// (drop --http-version 2, or use https://, where it is "
                    f"negotiated): {message}",
                    transient=False,
                )
            else:
                error = HttpTransportError(
                    f"curl error {errno}: {message}",
                    transient=transient,
                    # the request was sent (0 for a refused connection, a stalled handshake)
                    may_have_applied=transient and handle.getinfo(pycurl.REQUEST_SIZE) > 0,
                )
            request.future.set_exception(error)
            return
        status = handle.getinfo(pycurl.RESPONSE_CODE)
        # libcurl parses Retry-After itself, both as seconds and as an HTTP date
        retry_after = handle.getinfo(pycurl.RETRY_AFTER) if status >= 400 else 0
        request.future.set_result(
            Response(status, request.body.getvalue(), float(retry_after) if retry_after else None)
        )

    # ------------------------------------------------------------------ event loop glue

    def _on_socket(self, what: int, fd: int, multi: Any, data: Any) -> None:
        loop = self._loop
        before = self._watched.pop(fd, pycurl.POLL_REMOVE)
        if before in (pycurl.POLL_IN, pycurl.POLL_INOUT):
            loop.remove_reader(fd)
        if before in (pycurl.POLL_OUT, pycurl.POLL_INOUT):
            loop.remove_writer(fd)
        if what == pycurl.POLL_REMOVE:
            return
        self._watched[fd] = what
        if what in (pycurl.POLL_IN, pycurl.POLL_INOUT):
            loop.add_reader(fd, self._act, fd, pycurl.CSELECT_IN)
        if what in (pycurl.POLL_OUT, pycurl.POLL_INOUT):
            loop.add_writer(fd, self._act, fd, pycurl.CSELECT_OUT)

    def _on_timer(self, timeout_ms: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if timeout_ms >= 0:
            self._timer = self._loop.call_later(
                timeout_ms / 1000, self._act, pycurl.SOCKET_TIMEOUT, 0
            )

    def _act(self, fd: int, event: int) -> None:
        if self._closed:
            return
        while True:
            code, _running = self._multi.socket_action(fd, event)
            if code != pycurl.E_CALL_MULTI_PERFORM:
                break
        while True:
            queued, done, failed = self._multi.info_read()
            for handle in done:
                self._finish(handle)
            for handle, errno, message in failed:
                self._finish(handle, errno, message)
            if not queued:
                break

    async def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        for fd, what in self._watched.items():
            if what in (pycurl.POLL_IN, pycurl.POLL_INOUT):
                self._loop.remove_reader(fd)
            if what in (pycurl.POLL_OUT, pycurl.POLL_INOUT):
                self._loop.remove_writer(fd)
        self._watched.clear()
        for handle, request in list(self._requests.items()):
            self._multi.remove_handle(handle)
            if not request.future.done():
                request.future.set_exception(
                    HttpTransportError("the client was closed", transient=False)
                )
        for handle in self._idle:
            handle.close()
        self._idle.clear()
        self._multi.close()


def _use_system_certificates(handle: pycurl.Curl) -> None:
    """The wheel's libcurl may look for CA files where this system has none: point it at
    the ones Python's ssl module uses (or certifi's, which httpx brings)."""
    import ssl

    paths = ssl.get_default_verify_paths()
    if paths.cafile:
        handle.setopt(pycurl.CAINFO, paths.cafile)
        return
    if paths.capath:
        handle.setopt(pycurl.CAPATH, paths.capath)
        return
    import certifi

    handle.setopt(pycurl.CAINFO, certifi.where())
