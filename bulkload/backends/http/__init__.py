"""``http://`` and ``https://``: one request per batch to any ingest endpoint, or to a
bulk API through a preset (Elasticsearch/OpenSearch ``_bulk``, ClickHouse).

Delivery is at-least-once: a request whose connection broke after the body was sent
may or may not have been applied, and is sent again. With ``--http-idempotency-key
HEADER`` every request carries a key that is the same on every retry of the same rows,
so a server that honours it stores them exactly once.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import urllib.request
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

import pyarrow as pa

from bulkload.backends import http_options
from bulkload.backends.base import BatchKey, ErrorKind, TableSpec
from bulkload.backends.http.errors import (
    HttpItemsFailed,
    HttpStatusError,
    HttpTransportError,
    classify,
)
from bulkload.backends.http.formats import compress
from bulkload.backends.http.presets import PRESETS, Preset
from bulkload.backends.http.requests import HttpRequests, expand_variables
from bulkload.backends.http.transport import (
    ClientSettings,
    Response,
    Transport,
    basic_authorization,
)
from bulkload.backends.query import ENV_VARIABLE
from bulkload.config import TargetOptions
from bulkload.config.option import Option
from bulkload.errors import TargetError, TargetUnreachable, UsageError
from bulkload.redact import SECRET_HEADER, redact_text, redact_url

_ENV = ENV_VARIABLE
_SECRET_NAME = SECRET_HEADER
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110's token
DEFAULT_CONNECTIONS = 8
#: the HTTP/2 connection preface and an empty SETTINGS frame (RFC 9113, 3.4)
_H2C_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
_H2_SETTINGS = 4  # the frame type of the server's first frame
CONNECT_TIMEOUT_S = 10.0  # the longest connecting may take; --timeout shortens it
HTTP2_STREAMS = 100  # streams libcurl carries on one HTTP/2 connection by default


class InsecureTransportWarning(UserWarning):
    """--insecure: TLS certificates are not checked."""


@dataclass(frozen=True, slots=True)
class HttpPayload:
    body: bytes  # compressed if asked
    rows: int
    request_key: str | None  # the idempotency key when the engine gives no BatchKey


class HttpBackend(HttpRequests):
    schemes: ClassVar[tuple[str, ...]] = ("http", "https")
    # its own options, declared in http_options.py (read by --help without the driver)
    own_options: ClassVar[tuple[Option, ...]] = http_options.OPTIONS
    accepts_text = False  # JSON wants typed values; the server gets numbers as numbers

    def __init__(self, url: str, target: TargetOptions):
        self.url = url
        options = self.options = target.own("http", http_options.HttpOptions)
        self.connections = target.connections
        self.requests_per_connection = target.requests_per_connection
        self.headers = parse_headers(options.http_headers)
        if options.http_idempotency_key and not _HEADER_NAME.fullmatch(
            options.http_idempotency_key
        ):
            raise UsageError(
                f"--http-idempotency-key expects a header name, got "
                f"{options.http_idempotency_key!r}"
            )
        self._secrets = secrets_of(url, options.http_headers, self.headers)
        self.preset: Preset = PRESETS[options.http_preset](url, options.http_format)
        self.max_concurrency: int | None = None
        if self.connections:
            # HTTP/1.1: one request at a time per connection; HTTP/2: streams, as many as
            # libcurl opens on one by default unless --requests-per-connection says
            one = HTTP2_STREAMS if options.http_version == "2" else 1
            per_connection = self.requests_per_connection or one
            self.max_concurrency = self.connections * per_connection
        if options.http_version == "2" and options.http_client not in ("auto", "curl"):
            raise UsageError(
                f"--http-version 2 needs --http-client curl (or auto): "
                f"{options.http_client} speaks HTTP/1.1"
            )
        if options.client_key and not options.client_cert:
            raise UsageError("--client-key needs --client-cert")
        for option, path in (
            ("--ca-cert", options.ca_cert),
            ("--client-cert", options.client_cert),
            ("--client-key", options.client_key),
        ):
            if path and not os.path.isfile(path):
                raise UsageError(f"{option}: no such file: {path}")
        if options.insecure:
            warnings.warn(
                f"--insecure: the TLS certificate of {redact_url(url)} is not checked; "
                "anyone on the path can read and change what is sent",
                InsecureTransportWarning,
                stacklevel=2,
            )
        self._transport: Transport | None = None
        self._request_headers: tuple[tuple[str, str], ...] = ()
        self._write_url = ""
        self._check_answer: Callable[[Response], None] | None = None
        self._key_scope = url  # and the table, once open() knows it

    # ------------------------------------------------------------------ lifecycle

    async def open(self, table: TableSpec) -> None:
        await self._check_reachable(
            min(table.connect_timeout or CONNECT_TIMEOUT_S, CONNECT_TIMEOUT_S)
        )
        settings = self._client_settings(table.writers)
        self._transport = self._new_transport(settings)
        self._key_scope = f"{self.url}\0{table.name}"
        try:
            await self.preset.open(table, self._send_plain)
        except HttpTransportError as exc:
            raise TargetError(f"{self.describe()}: {self._hide(str(exc))}") from None
        except TargetError as exc:  # a preset's table set-up refused: its answer may quote us
            raise TargetError(self._hide(str(exc))) from None
        headers = [("Content-Type", self.preset.content_type)]
        if self.options.http_compression:
            headers.append(("Content-Encoding", self.options.http_compression))
        self._request_headers = tuple(headers)
        self._write_url = self.preset.url()  # a preset's URL is fixed once it knows the table
        # the preset's check of a 2xx answer, unless it is the plain one's (none): a call
        # saved per write
        check = type(self.preset).check
        self._check_answer = None if check is Preset.check else self.preset.check

    def _client_settings(self, writers: int) -> ClientSettings:
        return ClientSettings(
            connections=self.connections or writers or DEFAULT_CONNECTIONS,
            verify=not self.options.insecure,
            ca_cert=self.options.ca_cert,
            client_cert=self.options.client_cert,
            client_key=self.options.client_key,
            headers=self.headers,
            http2=self.options.http_version == "2",
            streams=self.requests_per_connection,
        )

    def _new_transport(self, settings: ClientSettings) -> Transport:
        return make_transport(self.options.http_client, settings, self.url)

    async def _check_reachable(self, bound: float) -> None:
        """Fail at open, with the host named, rather than retrying a dead address;
        ``bound``: seconds connecting may take."""
        parts = urlsplit(self.url)
        host = parts.hostname or "localhost"
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if _proxied(self.url):
            return  # reached through a proxy: only the request can tell
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), bound)
        except (OSError, TimeoutError) as exc:
            reason = (
                exc.strerror
                if isinstance(exc, OSError) and exc.strerror
                else f"no answer within {bound:g} s"
            )
            raise TargetUnreachable(
                f"{self.describe()}: cannot connect to {host}:{port}: {reason}"
            ) from None
        try:
            if self.options.http_version == "2" and parts.scheme == "http":
                await self._check_h2c(reader, writer, bound)
        finally:
            writer.close()

    async def _check_h2c(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, bound: float
    ) -> None:
        """h2c with prior knowledge to a server that speaks only HTTP/1.1 fails every
        write; found here, before any is sent (writes cut by that failure would be in
        doubt): an HTTP/2 server answers the connection preface with a SETTINGS frame."""
        writer.write(_H2C_PREFACE)
        try:
            head = await asyncio.wait_for(reader.read(9), bound)
        except (OSError, TimeoutError):
            head = b""
        if len(head) < 4 or head[3] != _H2_SETTINGS:
            raise TargetError(
                f"{self.describe()}: the server does not speak HTTP/2 over plain http:// "
                "(drop --http-version 2, or use https://, where it is negotiated)"
            )

    async def _send_plain(self, method: str, url: str, body: bytes, content_type: str) -> Response:
        assert self._transport is not None
        return await self._transport.send(method, url, body, (("Content-Type", content_type),))

    async def close(self) -> None:
        if self._transport is not None:
            transport, self._transport = self._transport, None
            await transport.close()

    # ------------------------------------------------------------------ writing

    def encode(self, batch: pa.RecordBatch) -> HttpPayload:
        body = compress(self.preset.body(batch), self.options.http_compression)
        # random, not a content hash: two batches with the same rows must not share a key
        # (the server would drop the second); retries reuse this payload, so its key
        request_key = uuid.uuid4().hex if self.options.http_idempotency_key else None
        return HttpPayload(body, batch.num_rows, request_key)

    async def write(self, payload: HttpPayload, key: BatchKey | None = None) -> None:
        transport = self._transport
        if transport is None:
            raise TargetError(f"{self.describe()}: write before open")
        headers = self._request_headers
        options = self.options
        if options.http_idempotency_key:
            request_key = idempotency_key(payload, key, self._key_scope)
            headers = (*headers, (options.http_idempotency_key, request_key))
        try:
            answer = await transport.send(
                options.http_method, self._write_url, payload.body, headers
            )
            if not 200 <= answer.status < 300:
                # hidden before the body is cut to its head: a cut token no longer matches
                body = self._hide(answer.body.decode("utf-8", "replace")).encode()
                raise self.preset.refusal(answer.status, body, answer.retry_after)
            if self._check_answer is not None:
                self._check_answer(answer)
        except (HttpStatusError, HttpTransportError, HttpItemsFailed) as exc:
            exc.args = (self._hide(str(exc)),)  # a server may echo a token back
            if isinstance(exc, HttpItemsFailed):  # each refused item's reason, too
                exc.rejected_rows = {row: self._hide(why) for row, why in exc.rejected_rows.items()}
            raise

    def classify(self, error: BaseException) -> ErrorKind:
        return classify(error)

    def describe(self) -> str:
        # redact_url knows the usual query names; ours also catch access_token, X-Key...
        return self._hide(redact_url(self.url))

    def _hide(self, text: str) -> str:
        return redact_text(text, self._secrets)

    async def committed_keys(self) -> list[BatchKey]:
        return []

    async def forget_checkpoints(self, table: str) -> int:
        return 0


def idempotency_key(payload: HttpPayload, key: BatchKey | None, scope: str) -> str:
    """Stable across retries: from the batch's origin when the engine gives it
    (checkpointing: stable across reruns too), and where it goes (``scope``: the same
    file loaded to two endpoints or tables is two loads), else the payload's own random
    key."""
    if key is not None:
        origin = f"{scope}\0{key.source}\0{key.index}\0{key.offset}\0{key.count}"
        return hashlib.sha256(origin.encode()).hexdigest()[:32]
    assert payload.request_key is not None
    return payload.request_key


def make_transport(client: str, settings: ClientSettings, url: str) -> Transport:
    """``auto``: the lean HTTP/1.1 client, or libcurl when a proxy carries the request or
    HTTP/2 is asked for."""
    if client == "auto":
        client = "curl" if settings.http2 or _proxied(url) else "h1"
    if client == "h1":
        from bulkload.backends.http.h1 import H1Transport

        return H1Transport(settings, url)
    if client == "httpx":
        from bulkload.backends.http.transport import HttpxTransport

        return HttpxTransport(settings)
    from bulkload.backends.http.curl import CurlTransport

    return CurlTransport(settings, url)


def _proxied(url: str) -> bool:
    """Whether the proxy variables (http_proxy, https_proxy, no_proxy) route ``url``."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    return parts.scheme in proxies and not urllib.request.proxy_bypass(parts.hostname or "")


