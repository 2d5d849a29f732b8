"""The charts of the HTML report, as plotly figures built from saved sweep results.

Each function takes a :class:`SweepResult` (and the baseline's, when there is one) and
returns one figure, or None when the result has nothing to draw in it. The x axis is the
concurrency (closed model) or the arrival rate in batch writes per second (open model).
Baseline series are drawn dashed, in the colour of the run's series they compare with
(open markers), in the same legend group. No two series of a chart look alike: colour,
then marker (:func:`series_style`), then dash.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import plotly.graph_objects as go

from bulkload.bench.result import SweepResult
from bulkload.report.usl_note import fit_is_poor
from bulkload.stats.level import LevelResult
from bulkload.stats.usl import usl_throughput

#: colour-blind-safe palette (Okabe-Ito, and Tol's wine and teal), one colour per series
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#882255",
    "#44AA99",
)
#: the second visual channel: past the palette, the colours come again with another marker
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "cross", "star-square", "hourglass")
PERCENTILES = (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99.9", 99.9))
#: the percentile each operation of a query or mixed sweep draws in the latency chart
OPERATION_PERCENTILE = ("p99", 99.0)
RECOMMENDED_COLOUR = "#C0392B"
BASELINE_DASH = "dash"
#: x position of the spectrum's last point (the max), one decade past 99.999
_SPECTRUM_MAX_X = 1e6
_SPECTRUM_TICKS = (
    (2, "50%"),
    (10, "90%"),
    (100, "99%"),
    (1e3, "99.9%"),
    (1e4, "99.99%"),
    (1e5, "99.999%"),
    (_SPECTRUM_MAX_X, "max"),
)
_CHART_HEIGHT = 380
#: entries in a row of the spectrum's legend (a wide card: 976 px at the narrowest, for
#: entries such as "c=16 batch 400" of about 140 px), and the height of a row
_LEGEND_PER_ROW = 6
_LEGEND_ROW_PX = 22


# ----------------------------------------------------------------------------- helpers


def measured(result: SweepResult) -> list[LevelResult]:
    """The levels worth drawing: completed, with at least one write."""
    return [level for level in result.levels if level.outcome == "completed" and level.batches]


def x_of(level: LevelResult) -> float:
    """Where a level sits on the x axis: its rate (open model) or its concurrency."""
    return level.rate if level.rate is not None else float(level.concurrency)


def x_title(result: SweepResult) -> str:
    if result.model == "open":
        return "arrival rate (batch writes/s)"
    return "concurrency (writes in flight)"


def level_name(level: LevelResult) -> str:
    where = f"{level.rate:g}/s" if level.rate is not None else f"c={level.concurrency}"
    return f"{where} batch {level.batch_size:,}"


def batch_sizes(levels: Iterable[LevelResult]) -> list[int]:
    return sorted({level.batch_size for level in levels})


def comparable(result: SweepResult, baseline: SweepResult | None) -> SweepResult | None:
    """The baseline when it can share the run's axes (same arrival model), else None."""
    return baseline if baseline is not None and baseline.model == result.model else None


def chosen_batch_size(result: SweepResult) -> int | None:
    """The batch size the latency chart shows: the recommended one, else the first."""
    sizes = batch_sizes(measured(result))
    if result.recommended_batch_size in sizes:
        return result.recommended_batch_size
    return sizes[0] if sizes else None


