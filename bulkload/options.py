"""Every option of every command, declared once.

An :class:`Option` says everything about one option: its name (the Python identifier,
the TOML profile key and the ``BULKLOAD_<NAME>`` variable), its flags, its help text and
panel, its default, the validator that turns what the user wrote into a typed value,
and the commands that take it. From these declarations come the typer parameters of
``import`` and ``bench`` (cli.py), the keys a profile may hold, and the validated values
the config builders (config.py) assemble into frozen dataclasses.

Options are grouped by help panel below. A backend's own options form a group of their
own (see ``SQLITE`` and ``POSTGRESQL``). Adding a backend's options: one more group,
listed in ``OPTIONS``, and a field of the same name (or ``field=``) in
``config.TargetOptions``; the builders fill dataclass fields by name, so nothing else
changes.

This module is imported by ``bulkload --help``: it must stay cheap to import (standard
library only; a validator that needs more imports it when it runs).
"""

from __future__ import annotations

import codecs
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bulkload.errors import UsageError
from bulkload.redact import redact_url

IMPORT = "import"
BENCH = "bench"
COMMANDS = (IMPORT, BENCH)

# (value as written, the flag to name in an error) -> the typed value
Parse = Callable[[Any, str], Any]

TYPE_HELP = "int, float, bool, date, timestamp, timestamptz, string, decimal(P,S)"


@dataclass(frozen=True, kw_only=True)
class Option:
    """One option. Everything else about it is derived from this declaration."""

    name: str  # Python identifier and profile key; BULKLOAD_<NAME> unless env=False
    flags: tuple[str, ...]  # "--batch-size", "-c"; a flag pair as "--wal/--no-wal"
    help: str
    parse: Parse  # validator: raises UsageError naming the flag
    default: Any = None  # as a user would write it; None: not set
    default_help: str | None = None  # --help's text for a default that is not a value
    panel: str = ""  # set by the group the option is declared in
    commands: frozenset[str] = frozenset(COMMANDS)
    cli_type: type = str  # what typer converts the command-line text into first
    metavar: str | None = None
    env: bool = True
    repeatable: bool = False
    table: bool = False  # a profile may give it as a TOML table of name = value
    argument: bool = False  # positional on the command line
    in_profile: bool = True  # False: command line and environment only
    field: str | None = None  # the dataclass field it fills, when not ``name``

    @property
    def flag(self) -> str:
        """The spelling errors use."""
        return self.flags[0].split("/")[0] if self.flags else self.name.upper()

    @property
    def envvar(self) -> str | None:
        return f"BULKLOAD_{self.name.upper()}" if self.env else None

    @property
    def target(self) -> str:
        return self.field or self.name

    @property
    def full_help(self) -> str:
        """The help with the default. (Typer's own display of defaults cannot serve: every
        typer default is None, "not given", so that a profile can supply the value.)"""
        shown = self.shown_default
        return self.help if shown is None else f"{self.help.removesuffix('.')} (default: {shown})."

    @property
    def shown_default(self) -> str | None:
        """The default as ``--help`` shows it, or None to show none."""
        if self.default_help is not None:
            return self.default_help
        if self.default is None or self.default == () or self.default is False:
            return None
        if self.default is True:  # a flag pair: its positive spelling
            return self.flags[0].split("/")[0]
        return str(self.default)

    def value(self, raw: Any) -> Any:
        """The typed value of ``raw`` (None: the default's)."""
        if raw is None:
            raw = self.default
        if isinstance(raw, Mapping) and not self.table:  # a profile's [name] section
            raise UsageError(f"{self.flag} takes a value, not a table")
        return None if raw is None else self.parse(raw, self.flag)


# ----------------------------------------------------------------------------- validators


def text(value: Any, option: str) -> str:
    return str(value)


def non_empty(value: Any, option: str) -> str:
    if not str(value).strip():
        raise UsageError(f"{option} must not be empty")
    return str(value)


def file_path(value: Any, option: str) -> str:
    """A file to write; not '-': stdout is for the terminal view (or --json -)."""
    path = non_empty(value, option)
    if path == "-":
        raise UsageError(f"{option} writes a file: give a path, not -")
    return path


