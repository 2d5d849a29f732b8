"""A sweep on the terminal: a row per level, throughput and p99 drawn against
concurrency beside the fitted USL curve, the recommended level's latency histogram, the
recommendation and the warnings. It renders a saved :class:`SweepResult`, so a live run
and ``bulkload report show run.json`` look the same."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from bulkload.bench.result import SweepResult
from bulkload.cli.views.histogram import histogram_lines
from bulkload.report.html_levels import runs_operations
from bulkload.report.summary import ms
from bulkload.report.usl_note import coefficients, fit_is_poor, verdict
from bulkload.stats.level import LevelResult
from bulkload.stats.usl import usl_throughput

_BAR = 30


#: columns left out, in this order, while the table is wider than the terminal
_NARROW_DROPS = ("MB/s", "p90", "max", "retries", "in flight", "p99.9", "cpu")


def render_sweep(result: SweepResult, console: Console) -> None:
    queries = [name for name in _query_names(result) if name != "write"]
    what = f"queries {', '.join(queries)}" if queries else f"table {result.table}"
    if len(queries) == 1:  # one query: "query lookup", or "query" when it has no name
        what = "query" if queries == ["query"] else f"query {queries[0]}"
    if queries and result.table:  # a mixed sweep writes a table too
        what = f"table {result.table}, {what}"
    if not queries and not result.table:
        what = "queries"
    title = f"bulkload bench → {result.target}  {what}  ({result.model} model, {result.outcome})"

    console.print(Text(title, style="bold"))
    if not result.levels:
        console.print("  no level was measured", highlight=False)
    else:
        console.print(_fit(_table(result), console))
        _chart(result, console)
    chosen = result.recommended_level()
    if result.recommendation:  # one text: a terminal wraps it at spaces, from its start
        mark = (
            ("recommended: ", "green") if chosen is not None else ("no recommendation: ", "yellow")
        )
        console.print(Text.assemble("  ", mark, result.recommendation), highlight=False)
    if result.recommendation_rule:
        console.print(f"  rule: {result.recommendation_rule}", highlight=False, markup=False)
    for point in result.breaking_points or ():
        console.print(Text.assemble("  ", ("breaking point: ", "red"), _breaking(point)))
    if result.usl:
        if fit_is_poor(result.usl):
            console.print(f"  USL fit: {coefficients(result.usl)}", highlight=False)
            console.print(f"  [yellow]warning:[/] {verdict(result.usl)}", highlight=False)
        else:
            console.print(
                f"  USL fit: {coefficients(result.usl)}  {verdict(result.usl)}", highlight=False
            )
    if chosen is not None and chosen.latency.count:
        console.print(f"  latency of the recommended level ({_level_name(chosen)}), ms:")
        for line in histogram_lines(chosen.latency):
            console.print("  " + line, highlight=False)
    for warning in result.warnings:
        console.print(f"  [yellow]warning:[/] {warning}", highlight=False)
    if result.error:
        console.print(f"  [red]stopped:[/] {result.error}", highlight=False)


def _level_name(level: LevelResult) -> str:
    if level.rate is not None:
        return f"{level.rate:g}/s batch {level.batch_size:,}"
    return f"c={level.concurrency} batch {level.batch_size:,}"


def _query_names(result: SweepResult) -> list[str]:
    names: dict[str, None] = {}
    for level in result.levels:
        if level.kind != "write":
            names.update(dict.fromkeys(level.operations))
    return list(names)


def _table(result: SweepResult) -> Table:
    if runs_operations(result):
        return _query_table(result)
    open_model = result.model == "open"
    table = Table(box=None, padding=(0, 1), header_style="bold")
    columns = ["", "rate/s" if open_model else "conc.", "batch", "rows/s", "MB/s"]
    columns += ["in flight", "p50", "p90", "p99", "p99.9", "max", "errors", "retries"]
    if open_model:
        columns += ["delayed", "missed"]
    columns += ["cpu"]
    for name in columns:
        table.add_column(name, justify="right", no_wrap=True)
    chosen = result.recommended_level()
    for level in result.levels_by_level():
        p = level.latency.summary_ms()
        row = [
            "★" if level is chosen else ("✗" if level.outcome == "failed" else ""),
            f"{level.rate:g}" if open_model and level.rate else str(level.concurrency),
            f"{level.batch_size:,}",
            f"{level.rows_per_s:,.0f}",
            f"{level.mb_per_s:,.1f}",
            f"{level.in_flight_mean:.1f}/{level.in_flight_max}",
            ms(p["p50"]),
            ms(p["p90"]),
            ms(p["p99"]),
            ms(p["p999"]),
            ms(p["max"]),
            f"{level.write_errors:,}",  # failed attempts: the JSON's, the HTML's, the gates'
            f"{level.retries:,}",
        ]
        if open_model:
            row += [f"{level.sends_delayed:,}", f"{level.sends_missed:,}"]
        row.append(f"{level.cpu_loop:.0%}")
        table.add_row(*row)
    return table


def _query_table(result: SweepResult) -> Table:
    """A read sweep: queries/s and rows returned/s per level, and a sub-row per query
    (its own rate, rows and latency) under each level."""
    open_model = result.model == "open"
    table = Table(box=None, padding=(0, 1), header_style="bold")
    mixed = any(level.kind == "mixed" for level in result.levels)
    rate_header = "ops/s" if mixed else "queries/s"  # a mixed total: writes and queries
    columns = ["", "rate/s" if open_model else "conc.", "operation", rate_header, "rows/s"]
    columns += ["in flight", "p50", "p90", "p99", "p99.9", "max", "errors"]
    if open_model:
        columns += ["delayed", "missed"]
    columns += ["cpu"]
    for name in columns:
        table.add_column(name, justify="right", no_wrap=True)
    chosen = result.recommended_level()
    for level in result.levels_by_level():
        p = level.latency.summary_ms()
        row = [
            "★" if level is chosen else ("✗" if level.outcome == "failed" else ""),
            f"{level.rate:g}" if open_model and level.rate else str(level.concurrency),
            "total" if len(level.operations) > 1 else next(iter(level.operations), "query"),
            f"{level.batches_per_s:,.0f}",
            f"{level.rows_per_s:,.0f}",
            f"{level.in_flight_mean:.1f}/{level.in_flight_max}",
            *(ms(p[key]) for key in ("p50", "p90", "p99", "p999", "max")),
            f"{level.write_errors:,}",
        ]
        if open_model:
            row += [f"{level.sends_delayed:,}", f"{level.sends_missed:,}"]
        row.append(f"{level.cpu_loop:.0%}")
        table.add_row(*row)
        if len(level.operations) < 2:
            continue
        for name, operation in sorted(level.operations.items()):
            q = operation.latency.summary_ms()
            per_s = operation.count / level.elapsed_s if level.elapsed_s > 0 else 0.0
            rows = operation.rows / level.elapsed_s if level.elapsed_s > 0 else 0.0
            sub = ["", "", name, f"{per_s:,.0f}", f"{rows:,.0f}", ""]
            sub += [ms(q[key]) for key in ("p50", "p90", "p99", "p999", "max")]
            sub += [f"{operation.errors:,}"] + [""] * (3 if open_model else 1)
            table.add_row(*sub, style="dim")
    return table


def _fit(table: Table, console: Console) -> Table:
    """Leave out the least needed columns until the table fits the terminal."""
    unbounded = console.options.update(width=10_000)
    for name in _NARROW_DROPS:
        if Measurement.get(console, unbounded, table).maximum <= console.width:
            break
        index = [column.header for column in table.columns].index(name)
        table.columns.pop(index)
    return table


def _chart(result: SweepResult, console: Console) -> None:
    """Throughput (█, with the USL's value as │) and p99 (▒) per level, as bars sized to
    the terminal."""
    levels = [lvl for lvl in result.levels_by_level() if lvl.outcome == "completed"]
    if len(levels) < 2:
        return
    labels = [_level_name(level) for level in levels]
    label_width = max(len(label) for label in labels)
    # label, bar, rows/s (12), the p99 bar and its value (~12) fit the console
    room = console.width - label_width - 2 - 1 - 12 - 2 - 12
    width = max(8, min(_BAR, room * 2 // 3))
    latency_width = max(4, min(_BAR // 2, room - width))
    top_rate = max(lvl.rows_per_s for lvl in levels) or 1.0
    top_p99 = max(lvl.latency.percentile_ms(99) for lvl in levels) or 1.0
    usl = result.usl if result.usl and not fit_is_poor(result.usl) else None  # not drawn
    fitted_mark = " (USL fit │)" if usl and result.model == "closed" else ""
    console.print(f"  throughput █{fitted_mark}   and p99 ▒:", highlight=False)
    for label, level in zip(labels, levels, strict=True):
        filled = round(level.rows_per_s / top_rate * width)
        bar = list("█" * filled + " " * (width - filled))
        if usl and usl.get("batch_size") == level.batch_size and result.model == "closed":
            fitted = usl_throughput(level.in_flight_mean, usl["sigma"], usl["kappa"], usl["lambda"])
            at = min(round(fitted / top_rate * width), width) - 1
            if at >= 0:
                bar[at] = "│" if bar[at] == " " else "┃"
        p99 = level.latency.percentile_ms(99)
        latency = "▒" * max(1, round(p99 / top_p99 * latency_width))
        console.print(
            f"  {label:>{label_width}} {''.join(bar)} {level.rows_per_s:>12,.0f}  "
            f"{latency} {ms(p99)} ms",
            highlight=False,
        )


def render_processes(result: SweepResult, console: Console) -> None:
    """``bench --processes``: how far the processes' measured windows overlapped."""
    processes = result.processes or {}
    overlaps = processes.get("window_overlap") or []
    if overlaps:
        console.print(
            f"  {processes['count']} processes; their measured windows overlapped "
            f"{min(overlaps):.0%} at least (the levels' throughput is over the union)",
            highlight=False,
        )


def _breaking(point: dict[str, Any]) -> str:
    """A ramp's breaking point in words (``BreakingPoint.describe`` of the saved form)."""
    if point.get("cause") is None:
        return f"{point['tag']}: none found, the target followed the whole ramp"
    where = (
        f"{point['rate']:,.0f} writes/s"
        if point.get("rate") is not None
        else f"c={point['concurrency']}"
    )
    return f"{point['tag']}: at {point['time_s']:.1f}s, {where}: {point['detail']}"
