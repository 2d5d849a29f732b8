"""The HTML report of a sweep: one self-contained file that opens offline.

The charts are plotly figures (:mod:`bulkload.report.html_charts`); plotly.js, shipped in
the plotly package, is inlined once, so the file fetches nothing and can be attached to
a CI job as it is (about 5 MB, 1.5 MB zipped). Everything else (header and verdict
badges (:mod:`bulkload.report.html_verdict`), recommendation, warnings, the per-level
table) is plain HTML with its style inside the file, and a short script that keeps each
chart at its card's width.

plotly is an optional dependency (``bulkload[html]``), imported only when a report is
asked for; :func:`require_html_support` says which extra to install when it is missing.
"""

from __future__ import annotations

import datetime as dt
import shlex
from html import escape
from typing import TYPE_CHECKING, Any

from bulkload.bench.compare import Comparison
from bulkload.bench.result import SweepResult
from bulkload.errors import UsageError
from bulkload.redact import redact_url
from bulkload.report.html_levels import levels_table
from bulkload.report.html_verdict import ReportVerdict
from bulkload.report.json_summary import write_text
from bulkload.report.usl_note import fit_is_poor
from bulkload.report.usl_note import verdict as usl_verdict

if TYPE_CHECKING:
    import plotly.graph_objects as go

EXTRA_HINT = "pip install 'bulkload[html]'"

#: chart id -> (title, what it shows)
CHARTS = {
    "throughput": ("Throughput", "rows/s per level"),
    "latency": ("Latency percentiles", "p50, p90, p99, p99.9 per level"),
    "spectrum": ("Latency distribution", "HDR percentile spectrum of each level"),
    "heatmap": ("Throughput by batch size", "rows/s over level and batch size"),
    "errors": ("Errors and retries", "per level"),
    "timeline": ("Over time", "throughput and p99 of each interval; levels and breaking points"),
}
#: charts that take the full width of the page
_WIDE = ("spectrum", "heatmap", "errors", "timeline")


def require_html_support(option: str = "--html") -> None:
    """Raise a one-line UsageError naming the extra when plotly is not installed."""
    try:
        import plotly.graph_objects
        import plotly.offline  # noqa: F401
    except ImportError:
        raise UsageError(
            f"{option}: the HTML report needs plotly, which is not installed: {EXTRA_HINT}"
        ) from None


def render_html(
    result: SweepResult,
    *,
    baseline: SweepResult | None = None,
    comparison: Comparison | None = None,
) -> str:
    """The whole report as one HTML document. Its verdict (badge and callouts) is the one
    saved in ``result`` (gates, comparison); ``comparison`` replaces the saved comparison
    (``report html --baseline``)."""
    require_html_support()
    from plotly.offline import get_plotlyjs

    from bulkload.report import html_charts
    from bulkload.report.html_timeline import timeline_chart

    figures: dict[str, go.Figure | None] = {
        "throughput": html_charts.throughput_chart(result, baseline),
        "latency": html_charts.latency_chart(result, baseline),
        "spectrum": html_charts.spectrum_chart(result, baseline),
        "heatmap": html_charts.heatmap_chart(result),
        "errors": html_charts.errors_chart(result, baseline),
        "timeline": timeline_chart(result),
    }
    verdict = ReportVerdict.of(result, comparison)
    body = [
        _header(result, baseline, verdict),
        _findings(result, baseline, verdict),
        _charts(figures, result),
        levels_table(result, baseline, verdict),
        _footer(result),
    ]
    return _PAGE.format(
        title=escape(f"bulkload bench: {_target(result)}"),
        style=_STYLE,
        plotly=get_plotlyjs(),
        body="\n".join(part for part in body if part),
        script=_SCRIPT,
    )


def write_html(
    result: SweepResult,
    path: str,
    *,
    baseline: SweepResult | None = None,
    comparison: Comparison | None = None,
) -> None:
    """Write the report to ``path`` atomically (a full disk leaves the previous file or
    none, never half a report). Raises OSError."""
    write_text(render_html(result, baseline=baseline, comparison=comparison), path)


# ----------------------------------------------------------------------------- parts


def _target(result: SweepResult) -> str:
    return redact_url(result.target)


def _command(result: SweepResult) -> str:
    # Saved results already have secrets removed; a hand-edited one may not.
    return shlex.join(redact_url(arg) for arg in result.command) if result.command else "-"


def _date(epoch: float) -> str:
    if not epoch:
        return "-"
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _machine(machine: dict[str, Any]) -> str:
    if not machine:
        return "-"
    cores = machine.get("cores")
    parts = [
        str(machine.get("hostname") or "?"),
        f"{cores} cores" if cores else "",
        str(machine.get("cpu_model") or ""),
        f"Python {machine['python']}" if machine.get("python") else "",
        str(machine.get("platform") or ""),
    ]
    return " · ".join(part for part in parts if part)


