"""The HTML report's levels table: a row per level and, in a run of several operations
(a weighted query set, or ``--mix``), one sub-row per operation under its level's total,
as the terminal's table has them.

Each row is a mapping of column name to cell, rendered in the header's order, so a
sub-row fills only the columns an operation has. Deltas against a baseline read the
saved comparison (:mod:`bulkload.bench.compare`), which says what regressed.
"""

from __future__ import annotations

from html import escape

from bulkload.bench.compare import LevelComparison
from bulkload.bench.result import SweepResult
from bulkload.report.html_verdict import ReportVerdict
from bulkload.report.summary import ms
from bulkload.stats.level import LevelResult

_LATENCIES = (("p50 ms", "p50"), ("p90 ms", "p90"), ("p99 ms", "p99"))
_TAIL = (("p99.9 ms", "p999"), ("max ms", "max"))


def runs_operations(result: SweepResult) -> bool:
    """A query or mixed run: its table names each level's operation(s)."""
    return any(
        level.kind == "query" or (level.kind != "write" and level.operations)
        for level in result.levels
    )


def levels_table(result: SweepResult, baseline: SweepResult | None, verdict: ReportVerdict) -> str:
    if not result.levels:
        return ""
    comparison = verdict.comparison
    compared = {level.key: level for level in (comparison.levels if comparison else ())}
    open_model = result.model == "open"
    twins: dict[tuple[float, int], LevelResult] = {}
    if baseline is not None and baseline.model == result.model:
        twins = {_key(level): level for level in baseline.levels}
    operations = runs_operations(result)
    mixed = any(level.kind == "mixed" for level in result.levels)
    head = ["", "rate/s" if open_model else "concurrency", "batch"]
    if operations:
        head += ["operation", "ops/s" if mixed else "queries/s"]
    head.append("rows/s")
    if twins:
        head.append("rows/s vs baseline")
    head += ["MB/s", "in flight", *(name for name, _ in _LATENCIES)]
    if twins:
        head.append("p99 vs baseline")
    head += [name for name, _ in _TAIL]
    head += ["errors", "retries", "timeouts", "error rate"]
    if open_model:
        head += ["delayed", "missed"]
    head.append("cpu")
    show_outcome = any(level.outcome != "completed" for level in result.levels)
    if show_outcome:
        head.append("outcome")
    chosen = result.recommended_level()
    rows = []
    for level in result.levels_by_level():
        twin = twins.get(_key(level)) if twins else None
        judged = compared.get((level.concurrency, level.rate, level.batch_size))
        cells = _level_cells(level, open_model, twin, judged, twins=bool(twins))
        cells[""] = "★" if level is chosen else ""
        if operations:
            only = next(iter(level.operations), "query")
            cells["operation"] = "total" if len(level.operations) > 1 else escape(only)
        if show_outcome:
            cells["outcome"] = escape(level.outcome)
        css = "recommended" if level is chosen else level.outcome
        rows.append(_row(head, cells, css))
        if operations and len(level.operations) > 1:
            for name in sorted(level.operations):
                sub = _operation_cells(level, name, twin, judged, twins=bool(twins))
                rows.append(_row(head, sub, "operation", name))
    header = "".join(f"<th>{escape(name)}</th>" for name in head)
    sub_rows = (
        " Under each level's total, a row per operation: its own operations/s, rows/s,"
        " latency and errors."
        if operations
        else ""
    )
    # the table scrolls in its own box on a narrow page; the level's columns stay put
    return (
        '<section class="levels"><h2>Levels</h2><div class="scroll">'
        f'<table id="levels"><thead><tr>{header}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        '<p class="muted">★ recommended level. Latency: '
        + (
            f"from when each {'operation' if operations else 'write'} was due (open model), "
            "so stalls are not hidden"
            if open_model
            else f"from the start of each {'operation' if operations else 'batch write'} to "
            "its end, retries included"
        )
        + f"; in flight: mean / max; cpu: bulkload's event loop.{sub_rows}</p></section>"
    )


def _row(head: list[str], cells: dict[str, str], css: str, operation: str = "") -> str:
    named = f' data-operation="{escape(operation)}"' if operation else ""
    shown = "".join(f"<td>{cells.get(name, '')}</td>" for name in head)
    return f'<tr class="{css}"{named}>{shown}</tr>'


