"""Every option of a run as frozen dataclasses, with their defaults.

These models are the library's configuration and own its defaults: the command line's
option registry (:mod:`bulkload.options`) declares each option once, naming the field it
fills, and takes its default from here. Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from bulkload.sources.synthetic import SyntheticSpec
    from bulkload.stats.schedule import ConcurrencyRamp, RateSchedule
    from bulkload.stats.thresholds import Threshold

_Own = TypeVar("_Own")

DEFAULT_TARGET = "sqlite:///bulkload.db"
DEFAULT_BATCH_SIZE = 10_000


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
    # The largest field loaded (UTF-8 bytes); the CSV parser block grows to hold it.
    max_field_size: int = 64 << 20  # 64MB


@dataclass(frozen=True, kw_only=True)
class SourceOptions:
    """What to read and how to shape it into typed record batches."""

    paths: tuple[str, ...]
    format: str | None = None
    csv: CsvOptions = field(default_factory=CsvOptions)
    batch_size: int = DEFAULT_BATCH_SIZE
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
    """Where the rows go. A backend's own options are its own model, declared next to its
    code (``bulkload/backends/*_options.py``, or a plug-in's), held here by backend name."""

    url: str = DEFAULT_TARGET
    table: str | None = None
    if_exists: str = "append"
    # A target that does not exist yet may be built under a temporary name and moved into
    # place when the run ends (SQLite). Set by import unless --checkpoint asks for
    # resumable progress in the target itself.
    build_new_aside: bool = False
    # Backends that hold connections: how many, and how many writes each may carry at
    # once (None: the backend's own default).
    connections: int | None = None
    requests_per_connection: int | None = None
    # backend name -> its options object; a backend missing here takes its defaults
    backends: Mapping[str, object] = field(default_factory=dict)

    def own(self, backend: str, model: type[_Own]) -> _Own:
        """Backend ``backend``'s own options: a ``model`` (its defaults when not set)."""
        given = self.backends.get(backend) or model()
        if not isinstance(given, model):
            raise TypeError(f"the {backend!r} backend's options must be a {model.__name__}")
        return given


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
    # consecutive failures that open the circuit; 0: never
    breaker_threshold: int = 10
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
    html_path: str | None = None  # bench only
    quiet: bool = False
    progress: str = "auto"
    bad_records: str | None = None
    interval: float = 1.0  # the timeline's step, seconds
    hdr_log: str | None = None  # HdrHistogram interval log, one line per interval
    metrics_addr: str | None = None  # HOST:PORT serving Prometheus metrics while running


@dataclass(frozen=True, kw_only=True)
class ClusterOptions:
    """``--cluster``: run the command's shards on a Dask cluster (bulkload.parallel.dask_*)."""

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

    levels: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256)
    auto: bool = False
    rates: tuple[float, ...] = ()
    batch_sizes: tuple[int, ...] = (DEFAULT_BATCH_SIZE,)
    warmup: float = 2.0
    duration: float | None = 10.0
    rows: int | None = None
    batches: int | None = None
    max_time: float = 300.0
    reset: bool = False  # empty the table between levels
    slo: tuple[Threshold, ...] = ()
    #: one level whose offered load changes over time (open model: a rate schedule;
    #: closed: the writers allowed), instead of levels; at most one of them
    ramp_rate: RateSchedule | None = None
    stages: RateSchedule | None = None
    ramp_concurrency: ConcurrencyRamp | None = None
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
    max_regression: float = 0.1  # a fraction: 0.1 is 10%


@dataclass(frozen=True, kw_only=True)
class QueryOptions:
    """``bench --query``: the queries a read sweep runs (each ``SQL`` or
    ``name=N,weight=W:SQL``) and where their parameters' values come from."""

    queries: tuple[str, ...] = ()
    #: HTTP: requests ("METHOD /path/{name}", or named and weighted as queries are)
    requests: tuple[str, ...] = ()
    ok_status: tuple[int, ...] = ()  # statuses besides 2xx that count as answered
    #: HTTP: "Name: value" (every request) or "REQUEST=Name: value" (that one)
    request_headers: tuple[str, ...] = ()
    params_synthetic: str | None = None
    params: str | None = None
    #: one query's own parameter source, "QUERY=SOURCE" (a profile's [[bench.query]]
    #: params / params_synthetic); queries naming none use the two above
    query_params: tuple[str, ...] = ()
    query_synthetic: tuple[str, ...] = ()
    #: --mix write=W,read=R: each level writes and queries in that ratio
    mix: tuple[float, float] | None = None
    #: --fit-on NAME: the recommendation and USL fit on this operation's rate
    fit_on: str | None = None


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
    queries: QueryOptions = field(default_factory=QueryOptions)