def _header(result: SweepResult, baseline: SweepResult | None, verdict: ReportVerdict) -> str:
    facts = [
        ("command", f"<code>{escape(_command(result))}</code>"),
        (
            "target",
            f"<code>{escape(_target(result))}</code> table <code>{escape(result.table)}</code>",
        ),
        ("model", escape(f"{result.model} ({_model_meaning(result.model)})")),
        ("started", escape(_date(result.started_at))),
        ("machine", escape(_machine(result.machine))),
        ("bulkload", escape(result.version or "-")),
        ("rows written", f"{result.rows_written:,}"),
    ]
    if baseline is not None:
        facts.append(
            (
                "baseline",
                f"<code>{escape(_target(baseline))}</code>, "
                f"{escape(_date(baseline.started_at))}, bulkload {escape(baseline.version or '-')}"
                + _dashed_note(),
            )
        )
    rows = "\n".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in facts)
    badges = "".join(
        f'<span class="badge {escape(badge.css)}">{escape(badge.text)}</span>'
        for badge in verdict.badges()
    )
    return (
        f'<header><div class="title"><h1>bulkload bench report</h1>{badges}</div>'
        f'<dl class="facts">{rows}</dl></header>'
    )


def _dashed_note() -> str:
    return ' <span class="muted">(drawn dashed in the charts)</span>'


def _model_meaning(model: str) -> str:
    if model == "open":
        return "writes start at fixed arrival rates; latency from when each was due"
    return "a fixed number of writes in flight per level"


def _findings(result: SweepResult, baseline: SweepResult | None, verdict: ReportVerdict) -> str:
    items: list[str] = verdict.callouts()
    chosen = result.recommended_level()
    if result.recommendation:
        kind = "good" if chosen is not None else "warn"
        label = "Recommended" if chosen is not None else "No recommendation"
        items.append(
            f'<div class="callout {kind}"><strong>{label}:</strong> '
            f"{escape(result.recommendation)}"
            + (
                f"<br><small>Rule: {escape(result.recommendation_rule)}</small>"
                if result.recommendation_rule
                else ""
            )
            + "</div>"
        )
    if result.usl and result.model == "closed":  # the open model's charts draw no fit
        usl = result.usl
        kind = "warn" if fit_is_poor(usl) else "info"
        items.append(
            f'<div class="callout {kind}"><strong>Universal Scalability Law fit</strong> '
            f"(batch {usl.get('batch_size') or 0:,}): σ {usl['sigma']:.4f} (contention), "  # noqa: RUF001
            f"κ {usl['kappa']:.6f} (coherency), λ {usl['lambda']:,.0f} rows/s at one writer, "
            f"R² {usl['r_squared']:.3f}; {escape(usl_verdict(usl))}</div>"
        )
    if result.slo:
        listed = ", ".join(f"<code>{escape(slo)}</code>" for slo in result.slo)
        items.append(f'<div class="callout info"><strong>SLO:</strong> {listed}</div>')
    if baseline is not None and baseline.model != result.model:
        items.append(
            '<div class="callout warn">The baseline is an '
            f"{escape(baseline.model)}-model run and this one {escape(result.model)}: "
            "their levels are not comparable, so the charts do not overlay it.</div>"
        )
    for warning in result.warnings:
        items.append(f'<div class="callout warn"><strong>Warning:</strong> {escape(warning)}</div>')
    if result.error:
        error = escape(result.error)
        items.append(f'<div class="callout bad"><strong>Stopped:</strong> {error}</div>')
    return f'<section class="findings">{"".join(items)}</section>' if items else ""


def _charts(figures: dict[str, go.Figure | None], result: SweepResult) -> str:
    if not any(figures.values()):
        return '<section class="empty">No level was measured: there is nothing to chart.</section>'
    from bulkload.report import html_charts

    cards = []
    for chart_id, figure in figures.items():
        if figure is None:
            continue
        title, subtitle = CHARTS[chart_id]
        if chart_id in ("throughput", "latency", "heatmap") and result.model == "open":
            subtitle += " (x: arrival rate)"
        if chart_id in ("throughput", "latency") and html_charts.operation_names(result.levels):
            subtitle += (
                "; dotted: each operation's rows/s"
                if chart_id == "throughput"
                else f"; dotted: each operation's {html_charts.OPERATION_PERCENTILE[0]}"
            )
        div = figure.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=f"chart-{chart_id}",
            config={"displaylogo": False, "responsive": True},
        )
        wide = " wide" if chart_id in _WIDE else ""
        cards.append(
            f'<figure class="card{wide}" data-chart="{chart_id}" '
            f'data-series="{len(figure.data)}"><figcaption><h2>{title}</h2>'
            f'<span class="muted">{escape(subtitle)}</span></figcaption>{div}</figure>'
        )
    return f'<section class="charts">{"".join(cards)}</section>'


