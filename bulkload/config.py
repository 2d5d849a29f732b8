"""Every option of a run as frozen dataclasses, and how they are assembled.

Precedence, lowest first: built-in defaults < TOML profile (``--config``) <
``BULKLOAD_*`` environment variables < command-line flags. The CLI resolves the last
two (typer reads the environment), hands this module one flat mapping of the options the
user actually set, and :func:`build_import_config` validates it into an ``ImportConfig``.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bulkload.errors import UsageError
from bulkload.redact import redact_url

DEFAULT_TARGET = "sqlite:///bulkload.db"
IF_EXISTS_CHOICES = ("append", "replace", "truncate", "fail")
FORMAT_CHOICES = ("csv", "parquet")
PROGRESS_CHOICES = ("auto", "rich", "plain", "off")


@dataclass(frozen=True, kw_only=True)
class CsvOptions:
    """How CSV text is split into fields."""

    # None: by file name, a tab for .tsv, else a comma.
    delimiter: str | None = None
    quote_char: str | None = '"'
    header: bool = True
    columns: tuple[str, ...] | None = None
    encoding: str = "utf-8"
    # Extra spellings of null; an unquoted empty field is always null.
    null_values: tuple[str, ...] = ()
    skip_rows: int = 0
    # The CSV parser block grows up to this size when a row does not fit in it.
    max_field_size: int = 64 << 20


@dataclass(frozen=True, kw_only=True)
class SourceOptions:
    """What to read and how to shape it into typed record batches."""

    paths: tuple[str, ...]
    format: str | None = None
    csv: CsvOptions = field(default_factory=CsvOptions)
    batch_size: int = 10_000
    limit: int | None = None
    select: tuple[str, ...] | None = None
    rename: Mapping[str, str] = field(default_factory=dict)
    types: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class TargetOptions:
    """Where the rows go."""

    url: str = DEFAULT_TARGET
    table: str | None = None
    if_exists: str = "append"
    wal: bool = True
    # Backends that hold connections: how many, and how many writes each may carry at
    # once (None: the backend's own default).
    connections: int | None = None
    requests_per_connection: int | None = None
    # PostgreSQL
    schema_name: str | None = None
    pg_method: str = "copy"
    pg_format: str = "binary"  # COPY format: binary (pgpq) or csv
    on_conflict: str | None = None  # nothing | update
    key: tuple[str, ...] | None = None
    # HTTP (http://, https://): one request per batch
    http_method: str = "POST"
    http_headers: tuple[str, ...] = ()  # "Name: value", ${ENV} expanded when opened
    http_format: str = "ndjson"  # json | ndjson | csv | parquet | arrow
    http_compression: str | None = None  # gzip | zstd
    http_client: str = "auto"  # auto (h1, or curl behind a proxy) | h1 | curl | httpx
    http_preset: str | None = None  # elasticsearch | clickhouse
    http_idempotency_key: str | None = None  # header carrying a stable key per batch
    insecure: bool = False  # skip TLS verification
    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None


@dataclass(frozen=True, kw_only=True)
class EngineOptions:
    """How batches fan out to the backend."""

    concurrency: int = 8
    # Batches the reader may run ahead of the writers; None: twice the writers, 8 to 64.
    queue_depth: int | None = None
    readers: int = 1
    rate: float | None = None  # rows per second
    max_batches_per_sec: float | None = None
    max_bytes_per_sec: float | None = None
    retries: int = 5
    retry_max_wait: float = 5.0
    timeout: float | None = 120.0  # seconds per batch write
    breaker_threshold: int = 10  # consecutive failures that open the circuit; 0: never
    breaker_cooldown: float = 5.0
    max_errors: int | None = None  # rejected rows allowed
    max_errors_percent: float | None = None  # ... or a share of the rows read
    fail_fast: bool = False
    checkpoint: str | None = None
    resume: bool = False

    def queue_depth_for(self, writers: int) -> int:
        if self.queue_depth is not None:
            return self.queue_depth
        return max(8, min(2 * writers, 64))


@dataclass(frozen=True, kw_only=True)
class ReportOptions:
    """What is shown while running and written afterwards."""

    json_path: str | None = None
    quiet: bool = False
    progress: str = "auto"
    bad_records: str | None = None


@dataclass(frozen=True, kw_only=True)
class ImportConfig:
    """One ``bulkload import`` run."""

    source: SourceOptions
    target: TargetOptions = field(default_factory=TargetOptions)
    engine: EngineOptions = field(default_factory=EngineOptions)
    report: ReportOptions = field(default_factory=ReportOptions)


# ----------------------------------------------------------------------------- profiles


def load_profile(path: str | Path, section: str = "import") -> dict[str, Any]:
    """Read a TOML profile: top-level keys, overridden by those in ``[section]``.

    Keys are option names as on the command line, with dashes or underscores.
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            document = tomllib.load(fh)
    except FileNotFoundError:
        raise UsageError(f"config file not found: {path}") from None
    except OSError as exc:
        raise UsageError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from None
    flat = {k: v for k, v in document.items() if not isinstance(v, dict) or k in _TABLE_KEYS}
    scoped = document.get(section, {})
    if not isinstance(scoped, dict):
        raise UsageError(f"{path}: [{section}] must be a table")
    flat.update(scoped)
    options = {key.replace("-", "_"): value for key, value in flat.items()}
    unknown = sorted(set(options) - KNOWN_IMPORT_OPTIONS)
    if unknown:
        raise UsageError(f"{path}: unknown option(s): {', '.join(unknown)}")
    return options


