"""HTTP answering queries (``bench --request 'GET /orders/{id}'``): each query is one
request, its method, path template and optional body template given once, ``{name}``
filled from the parameters' values; the status decides success (2xx, widened by
``--ok-status``), and an answer's body is read in full. A request counts one row."""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from bulkload.backends.http.errors import HttpStatusError
from bulkload.backends.http.transport import ClientSettings, Transport
from bulkload.backends.query import ENV_VARIABLE, Query
from bulkload.redact import SECRET_HEADER

_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_PLACE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class PreparedRequest:
    __slots__ = ("body", "headers", "method", "names", "ok", "path", "secrets")

    def __init__(
        self,
        method: str,
        path: str,
        body: str,
        ok: frozenset[int],
        names: tuple[str, ...],
        headers: tuple[tuple[str, str], ...] = (),
    ):
        self.method, self.path, self.body, self.ok, self.names = method, path, body, ok, names
        #: (name, value template): ``{name}`` filled per request
        self.headers = headers
        #: what must never be printed: secret-named headers' values, values from ${VAR}
        self.secrets: list[str] = []


def parse_request(query: Query, base_url: str) -> PreparedRequest:
    """``METHOD /path/{name}?q={name} [BODY]`` -> its parts; a bad one raises ValueError."""
    method, _, rest = query.sql.strip().partition(" ")
    path, _, body = rest.strip().partition(" ")
    method = method.upper()
    if method not in _METHODS:
        raise ValueError(f"unknown method {method!r}; methods: {' '.join(_METHODS)}")
    if not path.startswith("/"):
        raise ValueError(f"the path must start with /, not {path!r}")
    base = urlsplit(base_url)
    prefix = base.path.rstrip("/")
    url = urlunsplit((base.scheme, base.netloc, "", "", "")) + prefix + path
    ok = frozenset(query.ok_status)
    headers, secrets = _headers(query.headers)
    prepared = PreparedRequest(method, url, body.strip(), ok, query.parameters, headers)
    prepared.secrets = secrets
    return prepared


def _headers(specs: tuple[str, ...]) -> tuple[tuple[tuple[str, str], ...], list[str]]:
    """``Name: value`` items: ``${VAR}`` taken from the environment now, ``{name}``
    left to fill per request; and the values to hide."""
    headers, secrets = [], []
    for spec in specs:
        name, _, value = spec.partition(":")
        name, value = name.strip(), value.strip()
        try:
            expanded = expand_variables(value)
        except LookupError as exc:
            raise ValueError(f"header {name}: environment variable {exc} is not set") from None
        except ValueError:
            raise ValueError(f"header {name}: a value cannot contain a line break") from None
        headers.append((name, expanded))
        if SECRET_HEADER.search(name) or ENV_VARIABLE.search(value):
            static = _PLACE.split(expanded)[::2]  # the parts no parameter fills
            secrets += [part.strip() for part in static if len(part.strip()) >= 4]
            secrets += [p.split(" ", 1)[1] for p in static if " " in p.strip()]
    return tuple(headers), secrets


def expand_variables(value: str) -> str:
    """A header's value with each ``${VAR}`` taken from the environment: LookupError
    naming a variable that is not set, ValueError when the value holds a line break."""

    def variable(match: re.Match[str]) -> str:
        if match.group(1) not in os.environ:
            raise LookupError(match.group(1))
        return os.environ[match.group(1)]

    expanded = ENV_VARIABLE.sub(variable, value)
    if "\r" in expanded or "\n" in expanded:
        raise ValueError("a header's value cannot contain a line break")
    return expanded


class HttpRequests:
    """Mixed into HttpBackend: its URL, transport settings and error hiding are used."""

    url: str
    _transport: Transport | None

    def _client_settings(self, connections: int) -> ClientSettings:
        raise NotImplementedError

    def _new_transport(self, settings: ClientSettings) -> Transport:
        raise NotImplementedError

    async def _check_reachable(self, bound: float) -> None:
        raise NotImplementedError

    def _hide(self, text: str) -> str:
        raise NotImplementedError

    _secrets: list[str]

    async def open_for_queries(self, *, connections: int, connect_timeout: float | None) -> None:
        await self._check_reachable(min(connect_timeout or 10.0, 10.0))
        self._transport = self._new_transport(self._client_settings(max(connections, 1)))

    async def prepare(self, query: Query) -> PreparedRequest:
        prepared = parse_request(query, self.url)
        self._secrets[:0] = [s for s in prepared.secrets if s not in self._secrets]
        self._secrets.sort(key=len, reverse=True)
        return prepared

    async def run(self, prepared: PreparedRequest, values: tuple[Any, ...]) -> int:
        await self._answer(prepared, values)
        return 1

    async def fetch(
        self, prepared: PreparedRequest, values: tuple[Any, ...]
    ) -> list[dict[str, Any]]:
        status, body = await self._answer(prepared, values)
        return [{"status": status, "body": body}]

    async def _answer(
        self, prepared: PreparedRequest, values: tuple[Any, ...]
    ) -> tuple[int, bytes]:
        transport = self._transport
        assert transport is not None, "open_for_queries() was not called"
        path, body, headers = prepared.path, prepared.body, prepared.headers
        if values:
            given = dict(zip(prepared.names, values, strict=True))
            path = _PLACE.sub(lambda m: quote(str(given[m.group(1)]), safe=""), path)
            if body:
                body = _PLACE.sub(lambda m: str(given[m.group(1)]), body)
            if headers:
                headers = tuple((name, _filled(value, given, name)) for name, value in headers)
        answer = await transport.send(prepared.method, path, body.encode(), headers)
        status = answer.status
        if not (200 <= status < 300 or status in prepared.ok):
            error = HttpStatusError(status, answer.body, answer.retry_after)
            error.args = (self._hide(str(error)),)
            raise error
        return status, answer.body


def _filled(template: str, given: dict[str, Any], header: str) -> str:
    """A header's value with its ``{name}`` filled; a value with a line break is an error
    of its request (it would split the header)."""
    value = _PLACE.sub(lambda m: str(given[m.group(1)]), template)
    if "\r" in value or "\n" in value:
        raise ValueError(f"header {header}: a parameter's value holds a line break")
    return value