def _footer(result: SweepResult) -> str:
    return (
        f"<footer>Made by bulkload {escape(result.version or '')} · "
        "self-contained: this file fetches nothing · charts by plotly</footer>"
    )


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{style}</style>
<script>{plotly}</script>
</head>
<body>
<main>
{body}
</main>
<script>{script}</script>
</body>
</html>
"""

# plotly draws each chart at the width its box had while the page was still being parsed
# (before the grid had all its cards), and follows only the window's resize events: a
# ResizeObserver redraws every chart whenever its card changes size, for any reason
_SCRIPT = """
(() => {
  const fit = (plot) => { if (plot.offsetWidth > 0) Plotly.Plots.resize(plot); };
  const observer = new ResizeObserver((seen) => seen.forEach((entry) => fit(entry.target)));
  document.querySelectorAll('.js-plotly-plot').forEach((plot) => observer.observe(plot));
  // the sticky level columns sit each at the right of the one before
  const table = document.getElementById('levels');
  const pin = () => {
    let left = 0;
    [...table.tHead.rows[0].cells].slice(0, 3).forEach((cell, i) => {
      table.style.setProperty(`--left${i}`, `${left}px`);
      left += cell.getBoundingClientRect().width;
    });
  };
  if (table) new ResizeObserver(pin).observe(table);
})();
"""

_STYLE = """
:root { --fg: #1f2933; --muted: #6b7785; --line: #e3e8ee; --bg: #f5f7fa; --card: #fff;
  --accent: #0072B2; --good: #1e7d4f; --warn: #9a6700; --bad: #b42318; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 1360px; margin: 0 auto; padding: 24px; }
header { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 20px 24px; border-top: 4px solid var(--accent); }
.title { display: flex; align-items: center; gap: 12px; }
h1 { font-size: 22px; margin: 0; }
h2 { font-size: 16px; margin: 0; }
.badge { font-size: 12px; font-weight: 600; padding: 2px 10px; border-radius: 999px;
  text-transform: uppercase; letter-spacing: .04em; background: #e6f4ea; color: var(--good); }
.badge.completed { background: var(--bg); color: var(--fg); }
.badge.interrupted, .badge.aborted { background: #fff4d6; color: var(--warn); }
.badge.failed, .badge.regressed { background: #fde8e7; color: var(--bad); }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px;
  margin: 16px 0 0; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; overflow-wrap: anywhere; }
code { font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  background: var(--bg); padding: 1px 5px; border-radius: 4px; }
.findings { margin-top: 16px; display: grid; gap: 8px; }
.callout { background: var(--card); border: 1px solid var(--line); border-left-width: 4px;
  border-radius: 6px; padding: 10px 14px; }
.callout.good { border-left-color: var(--good); }
.callout.info { border-left-color: var(--accent); }
.callout.warn { border-left-color: var(--warn); }
.callout.bad { border-left-color: var(--bad); }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr));
  gap: 16px; margin-top: 16px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  margin: 0; padding: 14px 16px 6px; min-width: 0; }
.card.wide { grid-column: 1 / -1; }
figcaption { display: flex; align-items: baseline; gap: 10px; }
.muted { color: var(--muted); font-size: 12.5px; }
.empty { margin-top: 16px; padding: 24px; background: var(--card); border-radius: 10px; }
.callout ul { margin: 4px 0 0; padding-left: 20px; }
.levels { margin-top: 16px; background: var(--card); border: 1px solid var(--line);
  border-radius: 10px; padding: 14px 16px; min-width: 0; }
.scroll { overflow-x: auto; margin-top: 10px; }
table { border-collapse: separate; border-spacing: 0; width: 100%; font-size: 13px;
  font-variant-numeric: tabular-nums; }
th, td { padding: 5px 7px; text-align: right; white-space: nowrap; background: var(--card);
  border-bottom: 1px solid var(--line); }
th { font-weight: 600; color: var(--muted); font-size: 12.5px; background: var(--bg); }
/* the level (star, concurrency or rate, batch) stays in view when the table scrolls */
th:nth-child(-n+3), td:nth-child(-n+3) { position: sticky; z-index: 1; }
th:nth-child(1), td:nth-child(1) { left: var(--left0, 0); }
th:nth-child(2), td:nth-child(2) { left: var(--left1, 2em); }
th:nth-child(3), td:nth-child(3) { left: var(--left2, 7em); box-shadow: 1px 0 0 var(--line); }
tr.recommended td { background: #eaf4fb; font-weight: 600; }
tr.failed td { color: var(--bad); }
/* an operation's sub-row under its level's total: lighter, its name indented */
tr.operation td { color: var(--muted); font-size: 12.5px; }
tr.operation td:nth-child(4) { padding-left: 1.5em; }
td:first-child { color: #C0392B; text-align: center; }
.up { color: var(--good); } .down { color: var(--bad); }
.regressed { font-weight: 700; }
footer { margin: 24px 0 8px; color: var(--muted); font-size: 12px; text-align: center; }
"""