_TABLE_KEYS = {"types", "rename"}

KNOWN_IMPORT_OPTIONS = frozenset(
    {
        "paths",
        "format",
        "delimiter",
        "quote_char",
        "no_quoting",
        "header",
        "columns",
        "encoding",
        "null_values",
        "skip_rows",
        "max_field_size",
        "limit",
        "batch_size",
        "select",
        "rename",
        "types",
        "to",
        "table",
        "if_exists",
        "wal",
        "concurrency",
        "queue_depth",
        "readers",
        "rate",
        "max_batches_per_sec",
        "max_bytes_per_sec",
        "retries",
        "retry_max_wait",
        "timeout",
        "breaker_threshold",
        "breaker_cooldown",
        "max_errors",
        "fail_fast",
        "checkpoint",
        "resume",
        "connections",
        "requests_per_connection",
        "schema_name",
        "pg_method",
        "pg_format",
        "on_conflict",
        "key",
        "json",
        "quiet",
        "progress",
        "bad_records",
        *(
            "http_method",
            "http_headers",
            "http_format",
            "http_compression",
            "http_client",
            "http_preset",
            "http_idempotency_key",
            "insecure",
            "ca_cert",
            "client_cert",
            "client_key",
        ),
    }
)


# ----------------------------------------------------------------------------- building


