"""The library's keyword arguments: ``bulkload.load(..., to=..., concurrency=8)`` and
``bulkload.bench(...)`` take the command line's options by their registry names (the
names a profile uses), typed here for editors and type checkers. Defaults are not
repeated: a keyword left out takes its config model field's default, as a flag left out
does. A test checks these keys against the registry.

Values are what the option's parser takes: the typed value (``8``, ``("a", "b")``,
``2.5``) or the text the command line would take (``"8"``, ``"a,b"``, ``"2.5s"``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypedDict

Names = str | Sequence[str]  # "a,b" or ("a", "b")
Seconds = float | str  # 2.5 or "2.5s", "500ms"


class TargetKeywords(TypedDict, total=False):
    """Where the rows go (``TargetOptions``), the built-in backends' own options included."""

    to: str
    table: str
    if_exists: str  # append | replace | truncate | fail
    connections: int
    requests_per_connection: int
    wal: bool
    schema_name: str
    pg_method: str
    pg_format: str
    on_conflict: str
    key: Names
    mysql_method: str  # load | insert
    http_method: str
    http_headers: Sequence[str]
    http_format: str
    http_compression: str
    http_client: str
    http_version: str
    http_preset: str
    http_idempotency_key: str
    insecure: bool
    ca_cert: str
    client_cert: str
    client_key: str


class SourceKeywords(TypedDict, total=False):
    """How files are read (``SourceOptions``, ``CsvOptions``)."""

    format: str  # csv | parquet
    batch_size: int
    select: Names
    rename: Mapping[str, str] | Sequence[str]  # {"old": "new"} or ["old=new"]
    types: Mapping[str, str] | Sequence[str]
    delimiter: str
    quote_char: str
    no_quoting: bool
    header: bool
    columns: Names
    encoding: str
    null_values: Names
    skip_rows: int
    max_field_size: int | str  # bytes, or "64MB"


class EngineKeywords(TypedDict, total=False):
    """How batches fan out to the target (``EngineOptions``)."""

    concurrency: int
    rate: float
    max_batches_per_sec: float
    max_bytes_per_sec: float
    retries: int
    retry_max_wait: Seconds
    timeout: Seconds  # per batch write; 0 for none
    breaker_threshold: int
    breaker_cooldown: Seconds


class LoadKeywords(TargetKeywords, SourceKeywords, EngineKeywords, total=False):
    """Every keyword :func:`bulkload.load` takes besides the paths."""

    limit: int
    readers: int
    queue_depth: int
    max_errors: int | str  # a count, or a share of the rows read: "1%"
    fail_fast: bool
    bad_records: str
    checkpoint: str
    resume: bool
    interval: Seconds  # the timeline's step


class BenchKeywords(TargetKeywords, SourceKeywords, EngineKeywords, total=False):
    """Every keyword :func:`bulkload.bench` takes besides the paths."""

    synthetic: str | Mapping[str, object]  # "rows=100000,columns=6"
    sweep: str | Sequence[int]  # concurrency levels, or "auto"
    sweep_batch_size: str | Sequence[int]
    sweep_rate: str | Sequence[float]  # arrival rates (batch writes/s): the open model
    warmup: Seconds
    duration: Seconds
    rows: int
    batches: int
    max_time: Seconds
    reset: bool
    slo: str | Sequence[str]
    threshold: str | Sequence[str]
    abort_on_fail: bool
    baseline: str
    max_regression: float | str  # 0.1 or "10%"
    shard: str | tuple[int, int]  # "1/4" or (1, 4): this job's share
    query: str | Sequence[str]  # a read sweep: "SELECT ... WHERE id = :id", or several
    request: str | Sequence[str]  # HTTP: "GET /orders/{id}", or several
    ok_status: str | Sequence[int]  # HTTP statuses besides 2xx that count as answered
    request_header: str | Sequence[str]  # HTTP: "Name: value" or "REQUEST=Name: value"
    params_synthetic: str  # "id=uniform(1,1000000)" or "id=zipf(1.1,1,1000000)"
    params: str  # a CSV file of parameter values
    query_params: str | Sequence[str]  # one query's own CSV file: "lookup=ids.csv"
    query_synthetic: str | Sequence[str]  # one query's own spec: "lookup=id=zipf(1.1,1,99)"
    mix: str | Mapping[str, float]  # "write=1,read=3"
    fit_on: str  # the operation the recommendation and USL fit use
    ramp_rate: str  # "100:2000:5m": one level whose arrival rate ramps
    stages: str  # "30s:100/s,2m:2000/s,30s:0/s" (k6's form)
    ramp_concurrency: str  # "1:64:5m": one level whose writes in flight ramp
    interval: Seconds  # the timeline's step


# Options the library's functions do not take: how the command line runs and shows a run
# (worker processes, a cluster, files written, the terminal); the paths are positional.
CLI_ONLY = frozenset(
    {
        "paths",
        "processes",
        "cluster",
        "workers",
        "json",
        "html",
        "hdr_log",
        "metrics_addr",
        "quiet",
        "progress",
    }
)


def check_keywords(function: str, given: Mapping[str, object], allowed: frozenset[str]) -> None:
    """A keyword the function does not take is a TypeError, as Python's own."""
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise TypeError(f"{function}() got unexpected keyword argument(s): {', '.join(unknown)}")
