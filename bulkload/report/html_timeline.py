"""The HTML report's chart over time: throughput and p99 of each interval of the run's
timeline, one above the other on a shared time axis (seconds since the run began).

The level boundaries are drawn as dotted vertical lines (labelled with the level), an
open model's offered load as a dashed line beside the throughput, and a ramp's breaking
point as a red vertical line with its cause.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from bulkload.bench.result import SweepResult
from bulkload.report.html_charts import PALETTE, RECOMMENDED_COLOUR
from bulkload.stats.timeline import Interval

_HEIGHT = 520


def timeline_chart(result: SweepResult) -> go.Figure | None:
    """None when the result holds no timeline (saved before timelines) or no level."""
    timeline = result.timeline
    intervals = [] if timeline is None else timeline.intervals
    if not intervals or not result.levels:  # nothing measured: the page says so instead
        return None
    kinds = {level.kind for level in result.levels}
    # what an interval's operations are: batch writes, queries, or both (a mixed run)
    rate = "writes" if kinds <= {"write"} else "queries" if kinds == {"query"} else "operations"
    return over_time_figure(intervals, breaking_points=result.breaking_points or (), rate=rate)


def over_time_figure(
    intervals: Sequence[Interval],
    *,
    breaking_points: Sequence[dict[str, Any]] = (),
    rate: str = "writes",
    mark_tags: bool = True,
) -> go.Figure:
    """Throughput (``rate``: rows a second, or operations — writes, queries — a second)
    above the p99 of each interval;
    a dotted line where each tag (level) began when ``mark_tags``, a red one at each
    breaking point."""
    origin = intervals[0].start
    figure = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
        subplot_titles=(f"throughput ({rate}/s)", "p99 latency (ms)"),
    )  # fmt: skip
    times = [(i.start + i.end) / 2 - origin for i in intervals]
    carried = [i.rows_per_s if rate == "rows" else i.ops_per_s for i in intervals]
    figure.add_trace(
        go.Scatter(
            x=times, y=carried, name=f"{rate}/s", mode="lines+markers",
            line={"color": PALETTE[0]}, marker={"size": 4},
            hovertemplate=f"%{{x:.1f}} s: %{{y:,.1f}} {rate}/s<extra></extra>",
        ),
        row=1, col=1,
    )  # fmt: skip
    if rate != "rows" and any(i.offered is not None for i in intervals):
        figure.add_trace(
            go.Scatter(
                x=times, y=[i.offered_per_s for i in intervals], name="offered/s",
                mode="lines", line={"color": PALETTE[1], "dash": "dash"},
                hovertemplate="%{x:.1f} s: %{y:,.1f} offered/s<extra></extra>",
            ),
            row=1, col=1,
        )  # fmt: skip
    figure.add_trace(
        go.Scatter(
            x=times, y=[i.latency.percentile_ms(99) if i.latency_count else None
                        for i in intervals],
            name="p99", mode="lines+markers", line={"color": PALETTE[3]}, marker={"size": 4},
            hovertemplate="%{x:.1f} s: p99 %{y:,.2f} ms<extra></extra>",
        ),
        row=2, col=1,
    )  # fmt: skip
    if mark_tags:
        _levels(figure, intervals, origin)
    _breaking(figure, breaking_points, origin)
    figure.update_layout(
        template="plotly_white", height=_HEIGHT, hovermode="x unified",
        margin={"l": 70, "r": 20, "t": 40, "b": 20},
        legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0},
        font={"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
    )  # fmt: skip
    figure.update_xaxes(title_text="seconds since the run began", row=2, col=1, showline=True)
    figure.update_yaxes(rangemode="tozero", showline=True)
    return figure


def _levels(figure: go.Figure, intervals: Sequence[Interval], origin: float) -> None:
    """A dotted line where each level began (its warm-up included)."""
    seen: set[str] = set()
    for interval in intervals:
        if interval.tag in seen:
            continue
        seen.add(interval.tag)
        figure.add_vline(
            x=interval.start - origin, line={"color": "#95a5a6", "dash": "dot", "width": 1},
            annotation_text=interval.tag, annotation_position="top right",
            annotation_font={"size": 10, "color": "#6b7785"}, row=1, col=1,
        )  # fmt: skip


def _breaking(figure: go.Figure, points: Sequence[dict[str, Any]], origin: float) -> None:
    for point in points:
        if point.get("cause") is None:
            continue
        at = point["at"] - origin
        where = (
            f"{point['rate']:,.0f}/s"
            if point.get("rate") is not None
            else (f"c={point['concurrency']}")
        )
        for row in (1, 2):
            figure.add_vline(
                x=at, line={"color": RECOMMENDED_COLOUR, "width": 2}, row=row, col=1,
                annotation_text=f"breaking point ({point['cause']}, {where})" if row == 1 else "",
                annotation_position="top left",
                annotation_font={"size": 11, "color": RECOMMENDED_COLOUR},
            )  # fmt: skip