def flag(value: Any, option: str) -> bool:
    """true/false from the command line, a variable (1, yes...) or a TOML boolean."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise UsageError(f"{option} must be true or false, not {value!r}")


def whole(*, minimum: int) -> Parse:
    def parse(value: Any, option: str) -> int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise UsageError(f"{option} must be a whole number, not {value!r}")
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise UsageError(f"{option} must be a whole number, not {value!r}") from None
        if number < minimum:
            raise UsageError(f"{option} must be at least {minimum}, not {number}")
        return number

    return parse


def number(value: Any, option: str) -> float:
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{option} must be a number, not {value!r}") from None
    if not math.isfinite(result):
        raise UsageError(f"{option} must be a finite number, not {value!r}")
    return result


def positive_rate(value: Any, option: str) -> float:
    """A limit per second: 0 would mean "never send", so it is refused rather than read
    as "no limit"."""
    result = number(value, option)
    if result <= 0:
        raise UsageError(f"{option} must be greater than 0, not {value} (omit it for no limit)")
    return result


_DURATION = re.compile(r"\s*(?P<number>[0-9]*\.?[0-9]+)\s*(?P<unit>us|µs|ms|s|m|h)?\s*")
_DURATION_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: Any, option: str) -> float:
    """Seconds from ``500ms``, ``2s``, ``1m``, ``1h``, ``200us`` or a bare number of
    seconds (``1.5``); 0 is a real value (no wait)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.fullmatch(str(value))
        if match is None:
            try:  # "-1", "nan", "1e3": a number, refused or taken below
                seconds = float(str(value))
            except ValueError:
                raise UsageError(
                    f"{option} must be a duration such as 500ms, 2s, 1m or 1.5 (seconds), "
                    f"not {value!r}"
                ) from None
        else:
            seconds = float(match["number"]) * _DURATION_UNITS[match["unit"] or "s"]
    if not math.isfinite(seconds):
        raise UsageError(f"{option} must be a finite number, not {value!r}")
    if seconds < 0:
        raise UsageError(f"{option} must not be negative, not {value!r}")
    return seconds


def positive_duration(value: Any, option: str) -> float:
    seconds = parse_duration(value, option)
    if seconds == 0:
        raise UsageError(f"{option} must be longer than 0, not {value!r}")
    return seconds


def duration_or_none(value: Any, option: str) -> float | None:
    """A duration where 0 means "no limit"."""
    return parse_duration(value, option) or None


def choice(*choices: str) -> Parse:
    def parse(value: Any, option: str) -> str:
        if value not in choices:
            raise UsageError(f"{option} must be one of {', '.join(choices)}, not {value!r}")
        return str(value)

    return parse


def listed(value: Any, option: str, *, split: bool = True) -> list[str]:
    """A list, a tuple, or one comma-separated string; commas inside items split too."""
    items: Iterable[Any] = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise UsageError(f"{option} must be a list or a comma-separated string")
    if not split:
        return [str(item) for item in items]
    out: list[str] = []
    for item in items:
        out.extend(part.strip() for part in str(item).split(",") if part.strip())
    return out


def names(value: Any, option: str) -> tuple[str, ...] | None:
    return tuple(listed(value, option)) or None


def strings(value: Any, option: str) -> tuple[str, ...]:
    return tuple(listed(value, option))


def paths(value: Any, option: str) -> tuple[str, ...] | None:
    return tuple(listed(value, option, split=False)) or None


def pairs(value: Any, option: str) -> dict[str, str]:
    """``a=b`` items (repeatable or comma-separated) or a TOML table -> dict."""
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


def column_types(value: Any, option: str) -> dict[str, str]:
    """``--type col=TYPE`` pairs, each TYPE checked now so a typo stops the run before it
    opens anything."""
    types = pairs(value, option)
    if not types:
        return types
    from bulkload.sources.schema import parse_type  # pyarrow: only when types are given

    for column, name in types.items():
        try:
            parse_type(name)
        except UsageError as exc:
            reason = str(exc).removeprefix(f"{option}: ")
            raise UsageError(f"{option} {column}={name}: {reason}") from None
    return types


def target_url(value: Any, option: str) -> str:
    """The URL, parsed now: a bad port or bracket would surface mid-run otherwise."""
    url = str(value)
    try:
        _ = urlsplit(url).port  # raises for a port that is not a number in 0..65535
    except ValueError as exc:
        shown = redact_url(url)  # "<unparseable URL>" when even the password is unreadable
        raise UsageError(f"{option}: invalid URL {shown}: {exc}") from None
    return url


