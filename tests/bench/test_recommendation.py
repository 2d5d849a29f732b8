"""What a sweep recommends says the rule it followed, why the rates above it were not
sustained, and when it comes from a sweep that did not run all its levels."""

from __future__ import annotations

from html import escape

from rich.console import Console

from bulkload import event_loop
from bulkload.backends import create_backend
from bulkload.bench.recommend import recommend_into
from bulkload.bench.result import SweepResult
from bulkload.bench.sweep import Sweep, SweepSpec, SyntheticData
from bulkload.cli.views.sweep_table import render_sweep
from bulkload.config import EngineOptions, TargetOptions
from bulkload.engine.import_run import RunControl
from bulkload.report.html import render_html
from bulkload.sources.synthetic import parse_synthetic
from bulkload.stats.level import LevelResult

RULE = (
    "the highest arrival rate with writes/s within 5% of the rate, no send missed and at "
    "most 1% of sends (or 1) delayed waiting for one of the 64 in-flight slots"
)


def open_level(rate: float, *, delayed: int = 0, missed: int = 0) -> LevelResult:
    """A 2 s level of the open model: every send due made, but ``missed``."""
    level = LevelResult(concurrency=64, batch_size=10, rate=rate)
    level.elapsed_s = 2.0
    level.batches = int(rate * 2) - missed
    level.rows = level.batches * 10
    level.sends_delayed, level.sends_missed = delayed, missed
    level.latency.record_many([0.005] * level.batches)
    return level


def shown(result: SweepResult) -> str:
    console = Console(record=True, width=400)
    render_sweep(result, console)
    return console.export_text()


def test_the_open_model_recommendation_prints_its_rule_and_what_the_rates_above_missed():
    """1600/s missed nothing, yet 400/s was picked: 1.2% of its sends were delayed."""
    result = SweepResult(model="open", target="sim://", table="t")
    result.levels = [open_level(100), open_level(400), open_level(1600, delayed=40)]
    recommend_into(result, ())
    assert result.recommended_rate == 400
    assert result.recommendation == (
        "400 writes/s (batch 10): the highest rate sustained; "
        "not sustained: 1600/s: 40 of 3,200 sends delayed (1.2%)"
    )
    assert result.recommendation_rule == RULE
    assert result.to_dict()["recommendation_rule"] == RULE
    assert SweepResult.from_dict(result.to_dict()).recommendation_rule == RULE
    assert f"rule: {RULE}" in shown(result)
    assert escape(RULE) in render_html(result)


def test_no_sustained_rate_names_what_the_lowest_one_missed():
    result = SweepResult(model="open", target="sim://", table="t")
    result.levels = [open_level(50, missed=1), open_level(100, missed=30)]
    recommend_into(result, ())
    assert result.recommended_rate is None
    assert result.recommendation == ("no arrival rate was sustained (50/s: 1 of 100 sends missed)")


def test_a_recommendation_from_an_interrupted_sweep_says_so():
    result = SweepResult(model="open", target="sim://", table="t", levels_planned=3)
    result.levels, result.outcome = [open_level(100), open_level(400)], "interrupted"
    recommend_into(result, ())
    assert result.recommended_rate == 400
    partial = "(from a partial sweep: 2 of 3 levels)"
    assert result.recommendation.endswith(partial)
    assert partial in shown(result) and escape(partial) in render_html(result)
    assert result.to_dict()["levels_planned"] == 3


def test_a_sweep_stopped_after_its_first_level_recommends_from_a_partial_sweep():
    control = RunControl()
    backend = create_backend(TargetOptions(url="sim://?latency=1ms"))
    result = SweepResult(model="closed", target="sim://", table="t")
    spec = SweepSpec(levels=(1, 2, 4), batch_sizes=(100,), warmup_s=0.05, duration_s=0.3)
    data = SyntheticData(parse_synthetic("rows=5000,columns=2"))
    sweep = Sweep(
        backend, data, spec, EngineOptions(), table="t", result=result, control=control,
        on_level=lambda level: control.request_stop(),  # the user's Ctrl-C
    )  # fmt: skip
    event_loop.run(sweep.run())
    assert result.outcome == "interrupted" and result.levels_planned == 3
    assert result.recommended_concurrency == 1
    assert result.recommendation.endswith("(from a partial sweep: 1 of 3 levels)")
    assert result.recommendation_rule == "the lowest concurrency within 10% of the best throughput"


def test_a_complete_sweep_is_not_called_partial():
    result = SweepResult(model="open", target="sim://", table="t", levels_planned=2)
    result.levels = [open_level(100), open_level(400)]
    recommend_into(result, ())
    assert "partial" not in result.recommendation
