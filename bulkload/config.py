"""Every option of a run as frozen dataclasses, and how they are assembled.

Precedence, lowest first: built-in defaults < TOML profile (``--config``) <
``BULKLOAD_*`` environment variables < command-line flags. The CLI resolves the last
two (typer reads the environment), hands this module one flat mapping of the options the
user actually set, and :func:`build_import_config` validates it into an ``ImportConfig``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bulkload.errors import UsageError

DEFAULT_TARGET = "sqlite:///bulkload.db"
IF_EXISTS_CHOICES = ("append", "replace", "truncate", "fail")
FORMAT_CHOICES = ("csv", "parquet")
PROGRESS_CHOICES = ("auto", "rich", "plain", "off")


@dataclass(frozen=True, kw_only=True)
class CsvOptions:
    """How CSV text is split into fields."""

    delimiter: str = ","
    quote_char: str | None = '"'
    header: bool = True
    columns: tuple[str, ...] | None = None
    encoding: str = "utf-8"
    # Extra spellings of null; an unquoted empty field is always null.
    null_values: tuple[str, ...] = ()
    skip_rows: int = 0


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


@dataclass(frozen=True, kw_only=True)
class EngineOptions:
    """How batches fan out to the backend."""

    concurrency: int = 8
    # Batches the reader may run ahead of the writers; None: twice the writers, 2 to 64.
    queue_depth: int | None = None

    def queue_depth_for(self, writers: int) -> int:
        if self.queue_depth is not None:
            return self.queue_depth
        return max(2, min(2 * writers, 64))


@dataclass(frozen=True, kw_only=True)
class ReportOptions:
    """What is shown while running and written afterwards."""

    json_path: str | None = None
    quiet: bool = False
    progress: str = "auto"


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
        "json",
        "quiet",
        "progress",
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
        delimiter=_single_char(get("delimiter", ","), "--delimiter"),
        quote_char=None if quote_char is None else _single_char(quote_char, "--quote-char"),
        header=bool(get("header", True)),
        columns=tuple(_as_list(get("columns"), "--columns")) or None,
        encoding=_encoding(get("encoding", "utf-8")),
        null_values=tuple(str(v) for v in _as_list(get("null_values"), "--null-value")),
        skip_rows=_int(get("skip_rows", 0), "--skip-rows", minimum=0),
    )
    if not csv.header and not csv.columns:
        raise UsageError("--no-header needs --columns a,b,c to name the columns")
    if csv.quote_char is not None and csv.quote_char == csv.delimiter:
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
        types=_pairs(get("types"), "--type"),
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
        url=str(get("to") or DEFAULT_TARGET),
        table=table,
        if_exists=if_exists,
        wal=bool(get("wal", True)),
    )

    queue_depth = get("queue_depth")
    engine = EngineOptions(
        concurrency=_int(get("concurrency", 8), "--concurrency", minimum=1),
        queue_depth=None if queue_depth is None else _int(queue_depth, "--queue-depth", minimum=1),
    )

    progress = get("progress", "auto")
    if progress not in PROGRESS_CHOICES:
        raise UsageError(f"--progress must be one of {', '.join(PROGRESS_CHOICES)}")
    report = ReportOptions(
        json_path=get("json"), quiet=bool(get("quiet", False)), progress=progress
    )
    return ImportConfig(source=source, target=target, engine=engine, report=report)


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
    for item in _as_list(value, option):
        name, sep, target = item.partition("=")
        if not sep or not name.strip() or not target.strip():
            raise UsageError(f"{option} expects name=value, got {item!r}")
        out[name.strip()] = target.strip()
    return out


def _int(value: Any, option: str, *, minimum: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise UsageError(f"{option} must be a whole number, not {value!r}") from None
    if number < minimum:
        raise UsageError(f"{option} must be at least {minimum}, not {number}")
    return number


_ESCAPES = {"\\t": "\t", "tab": "\t", "\\n": "\n"}


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