def build_import_config(options: Mapping[str, Any]) -> ImportConfig:
    """Validate a flat mapping of option name -> value into an ``ImportConfig``."""
    unknown = set(options) - KNOWN_IMPORT_OPTIONS
    if unknown:
        raise UsageError(f"unknown option(s): {', '.join(sorted(unknown))}")
    get = options.get

    paths = tuple(_as_list(get("paths"), "paths", split=False))
    if not paths:
        raise UsageError("no input given: name at least one file, glob, directory or '-'")

    quote_char = get("quote_char", '"')
    if get("no_quoting"):
        quote_char = None
    csv = CsvOptions(
        delimiter=None
        if get("delimiter") is None
        else _single_char(get("delimiter"), "--delimiter"),
        quote_char=None if quote_char is None else _single_char(quote_char, "--quote-char"),
        header=bool(get("header", True)),
        columns=tuple(_as_list(get("columns"), "--columns")) or None,
        encoding=_encoding(get("encoding", "utf-8")),
        null_values=tuple(str(v) for v in _as_list(get("null_values"), "--null-value")),
        skip_rows=_int(get("skip_rows", 0), "--skip-rows", minimum=0),
        max_field_size=_size(get("max_field_size", 64 << 20), "--max-field-size"),
    )
    if not csv.header and not csv.columns:
        raise UsageError("--no-header needs --columns a,b,c to name the columns")
    if csv.quote_char is not None and csv.quote_char == (csv.delimiter or ","):
        raise UsageError("--quote-char and --delimiter must differ")

    fmt = get("format")
    if fmt is not None and fmt not in FORMAT_CHOICES:
        raise UsageError(f"--format must be one of {', '.join(FORMAT_CHOICES)}, not {fmt!r}")

    limit = get("limit")
    source = SourceOptions(
        paths=paths,
        format=fmt,
        csv=csv,
        batch_size=_int(get("batch_size", 10_000), "--batch-size", minimum=1),
        limit=None if limit is None else _int(limit, "--limit", minimum=0),
        select=tuple(_as_list(get("select"), "--select")) or None,
        rename=_pairs(get("rename"), "--rename"),
        types=_types(get("types")),
    )

    if_exists = get("if_exists", "append")
    if if_exists not in IF_EXISTS_CHOICES:
        raise UsageError(
            f"--if-exists must be one of {', '.join(IF_EXISTS_CHOICES)}, not {if_exists!r}"
        )
    table = get("table")
    if table is not None and not str(table).strip():
        raise UsageError("--table must not be empty")
    target = TargetOptions(
        url=_target_url(get("to") or DEFAULT_TARGET),
        table=table,
        if_exists=if_exists,
        wal=bool(get("wal", True)),
        connections=_optional_int(get("connections"), "--connections"),
        requests_per_connection=_optional_int(
            get("requests_per_connection"), "--requests-per-connection"
        ),
        schema_name=get("schema_name"),
        pg_method=_choice(get("pg_method", "copy"), "--pg-method", ("copy", "insert")),
        pg_format=_choice(get("pg_format", "binary"), "--pg-format", ("binary", "csv")),
        on_conflict=None
        if get("on_conflict") is None
        else _choice(get("on_conflict"), "--on-conflict", ("nothing", "update")),
        key=tuple(_as_list(get("key"), "--key")) or None,
        **_http_options(get),
    )
    if target.on_conflict and not target.key:
        raise UsageError("--on-conflict needs --key col1,col2 (the columns that identify a row)")

    max_errors, max_errors_percent = _max_errors(get("max_errors"))
    engine = EngineOptions(
        concurrency=_int(get("concurrency", 8), "--concurrency", minimum=1),
        queue_depth=_optional_int(get("queue_depth"), "--queue-depth"),
        readers=_int(get("readers", 1), "--readers", minimum=1),
        rate=_optional_rate(get("rate"), "--rate"),
        max_batches_per_sec=_optional_rate(get("max_batches_per_sec"), "--max-batches-per-sec"),
        max_bytes_per_sec=_optional_rate(get("max_bytes_per_sec"), "--max-bytes-per-sec"),
        retries=_int(get("retries", 5), "--retries", minimum=0),
        retry_max_wait=_seconds(get("retry_max_wait", 5.0), "--retry-max-wait"),
        timeout=_seconds(get("timeout", 120.0), "--timeout") or None,  # 0: no timeout
        breaker_threshold=_int(get("breaker_threshold", 10), "--breaker-threshold", minimum=0),
        breaker_cooldown=_seconds(get("breaker_cooldown", 5.0), "--breaker-cooldown"),
        max_errors=max_errors,
        max_errors_percent=max_errors_percent,
        fail_fast=bool(get("fail_fast", False)),
        checkpoint=get("checkpoint"),
        resume=bool(get("resume", False)),
    )
    if engine.resume and not engine.checkpoint:
        raise UsageError("--resume needs --checkpoint PATH (the file written by the first run)")

    progress = get("progress", "auto")
    if progress not in PROGRESS_CHOICES:
        raise UsageError(f"--progress must be one of {', '.join(PROGRESS_CHOICES)}")
    report = ReportOptions(
        json_path=get("json"),
        quiet=bool(get("quiet", False)),
        progress=progress,
        bad_records=get("bad_records"),
    )
    return ImportConfig(source=source, target=target, engine=engine, report=report)


HTTP_FORMATS = ("json", "ndjson", "csv", "parquet", "arrow")
HTTP_COMPRESSIONS = ("gzip", "zstd")
HTTP_CLIENTS = ("auto", "h1", "curl", "httpx")
HTTP_PRESETS = ("elasticsearch", "opensearch", "clickhouse")


def _http_options(get: Any) -> dict[str, Any]:
    """The TargetOptions fields of the HTTP backend, validated."""
    compression = get("http_compression")
    preset = get("http_preset")
    headers = get("http_headers") or ()
    return {
        "http_method": _choice(
            str(get("http_method", "POST")).upper(), "--http-method", ("POST", "PUT")
        ),
        "http_headers": tuple(str(h) for h in ([headers] if isinstance(headers, str) else headers)),
        "http_format": _choice(get("http_format", "ndjson"), "--http-format", HTTP_FORMATS),
        "http_compression": None
        if compression in (None, "none")
        else _choice(compression, "--http-compression", HTTP_COMPRESSIONS),
        "http_client": _choice(get("http_client", "auto"), "--http-client", HTTP_CLIENTS),
        "http_preset": None if preset is None else _choice(preset, "--http-preset", HTTP_PRESETS),
        "http_idempotency_key": get("http_idempotency_key") or None,
        "insecure": bool(get("insecure", False)),
        "ca_cert": get("ca_cert"),
        "client_cert": get("client_cert"),
        "client_key": get("client_key"),
    }


