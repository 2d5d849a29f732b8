"""Every option of a run as frozen dataclasses, and how they are assembled.

The options themselves (names, flags, defaults, help, validators) are declared once, in
:mod:`bulkload.options`; the dataclasses take their defaults from there.

Precedence, lowest first: built-in defaults < TOML profile (``--config``) <
``BULKLOAD_*`` environment variables < command-line flags. The CLI resolves the last
two (typer reads the environment), hands this module one flat mapping of the options the
user actually set, and :func:`build_import_config` / :func:`build_bench_config` validate
it into an ``ImportConfig`` / ``BenchConfig``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bulkload import options as registry
from bulkload.errors import UsageError
from bulkload.options import BENCH, IMPORT, default_of

if TYPE_CHECKING:
    from bulkload.sources.synthetic import SyntheticSpec
    from bulkload.stats.thresholds import Threshold

DEFAULT_TARGET: str = default_of("to")


@dataclass(frozen=True, kw_only=True)
class CsvOptions:
    """How CSV text is split into fields."""

    # None: by file name, a tab for .tsv, else a comma.
    delimiter: str | None = default_of("delimiter")
    quote_char: str | None = default_of("quote_char")
    header: bool = default_of("header")
    columns: tuple[str, ...] | None = None
    encoding: str = default_of("encoding")
    # Extra spellings of null; an unquoted empty field is always null.
    null_values: tuple[str, ...] = ()
    skip_rows: int = default_of("skip_rows")
    # The largest field loaded (UTF-8 bytes); the CSV parser block grows to hold it.
    max_field_size: int = default_of("max_field_size")


@dataclass(frozen=True, kw_only=True)
class SourceOptions:
    """What to read and how to shape it into typed record batches."""

    paths: tuple[str, ...]
    format: str | None = None
    csv: CsvOptions = field(default_factory=CsvOptions)
    batch_size: int = default_of("batch_size")
    limit: int | None = None
    select: tuple[str, ...] | None = None
    rename: Mapping[str, str] = field(default_factory=dict)
    types: Mapping[str, str] = field(default_factory=dict)
    # Internal (no option): a worker process of ``import --processes P`` reads every
    # batch but yields only its share (i, P): batch n of the f-th file (from 0) when
    # (f + n) mod P == i - 1.
    process_share: tuple[int, int] | None = None


@dataclass(frozen=True, kw_only=True)
class TargetOptions:
    """Where the rows go."""

    url: str = DEFAULT_TARGET
    table: str | None = None
    if_exists: str = default_of("if_exists")
    wal: bool = default_of("wal")
    # SQLite: a database file that does not exist yet is built under a temporary name,
    # without journal syncs, and renamed into place when the run ends. Set by import
    # unless --checkpoint asks for resumable progress in the target itself.
    build_new_aside: bool = False
    # Backends that hold connections: how many, and how many writes each may carry at
    # once (None: the backend's own default).
    connections: int | None = None
    requests_per_connection: int | None = None
    # PostgreSQL
    schema_name: str | None = None
    pg_method: str = default_of("pg_method")
    pg_format: str = default_of("pg_format")  # COPY format: binary (pgpq) or csv
    on_conflict: str | None = None  # nothing | update
    key: tuple[str, ...] | None = None
    # HTTP (http://, https://): one request per batch
    http_method: str = default_of("http_method")
    http_headers: tuple[str, ...] = ()  # "Name: value", ${ENV} expanded when opened
    http_format: str = default_of("http_format")  # json | ndjson | csv | parquet | arrow
    http_compression: str | None = None  # gzip | zstd
    http_client: str = default_of("http_client")  # auto (h1, or curl behind a proxy)
    http_version: str = default_of("http_version")  # 1.1 | 2 (libcurl)
    http_preset: str | None = None  # elasticsearch | opensearch | clickhouse
    http_idempotency_key: str | None = None  # header carrying a stable key per batch
    insecure: bool = False  # skip TLS verification
    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None


@dataclass(frozen=True, kw_only=True)
class EngineOptions:
    """How batches fan out to the backend."""

    concurrency: int = default_of("concurrency")
    # Batches the reader may run ahead of the writers; None: twice the writers, 8 to 64.
    queue_depth: int | None = None
    readers: int = default_of("readers")
    rate: float | None = None  # rows per second
    max_batches_per_sec: float | None = None
    max_bytes_per_sec: float | None = None
    retries: int = default_of("retries")
    retry_max_wait: float = default_of("retry_max_wait")
    timeout: float | None = default_of("timeout")  # seconds per batch write
    # consecutive failures that open the circuit; 0: never
    breaker_threshold: int = default_of("breaker_threshold")
    breaker_cooldown: float = default_of("breaker_cooldown")
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
    html_path: str | None = None  # bench only
    quiet: bool = False
    progress: str = default_of("progress")
    bad_records: str | None = None


@dataclass(frozen=True, kw_only=True)
class ClusterOptions:
    """``--cluster``: run the command's shards on a Dask cluster (bulkload.cluster)."""

    address: str | None = None  # a scheduler address (tcp://host:8786) or local:N
    workers: int | None = None  # how many of its workers take part; None: all


