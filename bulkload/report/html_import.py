"""The HTML report of an import (``import --html``): one self-contained file, as a
bench's is (:mod:`bulkload.report.html`: the same page, style and inlined plotly.js).

It renders the import's summary document, the one ``--json`` writes
(:func:`~bulkload.report.json_summary.summary_dict`), so its figures are the JSON's:
``bulkload report html`` renders a saved one too. It shows
the summary figures, the rejections (how many, the bad-records file, the first ones with
their source line and reason) and the retries' causes, the import's throughput (rows/s)
and p99 over time from its timeline, and its latency distribution.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bulkload.bench.result import SweepResult
from bulkload.redact import redact_url
from bulkload.report.html import (
    _PAGE,
    _SCRIPT,
    _STYLE,
    CHARTS,
    _date,
    require_html_support,
)
from bulkload.report.json_summary import KIND, write_text
from bulkload.report.summary import ms
from bulkload.stats.histogram import LatencyHistogram
from bulkload.stats.level import LevelResult
from bulkload.stats.timeline import Timeline

if TYPE_CHECKING:
    import plotly.graph_objects as go

#: chart id -> (title, what it shows)
IMPORT_CHARTS = {
    "timeline": ("Over time", "rows/s and p99 of each interval of the import"),
    "spectrum": (CHARTS["spectrum"][0], "HDR percentile spectrum of the batch writes"),
}

#: (JSON key, label, how its value is shown) of the summary figures, in order
_FIGURES: tuple[tuple[str, str, str], ...] = (
    ("rows_read", "rows read", "count"),
    ("rows_loaded", "rows loaded", "count"),
    ("rows_rejected", "rows rejected", "count"),
    ("rows_unfinished", "rows unfinished", "count"),
    ("rows_in_doubt", "rows in doubt", "count"),
    ("rows_skipped", "rows skipped (--resume)", "count"),
    ("batches", "batches written", "count"),
    ("batches_failed", "batches failed", "count"),
    ("retries", "retries", "count"),
    ("elapsed_s", "elapsed", "seconds"),
    ("rows_per_s", "rows/s", "rate"),
    ("mb_per_s", "MB/s", "mb"),
    ("concurrency", "concurrency", "count"),
    ("effective_concurrency", "writes in flight (mean)", "mean"),
    ("in_flight_max", "writes in flight (max)", "count"),
    ("batch_size", "batch size", "count"),
)
_LATENCY = ("p50", "p90", "p99", "p999", "max", "mean")


def render_import_html(summary: dict[str, Any]) -> str:
    """The whole report of an import as one HTML document, from its summary document
    (its command line and bulkload's version included)."""
    require_html_support()
    command = [str(arg) for arg in summary.get("command") or ()]
    version = str(summary.get("version") or "")
    from plotly.offline import get_plotlyjs

    figures = {"timeline": _timeline_chart(summary), "spectrum": _spectrum_chart(summary)}
    body = [
        _header(summary, command, version),
        _findings(summary),
        _charts(figures),
        _figures(summary),
        _rejections(summary),
        f"<footer>Made by bulkload {escape(version)} · self-contained: this file fetches "
        "nothing · charts by plotly</footer>",
    ]
    return _PAGE.format(
        title=escape(f"bulkload import: {redact_url(str(summary.get('target') or ''))}"),
        style=_STYLE + _IMPORT_STYLE,
        plotly=get_plotlyjs(),
        body="\n".join(part for part in body if part),
        script=_SCRIPT,
    )


def write_import_html(summary: dict[str, Any], path: str) -> None:
    """Write the report to ``path`` atomically. Raises OSError."""
    write_text(render_import_html(summary), path)


def read_import_summary(path: Path) -> dict[str, Any] | None:
    """The import summary saved in ``path`` (``import --json``), or None when the file
    holds something else (or nothing readable: its reader says what)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) and data.get("kind") == KIND else None


# ----------------------------------------------------------------------------- parts


def _header(summary: dict[str, Any], command: Sequence[str], version: str) -> str:
    timeline = summary.get("timeline") or {}
    intervals = timeline.get("intervals") or []
    started = float(intervals[0]["start"]) if intervals else 0.0
    shown = " ".join(redact_url(arg) for arg in command) if command else "-"
    facts = [
        ("command", f"<code>{escape(shown)}</code>"),
        (
            "target",
            f"<code>{escape(redact_url(str(summary.get('target') or '')))}</code> table "
            f"<code>{escape(str(summary.get('table') or ''))}</code>",
        ),
        ("started", escape(_date(started))),
        ("bulkload", escape(version or "-")),
    ]
    rows = "\n".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in facts)
    outcome = str(summary.get("outcome") or "completed")
    badge = f'<span class="badge {escape(outcome)}" id="outcome">{escape(outcome)}</span>'
    return (
        f'<header><div class="title"><h1>bulkload import report</h1>{badge}</div>'
        f'<dl class="facts">{rows}</dl></header>'
    )


def _findings(summary: dict[str, Any]) -> str:
    items = []
    if summary.get("error"):
        error = escape(str(summary["error"]))
        items.append(f'<div class="callout bad"><strong>Stopped:</strong> {error}</div>')
    rejected = int(summary.get("rows_rejected") or 0)
    if rejected:
        where = summary.get("bad_records")
        kept = f"; kept in <code>{escape(str(where))}</code>" if where else ""
        items.append(
            f'<div class="callout warn"><strong>Rejected:</strong> {rejected:,} '
            f"{'row' if rejected == 1 else 'rows'}{kept} (see Rejections below)</div>"
        )
    doubt = int(summary.get("rows_in_doubt") or 0)
    if doubt:
        items.append(
            f'<div class="callout warn"><strong>In doubt:</strong> {doubt:,} rows were '
            "written with no answer from the target: they may or may not be there</div>"
        )
    if not items:
        loaded = int(summary.get("rows_loaded") or 0)
        items.append(
            f'<div class="callout good"><strong>Loaded:</strong> every row read, '
            f"{loaded:,}, was loaded</div>"
        )
    return f'<section class="findings">{"".join(items)}</section>'


def _charts(figures: dict[str, go.Figure | None]) -> str:
    cards = []
    for chart_id, figure in figures.items():
        if figure is None:
            continue
        title, subtitle = IMPORT_CHARTS[chart_id]
        div = figure.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=f"chart-{chart_id}",
            config={"displaylogo": False, "responsive": True},
        )
        cards.append(
            f'<figure class="card wide" data-chart="{chart_id}" '
            f'data-series="{len(figure.data)}"><figcaption><h2>{title}</h2>'
            f'<span class="muted">{escape(subtitle)}</span></figcaption>{div}</figure>'
        )
    if not cards:
        return '<section class="empty">No batch was written: there is nothing to chart.</section>'
    return f'<section class="charts">{"".join(cards)}</section>'


def _timeline_chart(summary: dict[str, Any]) -> go.Figure | None:
    from bulkload.report.html_timeline import over_time_figure

    intervals = Timeline.from_dict(summary.get("timeline")).intervals
    if not intervals:
        return None
    return over_time_figure(intervals, rate="rows", mark_tags=False)


def _spectrum_chart(summary: dict[str, Any]) -> go.Figure | None:
    from bulkload.report.html_charts import spectrum_chart

    encoded = summary.get("latency_hdr")
    if not encoded:
        return None
    level = LevelResult(
        concurrency=int(summary.get("concurrency") or 1),
        batch_size=int(summary.get("batch_size") or 1),
        batches=int(summary.get("batches") or 0),
        latency=LatencyHistogram.decode(encoded),
    )
    import_run = SweepResult(model="closed", target="", table="", levels=[level])
    return spectrum_chart(import_run)


def _figures(summary: dict[str, Any]) -> str:
    """The summary figures, each row saying its JSON key and exact value."""
    rows = []
    for key, label, shape in _FIGURES:
        value = summary.get(key)
        if value is None:
            continue
        rows.append(_row(key, label, value, _shown(value, shape)))
    latency = summary.get("latency_ms") or {}
    if summary.get("latency_samples"):
        for name in _LATENCY:
            if name in latency:
                value = latency[name]
                rows.append(_row(f"latency_ms.{name}", f"latency {name}", value, f"{ms(value)} ms"))
    return (
        '<section class="levels"><h2>Summary</h2><div class="scroll">'
        f'<table id="summary"><tbody>{"".join(rows)}</tbody></table></div>'
        '<p class="muted">Latency: each batch write\'s time at the target (its service '
        "time), retries not included; rows/s and MB/s over the whole elapsed time.</p>"
        "</section>"
    )


def _row(key: str, label: str, value: Any, shown: str) -> str:
    return (
        f'<tr data-key="{escape(key)}" data-value="{escape(str(value))}">'
        f"<th>{escape(label)}</th><td>{escape(shown)}</td></tr>"
    )


def _shown(value: Any, shape: str) -> str:
    number = float(value)
    if shape == "seconds":
        return f"{number:,.2f} s"
    if shape == "rate":
        return f"{number:,.0f}"
    if shape == "mb":
        return f"{number:,.2f}"
    if shape == "mean":
        return f"{number:,.1f}"
    return f"{int(number):,}"


def _rejections(summary: dict[str, Any]) -> str:
    rejected = int(summary.get("rows_rejected") or 0)
    causes: dict[str, int] = summary.get("retry_causes") or {}
    parts = [
        f'<p id="rejected-count">{rejected:,} {"row" if rejected == 1 else "rows"} rejected'
        + (
            f", kept in <code>{escape(str(summary['bad_records']))}</code>"
            if rejected and summary.get("bad_records")
            else ""
        )
        + ".</p>"
    ]
    sample = summary.get("rejections_sample") or []
    if sample:
        rows = "".join(
            "<tr>"
            f"<td>{escape(str(item.get('source') or ''))}</td>"
            f"<td>{escape(str(item.get('line') if item.get('line') is not None else '-'))}</td>"
            f'<td class="reason">{escape(str(item.get("reason") or ""))}</td>'
            "</tr>"
            for item in sample
        )
        more = (
            f'<p class="muted">The first {len(sample):,} of {rejected:,}.</p>'
            if rejected > len(sample)
            else ""
        )
        parts.append(
            '<div class="scroll"><table id="rejections"><thead><tr><th>source</th>'
            f"<th>line</th><th>reason</th></tr></thead><tbody>{rows}</tbody></table></div>" + more
        )
    if causes:
        listed = "".join(
            f"<li><code>{escape(cause)}</code>: {count:,}</li>"
            for cause, count in sorted(causes.items(), key=lambda item: -item[1])
        )
        parts.append(f'<p>Retries by cause:</p><ul id="retry-causes">{listed}</ul>')
    body = "".join(parts)
    return f'<section class="levels" id="rejections-section"><h2>Rejections</h2>{body}</section>'


_IMPORT_STYLE = """
#summary { width: auto; }
#summary th { text-align: left; background: var(--card); color: var(--muted); }
#summary th, #summary td { position: static; }
#rejections td, #rejections th { position: static; text-align: left; }
#rejections td:first-child { color: inherit; }
#rejections td.reason { white-space: normal; }
"""