def max_errors(value: Any, option: str) -> tuple[int | None, float | None]:
    """``100`` (rows) or ``2.5%`` (of the rows read) -> (count, percent)."""
    text_ = str(value).strip()
    if text_.endswith("%"):
        percent = number(text_[:-1], option)
        if not 0 < percent <= 100:
            raise UsageError(f"{option} percentage must be in (0, 100], not {text_!r}")
        return None, percent
    return whole(minimum=0)(text_, option), None


_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?)i?b?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def size(value: Any, option: str) -> int:
    """Bytes from 67108864, 512KB, 64MB, 1GB (binary units; KiB/MiB spellings too)."""
    match = _SIZE.match(str(value))
    if not match or int(match.group(1)) == 0:
        raise UsageError(f"{option} must be a size such as 64MB, 512KB or a number of bytes")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]


_ESCAPES = {"\\t": "\t", "tab": "\t", "\\n": "\n"}


def single_char(value: Any, option: str) -> str:
    char = _ESCAPES.get(str(value), str(value))
    if len(char) != 1:
        raise UsageError(f"{option} must be a single character, not {value!r}")
    if char in "\r\n":
        raise UsageError(f"{option} cannot be a line break")
    return char


def encoding(value: Any, option: str) -> str:
    try:
        return codecs.lookup(str(value)).name
    except LookupError:
        raise UsageError(f"{option}: unknown encoding {value!r}") from None


