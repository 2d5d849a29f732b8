"""The options every target and command share, declared once, by help panel.

Each names the config model field it fills (:mod:`bulkload.config.models`), whose
default is its default. A backend's own options are declared next to the backend
(``bulkload/backends/*_options.py``). Parsers that need a source's or the stats' grammar
(``--type``, ``--synthetic``, ``--slo``) are here, above those layers, and import them
only when they run: ``bulkload --help`` stays standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bulkload.config.models import (
    ClusterOptions,
    CsvOptions,
    EngineOptions,
    GateOptions,
    QueryOptions,
    ReportOptions,
    SourceOptions,
    SweepOptions,
    TargetOptions,
)
from bulkload.config.option import BENCH_ONLY, IMPORT_ONLY, Option, panel
from bulkload.config.parse import (
    TYPE_HELP,
    batch_sizes,
    choice,
    cluster_address,
    duration_or_none,
    encoding,
    file_path,
    flag,
    levels,
    listed,
    max_errors,
    names,
    non_empty,
    pairs,
    parse_duration,
    paths,
    percentage,
    positive_duration,
    positive_rate,
    process_count,
    rates,
    shard,
    single_char,
    size,
    strings,
    target_url,
    text,
    whole,
)
from bulkload.errors import UsageError

# ----------------------------------------------------------------------------- parsers


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


def synthetic(value: Any, option: str) -> Any:
    """A ``rows=N,columns=K,...`` spec, or the same as a TOML table."""
    from bulkload.sources.synthetic import parse_synthetic  # numpy: only for --synthetic

    if isinstance(value, Mapping):
        value = ",".join(f"{key}={item}" for key, item in value.items())
    return parse_synthetic(str(value), option=option)


def ramp_rate(value: Any, option: str) -> Any:
    from bulkload.stats.schedule import parse_ramp_rate

    return parse_ramp_rate(str(value), option)


def stages(value: Any, option: str) -> Any:
    from bulkload.stats.schedule import parse_stages

    return parse_stages(str(value), option)


def ramp_concurrency(value: Any, option: str) -> Any:
    from bulkload.stats.schedule import parse_concurrency_ramp

    return parse_concurrency_ramp(str(value), option)


def slo(value: Any, option: str) -> tuple[Any, ...]:
    """Thresholds from each item, each holding one or more comma-separated expressions."""
    from bulkload.stats.thresholds import parse_slo

    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise UsageError(f"{option} must be a list or a comma-separated string")
    return tuple(threshold for item in items for threshold in parse_slo(str(item), option=option))


def queries(value: Any, option: str) -> tuple[str, ...]:
    """Each ``--query``, checked now (a bad name=/weight= prefix stops the run)."""
    from bulkload.backends.query import parse_query

    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise UsageError(f"{option} must be a string or a list of them")
    for index, item in enumerate(items, 1):
        try:
            parse_query(str(item), index)
        except ValueError as exc:
            raise UsageError(f"{option} {str(item)[:40]!r}: {exc}") from None
    return tuple(str(item) for item in items)


def header_items(value: Any, option: str) -> tuple[str, ...]:
    """``Name: value`` items, not split on commas (header values hold commas)."""
    return tuple(listed(value, option, split=False))


def statuses(value: Any, option: str) -> tuple[int, ...]:
    """``404`` or ``404,409``: HTTP statuses."""
    out = []
    for item in strings(value, option):
        if not item.isdigit() or not 100 <= int(item) <= 599:
            raise UsageError(f"{option} takes HTTP statuses (100..599), not {item!r}")
        out.append(int(item))
    return tuple(out)


def params_synthetic(value: Any, option: str) -> str:
    from bulkload.sources.params import parse_params_synthetic

    parse_params_synthetic(str(value), option)
    return str(value)


def query_sources(value: Any, option: str) -> tuple[str, ...]:
    """``QUERY=SOURCE`` items: one query's own parameter source (not split on commas:
    a synthetic spec holds them); a synthetic spec is checked now."""
    items = tuple(listed(value, option, split=False))
    for item in items:
        name, equals, source = item.partition("=")
        if not equals or not name.strip().isidentifier() or not source.strip():
            raise UsageError(f"{option} takes QUERY=SOURCE (e.g. lookup=...), not {item[:40]!r}")
        if option == "--query-synthetic":
            from bulkload.sources.params import parse_params_synthetic

            parse_params_synthetic(source, f"--query {name.strip()}: params-synthetic")
    return items


def mix(value: Any, option: str) -> tuple[float, float]:
    """``write=W,read=R``: the ratio of writes to queries in a level."""
    given = pairs(value, option)
    if set(given) != {"write", "read"}:
        raise UsageError(f"{option} takes write=W,read=R (e.g. write=1,read=3), not {value!r}")
    try:
        write, read = float(given["write"]), float(given["read"])
    except ValueError:
        raise UsageError(f"{option}: the weights must be numbers, not {value!r}") from None
    if not (0 < write < float("inf") and 0 < read < float("inf")):
        raise UsageError(f"{option}: both weights must be above 0, not {value!r}")
    return write, read


# ----------------------------------------------------------------------------- declarations

TARGET = panel(
    "Target",
    TargetOptions,
    Option(
        name="to",
        field="url",
        flags=("--to",),
        parse=target_url,
        help="Target URL: sqlite:///file.db, postgresql://user@host/db (or postgres://), "
        "mysql://user:password@host/db (or mariadb://), "
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

SOURCE = panel(
    "Source",
    SourceOptions,
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
        # words a help column of 80 columns can wrap between (a 66-character spec was cut)
        help="Generated rows instead of files: rows=N and, optionally, columns=K, seed=S, "
        "types=int:float:string and string_length=L, comma-separated (e.g. "
        "rows=100000,columns=6).",
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
        help="Rename a column: old=new (repeatable).",
    ),
    Option(
        name="types",
        flags=("--type",),
        repeatable=True,
        table=True,
        env=False,
        parse=column_types,
        help=f"Column type, overriding inference: col=TYPE (repeatable). Types: {TYPE_HELP}.",
    ),
    Option(
        name="readers",
        model=EngineOptions,
        flags=("--readers",),
        commands=IMPORT_ONLY,
        cli_type=int,
        parse=whole(minimum=1),
        help="Files parsed in parallel.",
    ),
)

CSV = panel(
    "CSV",
    CsvOptions,
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
        help="Quote character.",
    ),
    Option(
        name="no_quoting",
        flags=("--no-quoting",),
        cli_type=bool,
        env=False,
        parse=flag,
        help="Treat quote characters as plain text.",
    ),
    Option(
        name="header",
        flags=("--header/--no-header",),
        cli_type=bool,
        parse=flag,
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
        help="Text encoding (a byte-order mark is skipped).",
    ),
    Option(
        name="null_values",
        flags=("--null-value",),
        repeatable=True,
        env=False,
        parse=strings,
        help="A spelling of null, e.g. NULL or \\N (repeatable). Empty fields are always null.",
    ),
    Option(
        name="skip_rows",
        flags=("--skip-rows",),
        cli_type=int,
        parse=whole(minimum=0),
        help="Rows to skip before the header.",
    ),
    Option(
        name="max_field_size",
        flags=("--max-field-size",),
        parse=size,
        default_text="64MB",
        metavar="<size>",
        help="Largest CSV field loaded; a larger one stops the run: 512KB, 64MB, 1GB or bytes.",
    ),
)

SWEEP = panel(
    "Sweep",
    SweepOptions,
    Option(
        name="sweep",
        field="levels",
        flags=("--sweep",),
        commands=BENCH_ONLY,
        parse=levels,
        default_text="1,2,4,8,16,32,64,128,256",
        metavar="<levels>",
        help="Concurrency levels to run, e.g. 1,4,16 (closed model: exactly that many writes "
        "in flight), or auto (double until throughput stops growing, within --max-time).",
    ),
    Option(
        name="sweep_batch_size",
        derived=True,  # --batch-size when not given
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
        derived=True,  # not given: the closed model (--sweep levels)
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
        name="ramp_rate",
        flags=("--ramp-rate",),
        commands=BENCH_ONLY,
        parse=ramp_rate,
        metavar="<from:to:duration>",
        help="One level whose arrival rate ramps linearly, e.g. 100:2000:5m (batch writes "
        "per second; open model): the analysis finds where the target broke.",
    ),
    Option(
        name="stages",
        flags=("--stages",),
        commands=BENCH_ONLY,
        parse=stages,
        metavar="<stages>",
        help="One level whose arrival rate follows stages from 0/s, each ramping to its "
        "rate, e.g. '30s:100/s,2m:2000/s,30s:0/s' (k6's form; open model).",
    ),
    Option(
        name="ramp_concurrency",
        flags=("--ramp-concurrency",),
        commands=BENCH_ONLY,
        parse=ramp_concurrency,
        metavar="<from:to:duration>",
        help="One level whose writes in flight ramp linearly, e.g. 1:64:5m (closed model).",
    ),
    Option(
        name="warmup",
        flags=("--warmup",),
        commands=BENCH_ONLY,
        parse=parse_duration,
        default_text="2s",
        metavar="<duration>",
        help="Run each level this long before measuring.",
    ),
    Option(
        name="duration",
        flags=("--duration",),
        commands=BENCH_ONLY,
        parse=positive_duration,
        default_text="10s",
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
        default_text="5m",
        metavar="<duration>",
        help="--sweep auto: stop adding levels after this long in all.",
    ),
    Option(
        name="reset",
        flags=("--reset",),
        commands=BENCH_ONLY,
        cli_type=bool,
        parse=flag,
        help="Empty the target table between levels.",
    ),
    Option(
        name="slo",
        flags=("--slo",),
        commands=BENCH_ONLY,
        repeatable=True,
        env=False,
        parse=slo,
        metavar="<expr>",
        help="Service-level objective, e.g. p99<50ms or error_rate@all<0.1% (repeatable; "
        "comma-separated expressions allowed).",
    ),
)

QUERIES = panel(
    "Queries",
    QueryOptions,
    Option(
        name="query",
        field="queries",
        flags=("--query",),
        commands=BENCH_ONLY,
        repeatable=True,
        env=False,
        parse=queries,
        metavar="<sql>",
        help="Run this query at each level instead of writing (a read sweep), e.g. "
        "'SELECT * FROM orders WHERE id = :id'; :name parameters take their values from "
        "--params-synthetic or --params. Repeat for a weighted set, each as "
        "'name=lookup,weight=9:SELECT ...'.",
    ),
    Option(
        name="request",
        field="requests",
        flags=("--request",),
        commands=BENCH_ONLY,
        repeatable=True,
        env=False,
        parse=queries,
        metavar="<request>",
        help="HTTP: run this request at each level (a read sweep), e.g. 'GET /orders/{id}' "
        "(METHOD PATH [BODY], {name} filled from --params-synthetic or --params); named "
        "and weighted as --query is.",
    ),
    Option(
        name="request_header",
        field="request_headers",
        flags=("--request-header",),
        commands=BENCH_ONLY,
        repeatable=True,
        env=False,
        parse=header_items,
        metavar="<header>",
        help="HTTP: a header of --request's requests (repeatable): 'Name: value' for every "
        "request, 'REQUEST=Name: value' for the request so named; {name} in the value is "
        "filled from the parameters, ${VAR} from the environment. Secret values are hidden.",
    ),
    Option(
        name="ok_status",
        flags=("--ok-status",),
        commands=BENCH_ONLY,
        parse=statuses,
        metavar="<statuses>",
        help="HTTP statuses besides 2xx that count as answered, e.g. 404 (--request).",
    ),
    Option(
        name="fit_on",
        flags=("--fit-on",),
        commands=BENCH_ONLY,
        parse=non_empty,
        metavar="<name>",
        help="Recommend a level and fit the USL on this operation's rate (a --query or "
        "--request name, or write with --mix) instead of the total.",
    ),
    Option(
        name="params_synthetic",
        flags=("--params-synthetic",),
        commands=BENCH_ONLY,
        parse=params_synthetic,
        metavar="<spec>",
        help="Generated parameter values: name=uniform(LOW,HIGH) or name=zipf(S,LOW,HIGH) "
        "(key LOW the hottest), comma-separated.",
    ),
    Option(
        name="params",
        flags=("--params",),
        commands=BENCH_ONLY,
        parse=non_empty,
        metavar="<file.csv>",
        help="Parameter values from a CSV file: a header naming the parameters, one row per "
        "query, cycled.",
    ),
    Option(
        name="query_params",
        flags=("--query-params",),
        commands=BENCH_ONLY,
        repeatable=True,
        env=False,
        parse=query_sources,
        metavar="<query=csv>",
        help="One query's own parameter values from a CSV file, e.g. lookup=ids.csv "
        "(repeatable; --params stays the others').",
    ),
    Option(
        name="query_synthetic",
        flags=("--query-synthetic",),
        commands=BENCH_ONLY,
        repeatable=True,
        env=False,
        parse=query_sources,
        metavar="<query=spec>",
        help="One query's own generated parameter values, e.g. 'recent=id=zipf(1.1,1,1000)' "
        "(repeatable; --params-synthetic stays the others').",
    ),
    Option(
        name="mix",
        flags=("--mix",),
        commands=BENCH_ONLY,
        parse=mix,
        metavar="<write=W,read=R>",
        help="Write and query in each level in this ratio, e.g. write=1,read=3 (needs "
        "--query, and input files or --synthetic for the writes).",
    ),
)

GATES = panel(
    "CI gates and shards",
    GateOptions,
    Option(
        name="threshold",
        field="thresholds",
        flags=("--threshold",),
        commands=BENCH_ONLY,
        repeatable=True,
        env=False,
        parse=slo,
        metavar="<expr>",
        help="A gate, e.g. p99<50ms, rows_per_s@32>20000 or error_rate@all<0.1% (repeatable); "
        "without @LEVEL it is judged on the recommended level (on a ramp, the ramp). "
        "'p99<50ms before-break' judges a ramp only up to its breaking point. "
        "A failed gate exits 99.",
    ),
    Option(
        name="abort_on_fail",
        flags=("--abort-on-fail",),
        commands=BENCH_ONLY,
        cli_type=bool,
        parse=flag,
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
        default_text="10%",
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

PROCESSES = panel(
    "Processes",
    None,
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

CLUSTER = panel(
    "Cluster",
    ClusterOptions,
    Option(
        name="cluster",
        field="address",
        flags=("--cluster",),
        parse=cluster_address,
        metavar="<address|local:N>",
        help="Run on a Dask cluster (pip install 'bulkload[dask]'): a scheduler address, or "
        "local:N for N worker processes on this machine. bench: each level split among the "
        "workers; import: the load, split as --processes splits it.",
    ),
    Option(
        name="workers",
        flags=("--workers",),
        cli_type=int,
        parse=whole(minimum=1),
        default_help="every worker of the cluster",
        help="How many cluster workers take part (each runs concurrency/W or rate/W; bench: "
        "of every level).",
    ),
)

ENGINE = panel(
    "Engine",
    EngineOptions,
    Option(
        name="concurrency",
        flags=("--concurrency", "-c"),
        cli_type=int,
        parse=whole(minimum=1),
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

ERRORS = panel(
    "Errors and retries",
    EngineOptions,
    Option(
        name="retries",
        flags=("--retries",),
        cli_type=int,
        parse=whole(minimum=0),
        help="Retries of a batch after a transient error.",
    ),
    Option(
        name="retry_max_wait",
        flags=("--retry-max-wait",),
        parse=parse_duration,
        default_text="5s",
        metavar="<duration>",
        help="Longest wait between retries.",
    ),
    Option(
        name="timeout",
        flags=("--timeout",),
        parse=duration_or_none,
        default_text="120s",
        metavar="<duration>",
        help="How long one batch write (or connecting to the target) may take; 0 for no limit.",
    ),
    Option(
        name="breaker_threshold",
        flags=("--breaker-threshold",),
        cli_type=int,
        parse=whole(minimum=0),
        help="Consecutive failures that pause sending (circuit breaker); 0 never.",
    ),
    Option(
        name="breaker_cooldown",
        flags=("--breaker-cooldown",),
        parse=parse_duration,
        default_text="5s",
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
        help="Skip the batches --checkpoint says are committed.",
    ),
)

OUTPUT = panel(
    "Output",
    ReportOptions,
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
        metavar="PATH",
        help="Write the HTML report (one self-contained file) to this file: a bench's charts "
        "and levels, an import's throughput and latency over time, summary and rejections; "
        "needs bulkload[html].",
    ),
    Option(
        name="interval",
        flags=("--interval",),
        parse=positive_duration,
        default_text="1s",
        metavar="<duration>",
        help="The timeline's step: throughput, errors and latency percentiles are kept "
        "for each interval this long (JSON 'timeline').",
    ),
    Option(
        name="hdr_log",
        flags=("--hdr-log",),
        parse=file_path,
        metavar="PATH",
        help="Write an HdrHistogram interval log (one compressed histogram per interval, "
        "tagged by level), readable by HdrHistogram's own tools.",
    ),
    Option(
        name="metrics_addr",
        flags=("--metrics-addr",),
        parse=text,
        metavar="HOST:PORT",
        help="Serve Prometheus metrics at http://HOST:PORT/metrics while the run goes "
        "(rows, operations, errors, retries, in flight, latency; with --processes or "
        "--cluster, the sums of the processes or workers); needs bulkload[metrics].",
    ),
    Option(
        name="quiet",
        flags=("--quiet", "-q"),
        cli_type=bool,
        parse=flag,
        help="No progress display; print only the summary.",
    ),
    Option(
        name="progress",
        flags=("--progress",),
        parse=choice("auto", "rich", "plain", "off"),
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
        help="Show full tracebacks, and the log records of the libraries used.",
    ),
)
