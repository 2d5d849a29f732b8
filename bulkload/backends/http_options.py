"""The HTTP backend's own options and the model they fill; apart from the backend
module so that ``--help`` reads them without loading the driver (standard library only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bulkload.config.option import Option, panel
from bulkload.config.parse import choice, flag, listed, non_empty


@dataclass(frozen=True, kw_only=True)
class HttpOptions:
    """One request per batch (http://, https://)."""

    http_method: str = "POST"
    http_headers: tuple[str, ...] = ()  # "Name: value", ${ENV} expanded when opened
    http_format: str = "ndjson"  # json | ndjson | csv | parquet | arrow
    http_compression: str | None = None  # gzip | zstd
    http_client: str = "auto"  # auto (h1, or curl behind a proxy)
    http_version: str = "1.1"  # 1.1 | 2 (libcurl)
    http_preset: str | None = None  # elasticsearch | opensearch | clickhouse
    http_idempotency_key: str | None = None  # header carrying a stable key per batch
    insecure: bool = False  # skip TLS verification
    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None


def http_method(value: Any, option: str) -> str:
    return str(choice("POST", "PUT")(str(value).upper(), option))


def http_compression(value: Any, option: str) -> str | None:
    return None if value == "none" else choice("gzip", "zstd")(value, option)


def header_lines(value: Any, option: str) -> tuple[str, ...]:
    """``Name: value`` items, not split on commas (header values hold commas); their
    ``${VAR}`` is expanded, and checked, by the HTTP backend when it is built."""
    return tuple(listed(value, option, split=False))


OPTIONS = panel(
    "HTTP",
    HttpOptions,
    Option(
        name="http_method",
        flags=("--http-method",),
        parse=http_method,
        help="HTTP: the request method, POST or PUT.",
    ),
    Option(
        name="http_headers",
        flags=("--http-header",),
        repeatable=True,
        env=False,
        parse=header_lines,
        metavar="'NAME: VALUE'",
        help="HTTP: a header for every request (repeatable); ${VAR} in a value comes from "
        "the environment and is never shown.",
    ),
    Option(
        name="http_format",
        flags=("--http-format",),
        parse=choice("json", "ndjson", "csv", "parquet", "arrow"),
        help="HTTP: the body of a request: json, ndjson, csv, parquet or arrow (IPC stream).",
    ),
    Option(
        name="http_compression",
        flags=("--http-compression",),
        parse=http_compression,
        help="HTTP: compress request bodies: gzip or zstd.",
    ),
    Option(
        name="http_client",
        flags=("--http-client",),
        parse=choice("auto", "h1", "curl", "httpx"),
        help="HTTP: auto (h1, or curl when a proxy applies or --http-version 2), h1 (lean, "
        "fastest), curl (libcurl) or httpx.",
    ),
    Option(
        name="http_version",
        flags=("--http-version",),
        parse=choice("1.1", "2"),
        help="HTTP: 1.1, or 2 (libcurl: negotiated over TLS, prior knowledge over http://; "
        "the writes share few connections).",
    ),
    Option(
        name="http_preset",
        flags=("--http-preset",),
        parse=choice("elasticsearch", "opensearch", "clickhouse"),
        help="HTTP: speak a bulk API and read its per-item report: elasticsearch, "
        "opensearch or clickhouse.",
    ),
    Option(
        name="http_idempotency_key",
        flags=("--http-idempotency-key",),
        parse=non_empty,
        metavar="HEADER",
        help="HTTP: send each batch's key, the same on every retry, in this header.",
    ),
    Option(
        name="insecure",
        flags=("--insecure",),
        cli_type=bool,
        parse=flag,
        help="HTTPS: do not check the server's certificate (warned about).",
    ),
    Option(
        name="ca_cert",
        flags=("--ca-cert",),
        parse=non_empty,
        metavar="PEM",
        help="HTTPS: trust the certificate authorities in this file.",
    ),
    Option(
        name="client_cert",
        flags=("--client-cert",),
        parse=non_empty,
        metavar="PEM",
        help="HTTPS: present this client certificate.",
    ),
    Option(
        name="client_key",
        flags=("--client-key",),
        parse=non_empty,
        metavar="PEM",
        help="HTTPS: the client certificate's private key (if not in --client-cert).",
    ),
)