def process_count(value: Any, option: str) -> int | str:
    """``auto``, or a number of processes (at least 1)."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    if isinstance(value, str) and not value.strip().lstrip("+-").isdigit():
        raise UsageError(f"{option} must be auto or a whole number, not {value!r}")
    return int(whole(minimum=1)(value, option))


def levels(value: Any, option: str) -> tuple[int, ...] | str:
    """``auto``, or concurrency levels ``1,2,4`` (sorted, each once)."""
    if isinstance(value, str) and value.strip() == "auto":
        return "auto"
    return _ascending(value, option, whole(minimum=1))


def batch_sizes(value: Any, option: str) -> tuple[int, ...]:
    return _ascending(value, option, whole(minimum=1))


def rates(value: Any, option: str) -> tuple[float, ...]:
    return _ascending(value, option, positive_rate)


def _ascending(value: Any, option: str, each: Parse) -> tuple[Any, ...]:
    items = listed(value if isinstance(value, list | tuple) else str(value), option)
    if not items:
        raise UsageError(f"{option} needs at least one value")
    return tuple(sorted({each(item, option) for item in items}))


def synthetic(value: Any, option: str) -> Any:
    """A ``rows=N,columns=K,...`` spec, or the same as a TOML table."""
    from bulkload.sources.synthetic import parse_synthetic  # numpy: only for --synthetic

    if isinstance(value, Mapping):
        value = ",".join(f"{key}={item}" for key, item in value.items())
    return parse_synthetic(str(value), option=option)


def slo(value: Any, option: str) -> tuple[Any, ...]:
    """Thresholds from each item, each holding one or more comma-separated expressions."""
    from bulkload.stats.thresholds import parse_slo

    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise UsageError(f"{option} must be a list or a comma-separated string")
    return tuple(threshold for item in items for threshold in parse_slo(str(item), option=option))


def percentage(value: Any, option: str) -> float:
    """``10%`` (or ``10``) as the fraction 0.1."""
    written = str(value).strip()
    try:
        percent = float(written.removesuffix("%"))
    except ValueError:
        raise UsageError(f"{option} must be a percentage like 10%, not {value!r}") from None
    if not 0 <= percent < 100 or not math.isfinite(percent):
        raise UsageError(f"{option} must be from 0% to less than 100%, not {written}")
    return percent / 100


_SHARD = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


def shard(value: Any, option: str) -> tuple[int, int]:
    """``i/N``: the i-th of N shares (i from 1 to N)."""
    match = _SHARD.fullmatch(str(value))
    if match is None:
        raise UsageError(f"{option} must be i/N (e.g. 2/4), not {value!r}")
    index, count = int(match[1]), int(match[2])
    if count < 1 or not 1 <= index <= count:
        raise UsageError(f"{option} {index}/{count}: i must be from 1 to N")
    return index, count


# ----------------------------------------------------------------------------- declarations

BOTH = frozenset(COMMANDS)
IMPORT_ONLY = frozenset({IMPORT})
BENCH_ONLY = frozenset({BENCH})


def _panel(name: str, *options: Option) -> tuple[Option, ...]:
    return tuple(replace(option, panel=name) for option in options)


TARGET = _panel(
    "Target",
    Option(
        name="to",
        field="url",
        flags=("--to",),
        parse=target_url,
        default="sqlite:///bulkload.db",
        help="Target URL: sqlite:///file.db, postgresql://user@host/db (or postgres://), "
        "null://, sim://?latency=5ms (see 'bulkload backends').",
    ),
    Option(
        name="table",
        flags=("--table",),
        parse=non_empty,
        default_help="the first file's name without extensions",
        help="Table name.",
    ),
    Option(
        name="if_exists",
        flags=("--if-exists",),
        parse=choice("append", "replace", "truncate", "fail"),
        default="append",
        help="When the table exists: append, replace, truncate, fail.",
    ),
    Option(
        name="connections",
        flags=("--connections",),
        cli_type=int,
        parse=whole(minimum=1),
        default_help="the backend's",
        help="Connections to open, for backends that hold them.",
    ),
    Option(
        name="requests_per_connection",
        flags=("--requests-per-connection",),
        cli_type=int,
        parse=whole(minimum=1),
        default_help="the backend's",
        help="Writes one connection may carry at once.",
    ),
)

SQLITE = _panel(
    "SQLite",
    Option(
        name="wal",
        flags=("--wal/--no-wal",),
        cli_type=bool,
        parse=flag,
        default=True,
        help="SQLite: WAL journal. --no-wal is faster but a crash can corrupt the file.",
    ),
)

POSTGRESQL = _panel(
    "PostgreSQL",
    Option(
        name="schema_name",
        flags=("--schema-name",),
        parse=non_empty,
        default_help="public",
        help="PostgreSQL: schema of the table (created if missing).",
    ),
    Option(
        name="pg_method",
        flags=("--pg-method",),
        parse=choice("copy", "insert"),
        default="copy",
        help="PostgreSQL: copy (fastest) or insert.",
    ),
    Option(
        name="pg_format",
        flags=("--pg-format",),
        parse=choice("binary", "csv"),
        default="binary",
        help="PostgreSQL COPY format: binary (least server work) or csv (the server converts "
        "the text).",
    ),
    Option(
        name="on_conflict",
        flags=("--on-conflict",),
        parse=choice("nothing", "update"),
        help="PostgreSQL upsert when --key columns match: nothing (keep) or update (overwrite).",
    ),
    Option(
        name="key",
        flags=("--key",),
        parse=names,
        help="PostgreSQL: the columns identifying a row, for --on-conflict.",
    ),
)


def http_method(value: Any, option: str) -> str:
    return str(choice("POST", "PUT")(str(value).upper(), option))


def http_compression(value: Any, option: str) -> str | None:
    return None if value == "none" else choice("gzip", "zstd")(value, option)


def header_lines(value: Any, option: str) -> tuple[str, ...]:
    """``Name: value`` items, not split on commas (header values hold commas); their
    ``${VAR}`` is expanded, and checked, by the HTTP backend when it is built."""
    return tuple(listed(value, option, split=False))


HTTP = _panel(
    "HTTP",
    Option(
        name="http_method",
        flags=("--http-method",),
        parse=http_method,
        default="POST",
        help="HTTP: the request method, POST or PUT.",
    ),
    Option(
        name="http_headers",
        flags=("--http-header",),
        repeatable=True,
        env=False,
        parse=header_lines,
        default=(),
        metavar="'NAME: VALUE'",
        help="HTTP: a header for every request (repeatable); ${VAR} in a value comes from "
        "the environment and is never shown.",
    ),
    Option(
        name="http_format",
        flags=("--http-format",),
        parse=choice("json", "ndjson", "csv", "parquet", "arrow"),
        default="ndjson",
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
        default="auto",
        help="HTTP: auto (h1, or curl when a proxy applies or --http-version 2), h1 (lean, "
        "fastest), curl (libcurl) or httpx.",
    ),
    Option(
        name="http_version",
        flags=("--http-version",),
        parse=choice("1.1", "2"),
        default="1.1",
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
        default=False,
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

SOURCE = _panel(
    "Source",
    Option(
        name="paths",
        flags=(),
        argument=True,
        repeatable=True,
        env=False,
        parse=paths,
        help="CSV/Parquet files, globs ('logs/*.csv.gz'), directories, or - for stdin.",
    ),
    Option(
        name="synthetic",
        flags=("--synthetic",),
        commands=BENCH_ONLY,
        table=True,
        parse=synthetic,
        metavar="<spec>",
        help="Generated rows instead of files: rows=N[,columns=K,seed=S,types=int:float:string,"
        "string_length=L].",
    ),
    Option(
        name="format",
        flags=("--format",),
        parse=choice("csv", "parquet"),
        default_help="from the file extension; csv for stdin",
        help="csv or parquet.",
    ),
    Option(
        name="batch_size",
        flags=("--batch-size",),
        cli_type=int,
        parse=whole(minimum=1),
        default=10_000,
        help="Rows per batch (one write, one transaction).",
    ),
    Option(
        name="limit",
        flags=("--limit",),
        commands=IMPORT_ONLY,
        cli_type=int,
        parse=whole(minimum=0),
        help="Stop after this many rows.",
    ),
    Option(
        name="select",
        flags=("--select",),
        parse=names,
        help="Load only these columns, in this order: a,b,c.",
    ),
    Option(
        name="rename",
        flags=("--rename",),
        repeatable=True,
        table=True,
        env=False,
        parse=pairs,
        default=(),
        help="Rename a column: old=new (repeatable).",
    ),
    Option(
        name="types",
        flags=("--type",),
        repeatable=True,
        table=True,
        env=False,
        parse=column_types,
        default=(),
        help=f"Column type, overriding inference: col=TYPE (repeatable). Types: {TYPE_HELP}.",
    ),
    Option(
        name="readers",
        flags=("--readers",),
        commands=IMPORT_ONLY,
        cli_type=int,
        parse=whole(minimum=1),
        default=1,
        help="Files parsed in parallel.",
    ),
)

CSV = _panel(
    "CSV",
    Option(
        name="delimiter",
        flags=("--delimiter",),
        parse=single_char,
        default_help=", or a tab for .tsv",
        help="Field delimiter; 'tab' or '\\t' for tabs.",
    ),
    Option(
        name="quote_char",
        flags=("--quote-char",),
        parse=single_char,
        default='"',
        help="Quote character.",
    ),
    Option(
        name="no_quoting",
        flags=("--no-quoting",),
        cli_type=bool,
        env=False,
        parse=flag,
        default=False,
        help="Treat quote characters as plain text.",
    ),
    Option(
        name="header",
        flags=("--header/--no-header",),
        cli_type=bool,
        parse=flag,
        default=True,
        help="Whether the first row names the columns.",
    ),
    Option(
        name="columns",
        flags=("--columns",),
        parse=names,
        help="Column names a,b,c (needed with --no-header; replaces the header otherwise).",
    ),
    Option(
        name="encoding",
        flags=("--encoding",),
        parse=encoding,
        default="utf-8",
        help="Text encoding (a byte-order mark is skipped).",
    ),
    Option(
        name="null_values",
        flags=("--null-value",),
        repeatable=True,
        env=False,
        parse=strings,
        default=(),
        help="A spelling of null, e.g. NULL or \\N (repeatable). Empty fields are always null.",
    ),
    Option(
        name="skip_rows",
        flags=("--skip-rows",),
        cli_type=int,
        parse=whole(minimum=0),
        default=0,
        help="Rows to skip before the header.",
    ),
    Option(
        name="max_field_size",
        flags=("--max-field-size",),
        parse=size,
        default="64MB",
        metavar="<size>",
        help="Largest CSV field loaded; a larger one stops the run: 512KB, 64MB, 1GB or bytes.",
    ),
)

SWEEP = _panel(
    "Sweep",
    Option(
        name="sweep",
        field="levels",
        flags=("--sweep",),
        commands=BENCH_ONLY,
        parse=levels,
        default="1,2,4,8,16,32,64,128,256",
        metavar="<levels>",
        help="Concurrency levels to run, e.g. 1,4,16 (closed model: exactly that many writes "
        "in flight), or auto (double until throughput stops growing, within --max-time).",
    ),
    Option(
        name="sweep_batch_size",
        field="batch_sizes",
        flags=("--sweep-batch-size",),
        commands=BENCH_ONLY,
        parse=batch_sizes,
        default_help="--batch-size",
        metavar="<sizes>",
        help="Batch sizes to run each level with, e.g. 1000,10000 (a second axis).",
    ),
    Option(
        name="sweep_rate",
        field="rates",
        flags=("--sweep-rate",),
        commands=BENCH_ONLY,
        parse=rates,
        metavar="<rates>",
        help="Arrival rates to run instead of --sweep levels, in batch writes per second, "
        "e.g. 100,200,400 (open model: latency counts from when each write was due; "
        "--concurrency caps the writes in flight).",
    ),
    Option(
        name="warmup",
        flags=("--warmup",),
        commands=BENCH_ONLY,
        parse=parse_duration,
        default="2s",
        metavar="<duration>",
        help="Run each level this long before measuring.",
    ),
    Option(
        name="duration",
        flags=("--duration",),
        commands=BENCH_ONLY,
        parse=positive_duration,
        default="10s",
        metavar="<duration>",
        help="Measure each level this long (or give --rows or --batches instead).",
    ),
    Option(
        name="rows",
        flags=("--rows",),
        commands=BENCH_ONLY,
        cli_type=int,
        parse=whole(minimum=1),
        help="Measure each level over this many rows, instead of --duration.",
    ),
    Option(
        name="batches",
        flags=("--batches",),
        commands=BENCH_ONLY,
        cli_type=int,
        parse=whole(minimum=1),
        help="Measure each level over this many batch writes, instead of --duration.",
    ),
    Option(
        name="max_time",
        flags=("--max-time",),
        commands=BENCH_ONLY,
        parse=positive_duration,
        default="5m",
        metavar="<duration>",
        help="--sweep auto: stop adding levels after this long in all.",
    ),
    Option(
        name="reset",
        flags=("--reset",),
        commands=BENCH_ONLY,
        cli_type=bool,
        parse=flag,
        default=False,
        help="Empty the target table between levels.",
    ),
    Option(
        name="slo",
        flags=("--slo",),
        commands=BENCH_ONLY,
        repeatable=True,
        env=False,
        parse=slo,
        default=(),
        metavar="<expr>",
        help="Service-level objective, e.g. p99<50ms or error_rate@all<0.1% (repeatable; "
        "comma-separated expressions allowed).",
    ),
)

GATES = _panel(
    "CI gates and shards",
    Option(
        name="threshold",
        field="thresholds",
        flags=("--threshold",),
        commands=BENCH_ONLY,
        repeatable=True,
        env=False,
        parse=slo,
        default=(),
        metavar="<expr>",
        help="A gate, e.g. p99<50ms, rows_per_s@32>20000 or error_rate@all<0.1% (repeatable); "
        "without @LEVEL it is judged on the recommended level. A failed gate exits 99.",
    ),
    Option(
        name="abort_on_fail",
        flags=("--abort-on-fail",),
        commands=BENCH_ONLY,
        cli_type=bool,
        parse=flag,
        default=False,
        help="Stop the sweep at the first failed gate (a gate on the recommended level is "
        "judged at the end).",
    ),
    Option(
        name="baseline",
        flags=("--baseline",),
        commands=BENCH_ONLY,
        parse=non_empty,
        metavar="<run.json>",
        help="Compare rows/s and p99 per level with this saved --json result; a regression "
        "beyond --max-regression exits 99.",
    ),
    Option(
        name="max_regression",
        flags=("--max-regression",),
        commands=BENCH_ONLY,
        parse=percentage,
        default="10%",
        metavar="<percent>",
        help="How much worse than --baseline a level may be (rows/s lower, p99 higher).",
    ),
    Option(
        name="shard",
        flags=("--shard",),
        commands=BENCH_ONLY,
        parse=shard,
        metavar="<i/N>",
        help="Run the i-th of N shares of the sweep (keys, files' batches, each level's "
        "concurrency or rate, and counts divided); bulkload report merge joins the results.",
    ),
)

PROCESSES = _panel(
    "Processes",
    Option(
        name="processes",
        flags=("--processes",),
        parse=process_count,
        default_help="bench: auto; import: 1",
        metavar="<P|auto>",
        help="Run in this many worker processes, for when one event loop is the "
        "bottleneck; results merged. bench: each with its share of every level (as "
        "--shard i/N), started together; auto: one, unless a short probe of the heaviest "
        "level finds the event loop saturated against a network target, then one per core "
        "(says why). import: each loads every P-th batch of the files with 1/P of "
        "--concurrency and of the rates.",
    ),
)

_LOCAL_CLUSTER = re.compile(r"local:(\d+)")


def local_workers(address: str) -> int | None:
    """N of a ``local:N`` cluster address; None for a scheduler's address."""
    local = _LOCAL_CLUSTER.fullmatch(address)
    return None if local is None else int(local[1])