def parse_headers(specs: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """``Name: value`` items, ``${VAR}`` in values taken from the environment."""
    headers = []
    for spec in specs:
        name, sep, value = spec.partition(":")
        name = name.strip()
        if not sep or not name or not _HEADER_NAME.fullmatch(name):
            shown = name if _SECRET_NAME.search(name) else spec
            raise UsageError(f"--http-header expects 'Name: value', got {shown!r}")
        headers.append((name, _expand(value.strip(), name)))
    return tuple(headers)


def _expand(value: str, header: str) -> str:
    try:
        return expand_variables(value)
    except LookupError as exc:
        message = f"environment variable {exc} is not set"
    except ValueError:
        message = "a value cannot contain a line break"
    raise UsageError(f"--http-header {header}: {message}")


def secrets_of(url: str, specs: tuple[str, ...], headers: tuple[tuple[str, str], ...]) -> list[str]:
    """Everything that must never be printed: credential-like header values (and any
    value that came from the environment), the URL's password and secret query values."""
    found = [
        value
        for spec, (name, value) in zip(specs, headers, strict=True)
        if _SECRET_NAME.search(name) or _ENV.search(spec)
    ]
    for name, value in _query_pairs(url):
        if _SECRET_NAME.search(name):
            found += [value, quote_plus(value), quote(value, safe="")]  # as printed, too
    parts = urlsplit(url)
    if parts.password:
        found += [parts.password, unquote(parts.password)]
        # as the Basic authorization a client makes of them, which a server may echo
        found.append(str(basic_authorization(url)))
    # a bearer token is also a secret without its "Bearer " prefix
    found += [value.split(" ", 1)[1] for value in found if " " in value]
    return sorted({s for s in found if len(s) >= 4}, key=len, reverse=True)


def _query_pairs(url: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(urlsplit(url).query)
    except ValueError:
        return []