def _level_cells(
    level: LevelResult,
    open_model: bool,
    twin: LevelResult | None,
    judged: LevelComparison | None,
    *,
    twins: bool,
) -> dict[str, str]:
    p = level.latency.summary_ms()
    regressed = {change.figure for change in judged.regressions} if judged else set()
    cells = {
        "rate/s" if open_model else "concurrency": (
            f"{level.rate:g}" if open_model and level.rate is not None else str(level.concurrency)
        ),
        "batch": f"{level.batch_size:,}",
        "ops/s": f"{level.batches_per_s:,.0f}",
        "queries/s": f"{level.batches_per_s:,.0f}",
        "rows/s": f"{level.rows_per_s:,.0f}",
        "MB/s": f"{level.mb_per_s:,.1f}",
        "in flight": f"{level.in_flight_mean:.1f} / {level.in_flight_max}",
        **{name: ms(p[key]) for name, key in (*_LATENCIES, *_TAIL)},
        "errors": f"{level.write_errors:,}",
        "retries": f"{level.retries:,}",
        "timeouts": f"{level.timeouts:,}",
        "error rate": f"{level.error_rate:.2%}",
        "delayed": f"{level.sends_delayed:,}",
        "missed": f"{level.sends_missed:,}",
        "cpu": f"{level.cpu_loop:.0%}",
    }
    if twins:
        before = twin.rows_per_s if twin else None
        cells["rows/s vs baseline"] = delta_cell(
            level.rows_per_s, before, True, "rows_per_s" in regressed
        )
        before = twin.latency.percentile_ms(99) if twin else None
        cells["p99 vs baseline"] = delta_cell(p["p99"], before, False, "p99" in regressed)
    return cells


def _operation_cells(
    level: LevelResult,
    name: str,
    twin: LevelResult | None,
    judged: LevelComparison | None,
    *,
    twins: bool,
) -> dict[str, str]:
    """One operation's sub-row: its rate, rows, latency and errors (the level's other
    figures — in flight, retries, cpu — are the total's alone); against a baseline, the
    change of its operations/s and p99, the regressions as the comparison judged them."""
    operation = level.operations[name]
    q = operation.latency.summary_ms()
    per_s = _per_s(level, operation.count)
    cells = {
        "operation": escape(name),
        "ops/s": f"{per_s:,.0f}",
        "queries/s": f"{per_s:,.0f}",
        "rows/s": f"{operation.rows / level.elapsed_s if level.elapsed_s > 0 else 0.0:,.0f}",
        **{column: ms(q[key]) for column, key in (*_LATENCIES, *_TAIL)},
        "errors": f"{operation.errors:,}",
    }
    if twins:
        before = twin.operations.get(name) if twin else None
        changes = judged.operations.get(name, []) if judged else []
        regressed = {change.figure for change in changes if change.regressed}
        rate = delta_cell(
            per_s, _per_s(twin, before.count) if twin and before else None, True,
            "per_s" in regressed,
        )  # fmt: skip
        # the column's rows/s is the total's figure; an operation is judged on its ops/s
        named = rate.replace("</span>", " ops/s</span>", 1)
        cells["rows/s vs baseline"] = rate if before is None else named
        cells["p99 vs baseline"] = delta_cell(
            q["p99"], before.latency.percentile_ms(99) if before else None, False,
            "p99" in regressed,
        )  # fmt: skip
    return cells


def _per_s(level: LevelResult, count: int) -> float:
    return count / level.elapsed_s if level.elapsed_s > 0 else 0.0


def delta_cell(value: float, before: float | None, higher_is_better: bool, regressed: bool) -> str:
    if before is None or before <= 0:
        return '<span class="muted">-</span>'
    change = (value - before) / before
    better = change > 0 if higher_is_better else change < 0
    css = "muted" if abs(change) < 0.005 else ("up" if better else "down")
    if regressed:  # past the allowed regression: said in words too, not by colour alone
        return f'<span class="down regressed">{change:+.1%} regressed</span>'
    return f'<span class="{css}">{change:+.1%}</span>'


def _key(level: LevelResult) -> tuple[float, int]:
    x = level.rate if level.rate is not None else float(level.concurrency)
    return (x, level.batch_size)