def cluster_address(value: Any, option: str) -> str:
    """A Dask scheduler address (``tcp://host:8786``) or ``local:N`` (N local workers)."""
    text = str(value).strip()
    local = local_workers(text)
    if local is not None:
        if local < 1:
            raise UsageError(f"{option} local:N needs N >= 1, not {text!r}")
        return text
    if "://" not in text or not urlsplit(text).hostname:
        raise UsageError(
            f"{option} must be a scheduler address (tcp://host:8786) or local:N, not {text!r}"
        )
    return text


CLUSTER = _panel(
    "Cluster",
    Option(
        name="cluster",
        field="address",
        flags=("--cluster",),
        parse=cluster_address,
        metavar="<address|local:N>",
        help="Run on a Dask cluster (pip install 'bulkload[dask]'): a scheduler address, or "
        "local:N for N worker processes on this machine. bench: each level split among the "
        "workers; import: the files.",
    ),
    Option(
        name="workers",
        flags=("--workers",),
        cli_type=int,
        parse=whole(minimum=1),
        default_help="every worker of the cluster",
        help="How many cluster workers take part (bench: each runs concurrency/W or rate/W "
        "of every level).",
    ),
)

ENGINE = _panel(
    "Engine",
    Option(
        name="concurrency",
        flags=("--concurrency", "-c"),
        cli_type=int,
        parse=whole(minimum=1),
        default=8,
        help="Batches in flight at most; capped by what the target allows. bench: the cap "
        "in the open model (--sweep-rate).",
    ),
    Option(
        name="queue_depth",
        flags=("--queue-depth",),
        commands=IMPORT_ONLY,
        cli_type=int,
        parse=whole(minimum=1),
        default_help="2 x writers, 8..64",
        help="Batches the readers may run ahead of the writers.",
    ),
    Option(
        name="rate",
        flags=("--rate",),
        cli_type=float,
        parse=positive_rate,
        help="At most this many rows per second.",
    ),
    Option(
        name="max_batches_per_sec",
        flags=("--max-batches-per-sec",),
        cli_type=float,
        parse=positive_rate,
        help="At most this many batch writes per second.",
    ),
    Option(
        name="max_bytes_per_sec",
        flags=("--max-bytes-per-sec",),
        cli_type=float,
        parse=positive_rate,
        help="At most this many bytes (of batch data) per second.",
    ),
)