@dataclass(frozen=True, kw_only=True)
class ImportConfig:
    """One ``bulkload import`` run."""

    source: SourceOptions
    target: TargetOptions = field(default_factory=TargetOptions)
    engine: EngineOptions = field(default_factory=EngineOptions)
    report: ReportOptions = field(default_factory=ReportOptions)
    cluster: ClusterOptions = field(default_factory=ClusterOptions)
    processes: int = 1  # --processes P: worker processes (bulkload.import_processes)


@dataclass(frozen=True, kw_only=True)
class SweepOptions:
    """What ``bulkload bench`` varies between its runs, and how long each one lasts.

    Closed model: one run per concurrency level in ``levels`` (or ``auto``: levels chosen
    while running, within ``max_time``). Open model: one run per arrival rate in
    ``rates`` (batch writes per second); ``levels`` is then empty. Either way, each
    level runs once per batch size in ``batch_sizes``. A run warms up for ``warmup``
    seconds, then is measured for ``duration`` seconds, or over ``rows`` rows or
    ``batches`` batch writes (exactly one of the three is set)."""

    levels: tuple[int, ...] = default_of("sweep")
    auto: bool = False
    rates: tuple[float, ...] = ()
    batch_sizes: tuple[int, ...] = (default_of("batch_size"),)
    warmup: float = default_of("warmup")
    duration: float | None = default_of("duration")
    rows: int | None = None
    batches: int | None = None
    max_time: float = default_of("max_time")
    reset: bool = False  # empty the table between levels
    slo: tuple[Threshold, ...] = ()
    shard: tuple[int, int] | None = None  # --shard i/N: this job's share of the work
    processes: int = 1  # --processes P: worker processes, each running a shard i/P
    processes_auto: bool = False  # --processes auto: decided by a probe (bench/auto_processes)
    processes_asked: bool = False  # --processes given (auto, not the default): always told


@dataclass(frozen=True, kw_only=True)
class GateOptions:
    """CI gates: pass/fail conditions on the result, and the baseline to compare with.
    Failing any of them exits 99 (after every output is written)."""

    thresholds: tuple[Threshold, ...] = ()
    abort_on_fail: bool = False  # stop the sweep at the first failed gate
    baseline: str | None = None  # a saved --json result
    max_regression: float = default_of("max_regression")  # a fraction: 0.1 is 10%


@dataclass(frozen=True, kw_only=True)
class BenchConfig:
    """One ``bulkload bench`` sweep: rows from files (``source``) or generated
    (``synthetic``), exactly one of them."""

    source: SourceOptions | None
    synthetic: SyntheticSpec | None
    target: TargetOptions = field(default_factory=TargetOptions)
    engine: EngineOptions = field(default_factory=EngineOptions)
    report: ReportOptions = field(default_factory=ReportOptions)
    sweep: SweepOptions = field(default_factory=SweepOptions)
    gates: GateOptions = field(default_factory=GateOptions)
    cluster: ClusterOptions = field(default_factory=ClusterOptions)


# ----------------------------------------------------------------------------- profiles


def load_profile(path: str | Path, section: str = IMPORT) -> dict[str, Any]:
    """Read a TOML profile for the command ``section``: the top-level keys that command
    takes, overridden by those in ``[section]``.

    Keys are option names as on the command line, with dashes or underscores. A key no
    command knows is an error, as is a key in ``[import]`` or ``[bench]`` that command
    does not take."""
    import tomllib  # here: only runs with a profile pay for it

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
    sections: dict[str, dict[str, Any]] = {}
    for command in registry.COMMANDS:
        scoped = document.pop(command, {})
        if not isinstance(scoped, dict):
            raise UsageError(f"{path}: [{command}] must be a table")
        sections[command] = _normalised(scoped)
    top = _normalised(document)
    _refuse_unknown(path, top, None)
    for command, scoped in sections.items():
        _refuse_unknown(path, scoped, command)
    taken = registry.profile_keys(section)
    options = {key: value for key, value in top.items() if key in taken}
    options.update(sections[section])
    return options


def _normalised(keys: Mapping[str, Any]) -> dict[str, Any]:
    return {key.replace("-", "_"): value for key, value in keys.items()}


def _refuse_unknown(path: Path, keys: Mapping[str, Any], command: str | None) -> None:
    """Top level (``command`` None): keys some command takes; ``[command]``: its own."""
    if command is None:
        known = registry.profile_keys(IMPORT) | registry.profile_keys(BENCH)
    else:
        known = registry.profile_keys(command)
    unknown = sorted(set(keys) - known)
    if not unknown:
        return
    where = "" if command is None else f" in [{command}]"
    described = [_with_owner(key) for key in unknown]
    raise UsageError(f"{path}: unknown option(s){where}: {', '.join(described)}")