def merge_options(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Later layers win; a value of None means "not set here"."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update({k: v for k, v in layer.items() if v is not None})
    return merged


# ----------------------------------------------------------------------------- helpers


def _as_list(value: Any, option: str, *, split: bool = True) -> list[str]:
    """Accept a list, a tuple, or one comma-separated string; flatten commas."""
    if value is None:
        return []
    items: Iterable[Any] = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise UsageError(f"{option} must be a list or a comma-separated string")
    if not split:
        return [str(item) for item in items]
    out: list[str] = []
    for item in items:
        out.extend(part.strip() for part in str(item).split(",") if part.strip())
    return out


def _pairs(value: Any, option: str) -> dict[str, str]:
    """``a=b`` items (repeatable or comma-separated) or a TOML table -> dict."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    out: dict[str, str] = {}
    items = value if isinstance(value, list | tuple) else [value]
    # split on commas outside parentheses: price=decimal(12,2),qty=int
    parts = [p.strip() for item in items for p in re.split(r",(?![^()]*\))", str(item))]
    for item in filter(None, parts):
        name, sep, target = item.partition("=")
        if not sep or not name.strip() or not target.strip():
            raise UsageError(f"{option} expects name=value, got {item!r}")
        out[name.strip()] = target.strip()
    return out


def _target_url(value: Any) -> str:
    """The --to URL, parsed now: a bad port or bracket would surface mid-run otherwise."""
    url = str(value)
    try:
        _ = urlsplit(url).port  # raises for a port that is not a number in 0..65535
    except ValueError as exc:
        shown = redact_url(url)  # "<unparseable URL>" when even the password is unreadable
        raise UsageError(f"--to: invalid URL {shown}: {exc}") from None
    return url


def _types(value: Any) -> dict[str, str]:
    """``--type col=TYPE`` pairs, each TYPE checked now so a typo stops the run before it
    opens anything."""
    from bulkload.sources.schema import parse_type  # here: bulkload.sources imports config

    types = _pairs(value, "--type")
    for column, name in types.items():
        try:
            parse_type(name)
        except UsageError as exc:
            reason = str(exc).removeprefix("--type: ")
            raise UsageError(f"--type {column}={name}: {reason}") from None
    return types


def _choice(value: Any, option: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise UsageError(f"{option} must be one of {', '.join(choices)}, not {value!r}")
    return str(value)


def _optional_int(value: Any, option: str) -> int | None:
    return None if value is None else _int(value, option, minimum=1)


def _number(value: Any, option: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{option} must be a number, not {value!r}") from None
    if not math.isfinite(number):
        raise UsageError(f"{option} must be a finite number, not {value!r}")
    return number


def _optional_rate(value: Any, option: str) -> float | None:
    """A limit per second, or None (not set): 0 would mean "never send", so it is refused
    rather than read as "no limit"."""
    if value is None:
        return None
    number = _number(value, option)
    if number <= 0:
        raise UsageError(f"{option} must be greater than 0, not {value} (omit it for no limit)")
    return number


def _seconds(value: Any, option: str) -> float:
    """A duration in seconds; 0 is a real value (no wait)."""
    number = _number(value, option)
    if number < 0:
        raise UsageError(f"{option} must not be negative, not {value!r}")
    return number


def _max_errors(value: Any) -> tuple[int | None, float | None]:
    """``--max-errors 100`` (rows) or ``--max-errors 2.5%`` (of the rows read)."""
    if value is None:
        return None, None
    text = str(value).strip()
    if text.endswith("%"):
        percent = _number(text[:-1], "--max-errors")
        if not 0 < percent <= 100:
            raise UsageError(f"--max-errors percentage must be in (0, 100], not {text!r}")
        return None, percent
    return _int(text, "--max-errors", minimum=0), None


def _int(value: Any, option: str, *, minimum: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise UsageError(f"{option} must be a whole number, not {value!r}") from None
    if number < minimum:
        raise UsageError(f"{option} must be at least {minimum}, not {number}")
    return number


_ESCAPES = {"\\t": "\t", "tab": "\t", "\\n": "\n"}


_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?)i?b?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def _size(value: Any, option: str) -> int:
    """Bytes from 67108864, 512KB, 64MB, 1GB (binary units; KiB/MiB spellings too)."""
    match = _SIZE.match(str(value))
    if not match or int(match.group(1)) == 0:
        raise UsageError(f"{option} must be a size such as 64MB, 512KB or a number of bytes")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]


def _single_char(value: Any, option: str) -> str:
    text = _ESCAPES.get(str(value), str(value))
    if len(text) != 1:
        raise UsageError(f"{option} must be a single character, not {value!r}")
    if text in "\r\n":
        raise UsageError(f"{option} cannot be a line break")
    return text


def _encoding(value: Any) -> str:
    import codecs

    try:
        return codecs.lookup(str(value)).name
    except LookupError:
        raise UsageError(f"--encoding: unknown encoding {value!r}") from None