ERRORS = _panel(
    "Errors and retries",
    Option(
        name="retries",
        flags=("--retries",),
        cli_type=int,
        parse=whole(minimum=0),
        default=5,
        help="Retries of a batch after a transient error.",
    ),
    Option(
        name="retry_max_wait",
        flags=("--retry-max-wait",),
        parse=parse_duration,
        default="5s",
        metavar="<duration>",
        help="Longest wait between retries.",
    ),
    Option(
        name="timeout",
        flags=("--timeout",),
        parse=duration_or_none,
        default="120s",
        metavar="<duration>",
        help="How long one batch write (or connecting to the target) may take; 0 for no limit.",
    ),
    Option(
        name="breaker_threshold",
        flags=("--breaker-threshold",),
        cli_type=int,
        parse=whole(minimum=0),
        default=10,
        help="Consecutive failures that pause sending (circuit breaker); 0 never.",
    ),
    Option(
        name="breaker_cooldown",
        flags=("--breaker-cooldown",),
        parse=parse_duration,
        default="5s",
        metavar="<duration>",
        help="How long the circuit stays open.",
    ),
    Option(
        name="max_errors",
        flags=("--max-errors",),
        commands=IMPORT_ONLY,
        parse=max_errors,
        help="Abort (exit 2) when more rows than this are rejected: a count, or a share like 1%.",
    ),
    Option(
        name="fail_fast",
        flags=("--fail-fast",),
        commands=IMPORT_ONLY,
        cli_type=bool,
        parse=flag,
        default=False,
        help="Abort on the first error or rejected row.",
    ),
    Option(
        name="bad_records",
        flags=("--bad-records",),
        commands=IMPORT_ONLY,
        parse=text,
        default_help="<table>.bad-records.csv",
        help="CSV file for rejected rows (created if needed).",
    ),
    Option(
        name="checkpoint",
        flags=("--checkpoint",),
        commands=IMPORT_ONLY,
        parse=text,
        help="Record committed batches in this file.",
    ),
    Option(
        name="resume",
        flags=("--resume",),
        commands=IMPORT_ONLY,
        cli_type=bool,
        parse=flag,
        default=False,
        help="Skip the batches --checkpoint says are committed.",
    ),
)