def _with_owner(key: str) -> str:
    """``sweep (a bench option)`` when another command takes the key."""
    owners = sorted(registry.commands_of(key))
    return f"{key} (a {'/'.join(owners)} option)" if owners else key


def merge_options(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Later layers win; a value of None means "not set here"."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update({k: v for k, v in layer.items() if v is not None})
    return merged


# ----------------------------------------------------------------------------- building


def build_import_config(options: Mapping[str, Any]) -> ImportConfig:
    """Validate a flat mapping of option name -> value into an ``ImportConfig``."""
    values = registry.resolve(IMPORT, options).values
    _split_max_errors(values)
    source = _source(values)
    if source is None:
        raise UsageError("no input given: name at least one file, glob, directory or '-'")
    engine: EngineOptions = _take(EngineOptions, values)
    if engine.resume and not engine.checkpoint:
        raise UsageError("--resume needs --checkpoint PATH (the file written by the first run)")
    if values["processes"] == "auto":
        raise UsageError(
            "--processes auto is for bench (a probe decides); import takes a number: --processes P"
        )
    values["processes"] = values["processes"] or 1  # import splits only when asked
    return ImportConfig(
        source=source,
        target=replace(_target(values), build_new_aside=not engine.checkpoint),
        engine=engine,
        report=_take(ReportOptions, values),
        cluster=_take(ClusterOptions, values),
        processes=values["processes"],
    )


def build_bench_config(options: Mapping[str, Any]) -> BenchConfig:
    """Validate a flat mapping of option name -> value into a ``BenchConfig``."""
    resolved = registry.resolve(BENCH, options)
    values, given = resolved.values, resolved.given
    source = _source(values)
    synthetic = values["synthetic"]
    if (source is None) == (synthetic is None):
        problem = "both" if source else "neither"
        raise UsageError(
            f"bulkload bench reads files (PATHS) or generated rows (--synthetic SPEC): "
            f"give one of them ({problem} given)"
        )
    return BenchConfig(
        source=source,
        synthetic=synthetic,
        target=_target(values),
        engine=_take(EngineOptions, values),
        report=_take(ReportOptions, values),
        sweep=_sweep(values, given),
        gates=_take(GateOptions, values),
        cluster=_take(ClusterOptions, values),
    )


def _take(cls: Any, values: Mapping[str, Any], **extra: Any) -> Any:
    """``cls`` built from the values named like its fields (the others keep their
    dataclass defaults: options this command does not take)."""
    chosen = {f.name: values[f.name] for f in fields(cls) if f.name in values}
    return cls(**chosen, **extra)


def _source(values: dict[str, Any]) -> SourceOptions | None:
    if values["paths"] is None:
        return None
    if values["no_quoting"]:
        values["quote_char"] = None
    csv: CsvOptions = _take(CsvOptions, values)
    if not csv.header and not csv.columns:
        raise UsageError("--no-header needs --columns a,b,c to name the columns")
    if csv.quote_char is not None and csv.quote_char == (csv.delimiter or ","):
        raise UsageError("--quote-char and --delimiter must differ")
    source: SourceOptions = _take(SourceOptions, values, csv=csv)
    return source


def _target(values: Mapping[str, Any]) -> TargetOptions:
    target: TargetOptions = _take(TargetOptions, values)
    if target.on_conflict and not target.key:
        raise UsageError("--on-conflict needs --key col1,col2 (the columns that identify a row)")
    return target


def _split_max_errors(values: dict[str, Any]) -> None:
    """``--max-errors`` is a count or a share: two fields of ``EngineOptions``."""
    values["max_errors"], values["max_errors_percent"] = values["max_errors"] or (None, None)


def _sweep(values: dict[str, Any], given: frozenset[str]) -> SweepOptions:
    bounds = [name for name in ("duration", "rows", "batches") if name in given]
    if len(bounds) > 1:
        shown = " and ".join(registry.flags_of(*bounds))
        raise UsageError(f"{shown} each bound a level's measurement: give one of them")
    if bounds and bounds[0] != "duration":
        values["duration"] = None
    if "levels" in given and "rates" in given:
        raise UsageError(
            "--sweep (concurrency levels) and --sweep-rate (arrival rates) exclude each "
            "other: give one of them"
        )
    auto = values["levels"] == "auto"
    if "max_time" in given and not auto:
        raise UsageError("--max-time bounds --sweep auto; give it with --sweep auto")
    if auto or values["rates"] is not None:
        values["levels"] = ()
    values["auto"] = auto
    # bench's default is auto: it splits by itself when it is its own bottleneck (a
    # network target, a probe saying so); told on one line when the probe ran or it was asked
    values["processes_auto"] = values["processes"] in ("auto", None)
    values["processes_asked"] = "processes" in given
    if values["processes_auto"]:
        values["processes"] = 1  # until the probe decides
    values["rates"] = values["rates"] or ()
    values["batch_sizes"] = values["batch_sizes"] or (values["batch_size"],)
    sweep: SweepOptions = _take(SweepOptions, values)
    return sweep