def series_style(index: int) -> tuple[str, str]:
    """The colour and the marker of a chart's ``index``-th series: no two alike, however
    many series there are (beyond len(PALETTE) x len(SYMBOLS), far more than a legend
    can hold, they come round again)."""
    colour = PALETTE[index % len(PALETTE)]
    return colour, SYMBOLS[(index // len(PALETTE)) % len(SYMBOLS)]


def _layout(figure: go.Figure, *, x: str, y: str, log_x: bool = True) -> go.Figure:
    figure.update_layout(
        template="plotly_white",
        height=_CHART_HEIGHT,
        # the top margin holds the toolbar (plotly's modebar), above the data, not on it;
        # the legend sits at the bottom of the figure, below the x axis' labels and title
        margin={"l": 70, "r": 20, "t": 36, "b": 20},
        legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0},
        hovermode="closest",
        font={"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
    )
    figure.update_xaxes(title_text=x, type="log" if log_x else "linear", showline=True)
    figure.update_yaxes(title_text=y, rangemode="tozero", showline=True)
    return figure


def _level_ticks(figure: go.Figure, levels: Iterable[LevelResult]) -> None:
    """Ticks at the levels measured, not at every minor decade step of a log axis."""
    xs = sorted({x_of(level) for level in levels})
    figure.update_xaxes(tickvals=xs, ticktext=[f"{x:g}" for x in xs])


def _log_y(figure: go.Figure) -> None:
    """A log y axis with ticks at 1, 2, 5, 10, 20, 50...: readable over any span."""
    values = [y for trace in figure.data for y in (trace.y or ()) if y is not None and y > 0]
    figure.update_yaxes(type="log", rangemode="normal")
    if values:
        ticks = nice_log_ticks(min(values), max(values))
        figure.update_yaxes(tickvals=ticks, ticktext=[f"{t:g}" for t in ticks])


def nice_log_ticks(low: float, high: float) -> list[float]:
    """1-2-5 steps covering [low, high] (at least one tick on each side of the data)."""
    decade = 10.0 ** math.floor(math.log10(low))
    ticks: list[float] = []
    while not ticks or ticks[-1] < high:
        for step in (1, 2, 5):
            tick = step * decade
            if tick * 5 >= low and (not ticks or ticks[-1] < high):
                ticks.append(float(f"{tick:.6g}"))
        decade *= 10
    return ticks


def _sorted(levels: Iterable[LevelResult]) -> list[LevelResult]:
    return sorted(levels, key=x_of)


# ----------------------------------------------------------------------------- charts


def throughput_chart(result: SweepResult, baseline: SweepResult | None = None) -> go.Figure | None:
    """rows/s per level, one series per batch size; the USL curve (closed model), the
    offered load (open model), the recommended level marked, the baseline dashed."""
    levels = measured(result)
    if not levels:
        return None
    figure = go.Figure()
    sizes = batch_sizes(levels)
    for index, size in enumerate(sizes):
        series = _sorted(lvl for lvl in levels if lvl.batch_size == size)
        colour, symbol = series_style(index)
        figure.add_trace(
            go.Scatter(
                x=[x_of(lvl) for lvl in series],
                y=[lvl.rows_per_s for lvl in series],
                mode="lines+markers",
                name=f"batch {size:,}",
                legendgroup=f"batch {size}",
                line={"color": colour, "width": 2},
                marker={"size": 8, "symbol": symbol},
                hovertemplate="%{x:,}: %{y:,.0f} rows/s<extra>batch " + f"{size:,}</extra>",
            )
        )
    names = operation_names(levels)
    for trace in _operation_traces(levels, names):
        colour, _ = series_style(len(sizes) + names.index(str(trace.meta)))
        trace.line = {"color": colour, "width": 1.5, "dash": "dot"}
        figure.add_trace(trace)
    if result.usl and result.model == "closed":
        figure.add_trace(_usl_trace(result.usl, max(lvl.in_flight_mean for lvl in levels)))
    if result.model == "open":
        figure.add_trace(_offered_trace(levels))
    chosen = result.recommended_level()
    if chosen is not None and chosen in levels:
        figure.add_trace(
            go.Scatter(
                x=[x_of(chosen)],
                y=[chosen.rows_per_s],
                mode="markers",
                name=f"recommended ({level_name(chosen)})",
                marker={
                    "symbol": "star",
                    "size": 18,
                    "color": RECOMMENDED_COLOUR,
                    "line": {"color": "white", "width": 1},
                },
                hovertemplate="recommended %{x:,}: %{y:,.0f} rows/s<extra></extra>",
            )
        )
    base = comparable(result, baseline)
    if base is not None:
        base_sizes = batch_sizes(measured(base))
        # the run's colour and marker for its batch size, dashed and open; after the
        # run's own for a batch size the run does not have
        unmatched = [size for size in base_sizes if size not in sizes]
        for size in base_sizes:
            series = _sorted(lvl for lvl in measured(base) if lvl.batch_size == size)
            index = sizes.index(size) if size in sizes else len(sizes) + unmatched.index(size)
            colour, symbol = series_style(index)
            figure.add_trace(
                go.Scatter(
                    x=[x_of(lvl) for lvl in series],
                    y=[lvl.rows_per_s for lvl in series],
                    mode="lines+markers",
                    name=f"baseline batch {size:,}",
                    legendgroup=f"batch {size}",
                    line={"color": colour, "dash": BASELINE_DASH, "width": 1.5},
                    marker={"size": 7, "symbol": f"{symbol}-open"},
                    opacity=0.7,
                    hovertemplate="baseline %{x:,}: %{y:,.0f} rows/s<extra></extra>",
                )
            )
        # each operation the baseline has too: dashed, in the run's operation's colour
        for trace in _operation_traces(measured(base), names, baseline=True):
            colour, _ = series_style(len(sizes) + names.index(str(trace.meta)))
            trace.line = {"color": colour, "width": 1.5, "dash": BASELINE_DASH}
            trace.opacity = 0.6
            figure.add_trace(trace)
    figure = _layout(figure, x=x_title(result), y="rows/s")
    _level_ticks(figure, levels)
    return figure


def _operation_traces(
    levels: list[LevelResult], names: list[str], *, baseline: bool = False
) -> list[go.Scatter]:
    """A query or mixed sweep: each of ``names`` (the run's operations drawn apart: none
    when there is one, the total) its rows/s (returned, or written) per level."""
    traces = []
    prefix = "baseline " if baseline else ""
    for name in names:
        series = _sorted(lvl for lvl in levels if name in lvl.operations)
        if not series:
            continue
        traces.append(
            go.Scatter(
                x=[x_of(lvl) for lvl in series],
                y=[
                    lvl.operations[name].rows / lvl.elapsed_s if lvl.elapsed_s > 0 else 0.0
                    for lvl in series
                ],
                mode="lines+markers",
                name=f"{prefix}{name} (rows/s)",
                legendgroup=f"operation {name}",
                meta=name,
                marker={"size": 6, "symbol": "circle-open" if baseline else "circle"},
                hovertemplate=prefix + "%{x:,}: %{y:,.0f} rows/s<extra>" + f"{name}</extra>",
            )
        )
    return traces


def _usl_trace(usl: dict[str, Any], up_to: float) -> go.Scatter:
    sigma, kappa, lam = usl["sigma"], usl["kappa"], usl["lambda"]
    end = max(up_to, 1.0)
    points = [1.0 * (end ** (i / 79)) for i in range(80)]  # geometric, as the levels are
    return go.Scatter(
        x=points,
        y=[usl_throughput(n, sigma, kappa, lam) for n in points],
        mode="lines",
        name=(
            f"USL fit, poor (R² {usl['r_squared']:.2f})"
            if fit_is_poor(usl)
            else f"USL fit (σ {sigma:.3g}, κ {kappa:.3g}, λ {lam:,.0f})"  # noqa: RUF001
        ),
        line={"color": "#34495E", "dash": "dot", "width": 2},
        hovertemplate="USL %{x:.1f}: %{y:,.0f} rows/s<extra></extra>",
    )


def _offered_trace(levels: list[LevelResult]) -> go.Scatter:
    """Open model: the rows/s the arrival rate asked for (rate x batch size)."""
    series = sorted({(x_of(lvl), x_of(lvl) * lvl.batch_size) for lvl in levels})
    return go.Scatter(
        x=[x for x, _ in series],
        y=[y for _, y in series],
        mode="lines",
        name="offered (rate x batch size)",
        line={"color": "#34495E", "dash": "dot", "width": 1.5},
        hovertemplate="offered %{x:,}/s: %{y:,.0f} rows/s<extra></extra>",
    )


def latency_chart(result: SweepResult, baseline: SweepResult | None = None) -> go.Figure | None:
    """p50, p90, p99 and p99.9 per level of the chosen batch size (log scale)."""
    size = chosen_batch_size(result)
    if size is None:
        return None
    figure = go.Figure()
    series = _sorted(lvl for lvl in measured(result) if lvl.batch_size == size)
    base = comparable(result, baseline)
    base_series = _sorted(lvl for lvl in measured(base) if lvl.batch_size == size) if base else []
    for index, (name, percentile) in enumerate(PERCENTILES):
        colour, symbol = series_style(index)
        figure.add_trace(
            go.Scatter(
                x=[x_of(lvl) for lvl in series],
                y=[lvl.latency.percentile_ms(percentile) for lvl in series],
                mode="lines+markers",
                name=name,
                legendgroup=name,
                line={"color": colour, "width": 2},
                marker={"symbol": symbol},
                hovertemplate="%{x:,}: %{y:,.2f} ms<extra>" + name + "</extra>",
            )
        )
        if base_series:
            figure.add_trace(
                go.Scatter(
                    x=[x_of(lvl) for lvl in base_series],
                    y=[lvl.latency.percentile_ms(percentile) for lvl in base_series],
                    mode="lines+markers",
                    name=f"baseline {name}",
                    legendgroup=name,
                    line={"color": colour, "dash": BASELINE_DASH, "width": 1.5},
                    marker={"symbol": f"{symbol}-open"},
                    opacity=0.6,
                    hovertemplate="baseline %{x:,}: %{y:,.2f} ms<extra>" + name + "</extra>",
                )
            )
    for offset, name in enumerate(operation_names(series)):
        colour, symbol = series_style(len(PERCENTILES) + offset)
        figure.add_trace(_operation_latency_trace(series, name, colour, symbol, dash=None))
        twins = [lvl for lvl in base_series if name in lvl.operations]
        if twins:
            figure.add_trace(
                _operation_latency_trace(twins, name, colour, symbol, dash=BASELINE_DASH)
            )
    figure = _layout(figure, x=x_title(result), y=f"latency, ms (batch {size:,})")
    _level_ticks(figure, series)
    _log_y(figure)
    return figure


def operation_names(levels: Iterable[LevelResult]) -> list[str]:
    """The operations a query or mixed sweep drew separately: none when there is one
    (then it is the total)."""
    names = sorted({name for lvl in levels for name in lvl.operations})
    return names if len(names) > 1 else []


def _operation_latency_trace(
    levels: list[LevelResult], name: str, colour: str, symbol: str, *, dash: str | None
) -> go.Scatter:
    """One operation's p99 per level, dotted (dashed for the baseline's), beside the
    total's percentiles."""
    series = [lvl for lvl in levels if name in lvl.operations]
    label = f"{name} {OPERATION_PERCENTILE[0]}"
    return go.Scatter(
        x=[x_of(lvl) for lvl in series],
        y=[
            lvl.operations[name].latency.percentile_ms(OPERATION_PERCENTILE[1])
            if lvl.operations[name].latency.count
            else None
            for lvl in series
        ],
        mode="lines+markers",
        name=f"baseline {label}" if dash else label,
        legendgroup=f"operation {name}",
        line={"color": colour, "width": 1.5, "dash": dash or "dot"},
        marker={"symbol": f"{symbol}-open" if dash else symbol, "size": 7},
        opacity=0.6 if dash else 1.0,
        hovertemplate=("baseline " if dash else "")
        + "%{x:,}: %{y:,.2f} ms<extra>"
        + label
        + "</extra>",
    )


def spectrum_chart(result: SweepResult, baseline: SweepResult | None = None) -> go.Figure | None:
    """Each level's HDR percentile spectrum: latency against 1/(1-percentile), log x, so
    the tail (99.9%, 99.99%, ...) gets as much room as the median."""
    levels = _sorted(measured(result))
    levels.sort(key=lambda lvl: (lvl.batch_size, x_of(lvl)))
    if not levels:
        return None
    figure = go.Figure()
    base = comparable(result, baseline)
    base_levels = {_key(lvl): lvl for lvl in measured(base)} if base else {}
    for index, level in enumerate(levels):
        style = series_style(index)
        name = level_name(level)
        figure.add_trace(_spectrum_trace(level, name, style, dash=None))
        twin = base_levels.get(_key(level))
        if twin is not None:  # in its level's legend entry: one click shows or hides both
            trace = _spectrum_trace(twin, f"baseline {name}", style, dash=BASELINE_DASH)
            figure.add_trace(trace.update(showlegend=False))
    figure = _layout(figure, x="percentile", y="latency, ms")
    # a legend of many levels takes rows: the figure grows by them, not the plot shrinks
    rows = math.ceil(len(levels) / _LEGEND_PER_ROW)
    figure.update_layout(height=_CHART_HEIGHT + _LEGEND_ROW_PX * max(rows - 1, 0))
    figure.update_xaxes(
        tickvals=[x for x, _ in _SPECTRUM_TICKS], ticktext=[t for _, t in _SPECTRUM_TICKS]
    )
    _log_y(figure)
    return figure


def _key(level: LevelResult) -> tuple[float, int]:
    return (x_of(level), level.batch_size)


def _spectrum_trace(
    level: LevelResult, name: str, style: tuple[str, str], *, dash: str | None
) -> go.Scatter:
    colour, symbol = style
    points = level.latency.percentile_spectrum(ticks_per_half=2)
    xs = [_SPECTRUM_MAX_X if p >= 100 else 1 / (1 - p / 100) for p, _ in points]
    return go.Scatter(
        x=xs,
        y=[max(ms, 0.001) for _, ms in points],  # a log axis cannot show 0
        customdata=[p for p, _ in points],
        mode="lines+markers",
        name=name,
        legendgroup=name.removeprefix("baseline "),
        line={"color": colour, "width": 1.5 if dash else 2, "dash": dash},
        marker={"symbol": f"{symbol}-open" if dash else symbol, "size": 5},
        opacity=0.6 if dash else 1.0,
        hovertemplate="%{customdata:.4g}%: %{y:,.2f} ms<extra>" + name + "</extra>",
    )


ERROR_SERIES: tuple[tuple[str, str, Callable[[LevelResult], int]], ...] = (
    ("write errors", "#D55E00", lambda lvl: lvl.write_errors),
    ("retries", "#E69F00", lambda lvl: lvl.retries),
    ("timeouts", "#CC79A7", lambda lvl: lvl.timeouts),
    ("batches failed", "#7F1D1D", lambda lvl: lvl.batches_failed),
)


def errors_chart(result: SweepResult, baseline: SweepResult | None = None) -> go.Figure | None:
    """Failed attempts, retries, timeouts and failed batches per level (every level run,
    failed ones included: that is where errors are)."""
    levels = sorted(result.levels, key=lambda lvl: (lvl.batch_size, x_of(lvl)))
    if not levels:
        return None
    names = [level_name(lvl) for lvl in levels]
    figure = go.Figure()
    for name, colour, count in ERROR_SERIES:
        figure.add_trace(
            go.Bar(
                x=names,
                y=[count(lvl) for lvl in levels],
                name=name,
                marker={"color": colour},
                hovertemplate="%{x}: %{y:,}<extra>" + name + "</extra>",
            )
        )
    base = comparable(result, baseline)
    if base is not None:
        base_levels = {_key(lvl): lvl for lvl in base.levels}
        twins = [base_levels.get(_key(lvl)) for lvl in levels]
        figure.add_trace(
            go.Bar(
                x=names,
                y=[twin.write_errors if twin else None for twin in twins],
                name="baseline write errors",
                marker={"color": "#BDC3C7", "pattern": {"shape": "/"}},
                hovertemplate="baseline %{x}: %{y:,}<extra></extra>",
            )
        )
    figure = _layout(figure, x="level", y="count", log_x=False)
    figure.update_layout(barmode="group", height=300)
    if not any(y for trace in figure.data for y in trace.y if y):
        figure.add_annotation(
            text="no errors, retries or timeouts in any level",
            xref="paper",
            yref="paper",
            x=0.5,
            y=0.5,
            showarrow=False,
            font={"size": 14, "color": "#6b7785"},
        )
    figure.update_xaxes(type="category")
    return figure


def heatmap_chart(result: SweepResult) -> go.Figure | None:
    """rows/s over (concurrency or rate, batch size): only for a sweep of several batch
    sizes. Cells that were not measured stay empty; the recommended cell is outlined."""
    levels = measured(result)
    sizes = batch_sizes(levels)
    if len(sizes) < 2:
        return None
    xs = sorted({x_of(lvl) for lvl in levels})
    cell = {_key(lvl): lvl.rows_per_s for lvl in levels}
    z = [[cell.get((x, size)) for x in xs] for size in sizes]
    labels = [[_short(value) for value in row] for row in z]
    figure = go.Figure(
        go.Heatmap(
            x=[f"{x:g}" for x in xs],
            y=[f"{size:,}" for size in sizes],
            z=z,
            text=labels,
            texttemplate="%{text}",
            colorscale="Viridis",
            colorbar={"title": {"text": "rows/s"}},
            hovertemplate="%{x}, batch %{y}: %{z:,.0f} rows/s<extra></extra>",
            hoverongaps=False,
        )
    )
    figure = _layout(figure, x=x_title(result), y="batch size (rows)", log_x=False)
    figure.update_xaxes(type="category")
    figure.update_yaxes(type="category", rangemode="normal")
    chosen = result.recommended_level()
    if chosen is not None and chosen in levels:
        column, row = xs.index(x_of(chosen)), sizes.index(chosen.batch_size)
        figure.add_shape(
            type="rect",
            x0=column - 0.5,
            x1=column + 0.5,
            y0=row - 0.5,
            y1=row + 0.5,
            line={"color": RECOMMENDED_COLOUR, "width": 3},
        )
    return figure


def _short(value: float | None) -> str:
    """12.3k, 1.2M: labels that fit in a heatmap cell."""
    if value is None or math.isnan(value):
        return ""
    for limit, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}"