OUTPUT = _panel(
    "Output",
    Option(
        name="json",
        field="json_path",
        flags=("--json",),
        parse=text,
        help="Write the summary as JSON to this file, or - for stdout.",
    ),
    Option(
        name="html",
        field="html_path",
        flags=("--html",),
        parse=file_path,
        commands=BENCH_ONLY,
        metavar="PATH",
        help="Write the HTML report (charts, levels; one self-contained file) to this file; "
        "needs bulkload[html].",
    ),
    Option(
        name="quiet",
        flags=("--quiet", "-q"),
        cli_type=bool,
        parse=flag,
        default=False,
        help="No progress display; print only the summary.",
    ),
    Option(
        name="progress",
        flags=("--progress",),
        parse=choice("auto", "rich", "plain", "off"),
        default="auto",
        help="auto (live on a terminal, a line every 5 s otherwise), rich, plain, off.",
    ),
    Option(
        name="config",
        flags=("--config",),
        cli_type=Path,
        in_profile=False,
        parse=text,
        help="TOML profile supplying any option; flags and BULKLOAD_* variables override it.",
    ),
    Option(
        name="debug",
        flags=("--debug",),
        cli_type=bool,
        in_profile=False,
        parse=flag,
        default=False,
        help="Show full tracebacks, and the log records of the libraries used.",
    ),
)

