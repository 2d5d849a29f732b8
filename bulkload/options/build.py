"""Validate a flat mapping of option values into an ``ImportConfig`` or a
``BenchConfig``: each value checked by its option's parser, the defaults the models'
own, and the rules that span options (``--resume`` needs ``--checkpoint``, one bound
per level...)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace
from typing import Any

from bulkload.config.models import (
    BenchConfig,
    ClusterOptions,
    CsvOptions,
    EngineOptions,
    GateOptions,
    ImportConfig,
    QueryOptions,
    ReportOptions,
    SourceOptions,
    SweepOptions,
    TargetOptions,
)
from bulkload.config.option import BENCH, IMPORT
from bulkload.errors import UsageError
from bulkload.options import registry


def build_import_config(options: Mapping[str, Any]) -> ImportConfig:
    """Validate a flat mapping of option name -> value into an ``ImportConfig``."""
    resolved = registry.resolve(IMPORT, options)
    values = resolved.values
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
        target=_take(
            TargetOptions, values, backends=resolved.backends, build_new_aside=not engine.checkpoint
        ),
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
    query: QueryOptions = _take(QueryOptions, values)
    if query.queries and query.requests:
        raise UsageError("--query (SQL) and --request (HTTP) exclude each other: give one")
    if query.request_headers:
        from bulkload.backends.query import headers_for, parse_query

        if not query.requests:
            raise UsageError("--request-header gives headers to --request's requests: give one")
        try:
            headers_for(
                query.request_headers,
                [parse_query(text, i).name for i, text in enumerate(query.requests, 1)],
            )
        except ValueError as exc:
            raise UsageError(f"--request-header {exc}") from None
    if query.requests:
        query = replace(query, queries=query.requests)
    _check_query_sources(query)
    if query.fit_on is not None:
        from bulkload.backends.query import parse_query

        named = [parse_query(text, i).name for i, text in enumerate(query.queries, 1)]
        named += ["write"] if query.mix is not None else []
        if query.fit_on not in named:
            known = ", ".join(named) or "none: give --query or --request"
            raise UsageError(f"--fit-on {query.fit_on}: no such operation (operations: {known})")
    if query.mix is not None:
        if not query.queries or (source is None) == (synthetic is None):
            raise UsageError(
                "--mix needs --query (the reads) and input files or --synthetic (the writes)"
            )
    elif query.queries:
        if source is not None or synthetic is not None:
            raise UsageError(
                "--query runs a read sweep: give no input files or --synthetic with it "
                "(--mix write=W,read=R writes and queries in one level)"
            )
        if "rows" in given:
            raise UsageError("--rows counts rows written: bound a query level with --batches")
    elif query.params_synthetic or query.params or _own_sources(query):
        raise UsageError("--params and --params-synthetic give values to --query's parameters")
    elif (source is None) == (synthetic is None):
        problem = "both" if source else "neither"
        raise UsageError(
            f"bulkload bench reads files (PATHS) or generated rows (--synthetic SPEC): "
            f"give one of them ({problem} given)"
        )
    return BenchConfig(
        source=source,
        synthetic=synthetic,
        target=_take(TargetOptions, values, backends=resolved.backends),
        engine=_take(EngineOptions, values),
        report=_take(ReportOptions, values),
        sweep=_sweep(values, given),
        gates=_take(GateOptions, values),
        cluster=_take(ClusterOptions, values),
        queries=query,
    )


def _own_sources(query: QueryOptions) -> list[tuple[str, str]]:
    """(flag, QUERY=SOURCE) of every query's own parameter source."""
    return [("--query-params", item) for item in query.query_params] + [
        ("--query-synthetic", item) for item in query.query_synthetic
    ]


def _check_query_sources(query: QueryOptions) -> None:
    """Each own source names a query of the set, and a query has one at most."""
    from bulkload.backends.query import parse_query

    named = [parse_query(text, i).name for i, text in enumerate(query.queries, 1)]
    seen: dict[str, str] = {}
    for flag, item in _own_sources(query):
        name = item.partition("=")[0].strip()
        if name not in named:
            known = ", ".join(named) or "none"
            raise UsageError(f"{flag} {name}=: no query is named {name} (queries: {known})")
        if name in seen:
            kind = "--request" if query.requests else "--query"
            raise UsageError(
                f"{kind} {name}: two parameter sources ({seen[name]}, {flag}): give one"
            )
        seen[name] = flag


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


def _split_max_errors(values: dict[str, Any]) -> None:
    """``--max-errors`` is a count or a share: two fields of ``EngineOptions``."""
    values["max_errors"], values["max_errors_percent"] = values["max_errors"] or (None, None)


def _ramps(values: Mapping[str, Any], given: frozenset[str]) -> None:
    """A ramp is the run's one level, measured from its start to its end."""
    ramps = [name for name in ("ramp_rate", "stages", "ramp_concurrency") if name in given]
    if not ramps:
        from bulkload.stats.thresholds import BEFORE_BREAK  # not at --help: stats is heavy

        scoped = [t for t in values.get("thresholds") or () if t.scope == BEFORE_BREAK]
        if scoped:
            raise UsageError(
                f"--threshold {str(scoped[0])!r}: before-break judges a ramp up to its "
                "breaking point; give --ramp-rate, --stages or --ramp-concurrency"
            )
        return
    if len(ramps) > 1:
        shown = " and ".join(registry.flags_of(*ramps))
        raise UsageError(f"{shown} each set the run's offered load: give one of them")
    clash = [n for n in ("levels", "rates", "warmup", "duration", "rows", "batches") if n in given]
    if clash:
        shown = ", ".join(registry.flags_of(*clash))
        raise UsageError(
            f"{registry.flags_of(ramps[0])[0]} runs one level over the ramp's own duration, "
            f"without a warm-up: {shown} cannot be given with it"
        )


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
    _ramps(values, given)
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
