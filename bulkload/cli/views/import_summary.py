"""An import's final summary on the terminal, with its latency histogram."""

from __future__ import annotations

import time

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bulkload.cli.views.histogram import histogram_lines
from bulkload.redact import redact_url
from bulkload.report.summary import in_doubt_text, ms
from bulkload.stats.histogram import LatencyHistogram
from bulkload.stats.run import RunStats


def render_summary(stats: RunStats, console: Console, *, now: float | None = None) -> None:
    elapsed = stats.elapsed(now if now is not None else time.perf_counter())
    rate = stats.rows_loaded / elapsed if elapsed > 0 else 0.0
    mbps = stats.bytes_read / 1e6 / elapsed if elapsed > 0 else 0.0
    title = f"bulkload import → {redact_url(stats.target)}  table {stats.table}  ({stats.outcome})"
    console.print(Text(title, style="bold"))

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column(justify="right")
    grid.add_column(style="dim")
    grid.add_column(justify="right")
    grid.add_row("rows read", f"{stats.rows_read:,}", "elapsed", f"{elapsed:,.2f} s")
    grid.add_row("rows loaded", f"{stats.rows_loaded:,}", "throughput", f"{rate:,.0f} rows/s")
    grid.add_row("rows rejected", f"{stats.rows_rejected:,}", "", f"{mbps:,.1f} MB/s")
    grid.add_row("batches", f"{stats.batches:,}", "concurrency", _concurrency(stats))
    if stats.retries or stats.breaker_opened:
        grid.add_row("retries", f"{stats.retries:,}", "circuit opened", f"{stats.breaker_opened}")
    if stats.rows_skipped:
        grid.add_row("rows skipped", f"{stats.rows_skipped:,}", "", "(loaded by an earlier run)")
    console.print(grid)
    if stats.processes:
        shares = " + ".join(f"{process['rows_loaded']:,}" for process in stats.processes)
        console.print(f"  {len(stats.processes)} processes, rows loaded: {shares}", highlight=False)

    unfinished = stats.rows_pending
    check = "[green]✓[/]" if unfinished == 0 else f"[red]✗ {unfinished:,} not finished[/]"
    console.print(
        f"  read = loaded + rejected: {stats.rows_read:,} = {stats.rows_loaded:,} + "
        f"{stats.rows_rejected:,} {check}",
        highlight=False,
    )
    if stats.rows_in_doubt:
        console.print(f"  {in_doubt_text(stats.rows_in_doubt)}", highlight=False)
    for cause, count in sorted(stats.retry_causes.items(), key=lambda kv: -kv[1])[:3]:
        console.print(f"  retried {count:,}x: {cause}", highlight=False, markup=False)

    if stats.latency.count:
        console.print("  batch write latency (ms):", highlight=False)
        console.print("    " + _percentiles(stats.latency), highlight=False)
        if stats.latency_from_due.count:
            console.print("  including the wait for the rate limit:", highlight=False)
            console.print("    " + _percentiles(stats.latency_from_due), highlight=False)
        _histogram(stats.latency, console)

    if stats.first_rejections:
        shown = stats.first_rejections[:5]
        console.print(f"  first rejected rows ({len(shown)} of {stats.rows_rejected:,}):")
        for r in shown:
            where = f"{r.source}:{r.line}" if r.line is not None else r.source
            console.print(f"    {where}: {r.reason}", highlight=False, markup=False)
        if stats.bad_records_path:
            console.print(f"  all rejected rows: {stats.bad_records_path}", highlight=False)


def _percentiles(hist: LatencyHistogram) -> str:
    p = hist.summary_ms()
    return (
        f"p50 {ms(p['p50'])}  p90 {ms(p['p90'])}  p99 {ms(p['p99'])}  "
        f"p99.9 {ms(p['p999'])}  max {ms(p['max'])}  mean {ms(p['mean'])}"
    )


def _concurrency(stats: RunStats) -> str:
    if stats.effective_concurrency and stats.effective_concurrency != stats.concurrency:
        text = f"{stats.effective_concurrency} (of {stats.concurrency} asked; target limit)"
    else:
        text = str(stats.concurrency)
    ceiling = stats.effective_concurrency or stats.concurrency
    if stats.in_flight_max and stats.in_flight_max < ceiling:
        text += f", at most {stats.in_flight_max} in flight"
    return text


def _histogram(hist: LatencyHistogram, console: Console) -> None:
    for line in histogram_lines(hist):
        console.print(line, highlight=False)