# The order of the groups is the order of the panels in --help.
OPTIONS: tuple[Option, ...] = (
    *TARGET,
    *SQLITE,
    *POSTGRESQL,
    *HTTP,
    *SOURCE,
    *CSV,
    *SWEEP,
    *GATES,
    *PROCESSES,
    *CLUSTER,
    *ENGINE,
    *ERRORS,
    *OUTPUT,
)

_BY_NAME = {option.name: option for option in OPTIONS}
assert len(_BY_NAME) == len(OPTIONS), "an option is declared twice"


# ----------------------------------------------------------------------------- queries


def options_for(command: str) -> tuple[Option, ...]:
    return tuple(option for option in OPTIONS if command in option.commands)


def profile_keys(command: str) -> frozenset[str]:
    """The keys a profile (or a config builder's mapping) may hold for ``command``."""
    return frozenset(option.name for option in options_for(command) if option.in_profile)


def commands_of(name: str) -> frozenset[str]:
    option = _BY_NAME.get(name)
    return option.commands if option else frozenset()


def help_of(name: str) -> str:
    """An option's help (with its default), for commands that declare it by hand."""
    return _BY_NAME[name].full_help


def default_of(name: str) -> Any:
    """The typed default of an option: the dataclasses take their defaults from here."""
    return _BY_NAME[name].value(None)


@dataclass(frozen=True)
class Resolved:
    """Every option of a command, validated: ``values`` by dataclass field (defaults
    filled in), and the fields the user set (in any layer) in ``given``."""

    values: dict[str, Any]
    given: frozenset[str]


def resolve(command: str, settings: Mapping[str, Any]) -> Resolved:
    """Validate ``settings`` (option name -> value as written; None: not set)."""
    known = profile_keys(command)
    unknown = sorted(set(settings) - known)
    if unknown:
        raise UsageError(f"unknown option(s): {', '.join(unknown)}")
    values: dict[str, Any] = {}
    given: set[str] = set()
    for option in options_for(command):
        if not option.in_profile:
            continue
        raw = settings.get(option.name)
        if raw is not None:
            given.add(option.target)
        values[option.target] = option.value(raw)
    return Resolved(values, frozenset(given))


def flags_of(*fields: str) -> list[str]:
    """The flags of the options that fill these fields, for messages."""
    by_field = {option.target: option.flag for option in OPTIONS}
    return [by_field[name] for name in fields]
