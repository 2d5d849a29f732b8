from __future__ import annotations

import math

import pytest

from bulkload.errors import UsageError
from bulkload.stats.thresholds import (
    LATENCY_METRICS,
    Threshold,
    parse_slo,
    parse_threshold,
)


@pytest.mark.parametrize("metric", LATENCY_METRICS)
@pytest.mark.parametrize(
    ("written", "ms"), [("50ms", 50.0), ("50", 50.0), ("250us", 0.25), ("1.5s", 1500.0)]
)
def test_latency_metrics_and_units(metric, written, ms):
    threshold = parse_threshold(f"{metric}<{written}")
    assert (threshold.metric, threshold.op, threshold.selector) == (metric, "<", None)
    assert threshold.value == pytest.approx(ms)
    assert threshold.check({metric: ms * 0.99}).ok
    assert not threshold.check({metric: ms}).ok


@pytest.mark.parametrize("metric", ["rows_per_s", "batches_per_s", "mb_per_s"])
@pytest.mark.parametrize("written", ["5000", "5000/s", "5e3/s", "5000.0"])
def test_rate_metrics(metric, written):
    threshold = parse_threshold(f"{metric}>={written}")
    assert threshold.value == 5000
    assert threshold.check({metric: 5000}).ok
    assert not threshold.check({metric: 4999.9}).ok


@pytest.mark.parametrize(("written", "fraction"), [("0.1%", 0.001), ("0.001", 0.001), ("5%", 0.05)])
def test_error_rate_as_fraction_or_percentage(written, fraction):
    threshold = parse_threshold(f"error_rate<{written}")
    assert threshold.value == pytest.approx(fraction)
    assert threshold.check({"error_rate": fraction / 2}).ok
    assert not threshold.check({"error_rate": fraction * 2}).ok


@pytest.mark.parametrize("metric", ["retries", "errors"])
def test_count_metrics(metric):
    threshold = parse_threshold(f"{metric}<=3")
    assert threshold.check({metric: 3}).ok
    assert not threshold.check({metric: 4}).ok


@pytest.mark.parametrize(
    ("op", "passes"),
    [("<", [9]), ("<=", [9, 10]), (">", [11]), (">=", [10, 11])],
)
def test_operators(op, passes):
    threshold = parse_threshold(f"p99{op}10ms")
    assert threshold.op == op
    assert [v for v in (9, 10, 11) if threshold.check({"p99": v}).ok] == passes


def test_selectors_and_what_they_select():
    at_32 = parse_threshold("p99@32<50ms")
    every = parse_threshold("p99@all<50ms")
    default = parse_threshold("p99<50ms")
    assert (at_32.selector, every.selector, default.selector) == (32, "all", None)
    assert [c for c in (16, 32, 64) if at_32.selects(c, recommended=16)] == [32]
    assert [c for c in (16, 32, 64) if every.selects(c, recommended=16)] == [16, 32, 64]
    assert [c for c in (16, 32, 64) if default.selects(c, recommended=16)] == [16]
    assert [c for c in (16, 32) if default.selects(c, recommended=None)] == []


def test_spaces_are_allowed_between_parts():
    assert parse_threshold("  p99 @ 32 <= 50 ms ") == parse_threshold("p99@32<=50ms")


def test_slo_is_a_comma_separated_list():
    slo = parse_slo("p99<50ms, error_rate<0.1%,rows_per_s@all>1000")
    assert [(t.metric, t.op, t.selector) for t in slo] == [
        ("p99", "<", None),
        ("error_rate", "<", None),
        ("rows_per_s", ">", "all"),
    ]


def test_results_render_in_the_unit_written():
    assert str(parse_threshold("p99<50ms").check({"p99": 73.2})) == (
        "p99 < 50 ms: measured 73.2 ms ✗"
    )
    assert str(parse_threshold("p999@all<=2s").check({"p999": 1234.0})) == (
        "p999@all <= 2 s: measured 1.234 s ✓"
    )
    assert str(parse_threshold("mean<500us").check({"mean": 0.0412})) == (
        "mean < 500 us: measured 41.2 us ✓"
    )
    assert str(parse_threshold("error_rate<0.1%").check({"error_rate": 0.0035})) == (
        "error_rate < 0.1%: measured 0.35% ✗"
    )
    assert str(parse_threshold("error_rate<0.01").check({"error_rate": 0.0})) == (
        "error_rate < 0.01: measured 0 ✓"
    )
    assert str(parse_threshold("rows_per_s@8>=20000").check({"rows_per_s": 18_532.4})) == (
        "rows_per_s@8 >= 20,000/s: measured 18,532/s ✗"
    )
    assert str(parse_threshold("retries<=3").check({"retries": 0})) == (
        "retries <= 3: measured 0 ✓"
    )


def test_result_carries_measured_and_allowed_in_canonical_units():
    result = parse_threshold("p99<0.05s").check({"p99": 73.2})
    assert (result.ok, result.measured, result.allowed) == (False, 73.2, 50.0)


@pytest.mark.parametrize("metrics", [{}, {"p50": 1.0}, {"p99": math.nan}])
def test_a_metric_not_measured_fails(metrics):
    result = parse_threshold("p99<50ms").check(metrics)
    assert not result.ok and result.measured is None
    assert str(result) == "p99 < 50 ms: not measured ✗"


def test_threshold_is_a_frozen_value():
    threshold = Threshold("p99", "<", 50.0, None, "ms")
    assert threshold == parse_threshold("p99<50ms")
    with pytest.raises(AttributeError):
        threshold.value = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("p98<5ms", "unknown metric 'p98'; metrics: p50 p90 p99 p999 max mean stdev"),
        ("p99.9<5ms", "unknown metric 'p99.9'"),
        ("latency<5ms", "unknown metric 'latency'"),
        ("p99=5ms", "unknown operator '='; operators: < <= > >="),
        ("p99==5ms", "unknown operator '=='"),
        ("p99!=5ms", "unknown operator '!='"),
        ("p99<5min", "unit 'min' is not a latency unit; units: us ms s"),
        ("p99<5%", "unit '%' is not a latency unit"),
        ("p99<-5ms", "the value must be a finite number >= 0"),
        ("p99<1e400ms", "the value must be a finite number >= 0"),
        ("rows_per_s>5ms", "rows_per_s takes a number per second (1000 or 1000/s), not 'ms'"),
        ("error_rate<5", "error_rate is a fraction (0.001) or a percentage (0.1%)"),
        ("error_rate<0.1/s", "error_rate is a fraction"),
        ("error_rate<120%", "a percentage is at most 100%"),
        ("retries<5s", "retries is a count and takes no unit"),
        ("p99@0<5ms", "selector @0 is neither a level (a concurrency, @32, or an open"),
        ("p99@x<5ms", "selector @x is neither"),
        ("p99@<5ms", "selector @ is neither"),
        ("p99@-4<5ms", "selector @-4 is neither"),
        ("p99<", "expected METRIC[@LEVEL|@all] OP VALUE[UNIT]"),
        ("p99 50ms", "expected METRIC"),
        ("<50ms", "expected METRIC"),
        ("p99<fast", "expected METRIC"),
        ("p99<50 ms extra", "expected METRIC"),
    ],
)
def test_bad_expressions_get_one_line_naming_them(text, reason):
    with pytest.raises(UsageError) as caught:
        parse_threshold(text)
    message = str(caught.value)
    assert message.startswith(f"--threshold: bad expression {text!r}: ")
    assert reason in message
    assert "\n" not in message


def test_bad_slo_names_the_option_and_the_bad_part():
    with pytest.raises(UsageError, match=r"^--slo: bad expression 'p99<5zz': unit 'zz'"):
        parse_slo("error_rate<1%,p99<5zz")


@pytest.mark.parametrize("text", ["", "  ", "p99<5ms,", ",p99<5ms", "p99<5ms,,p50<1ms"])
def test_empty_slo_or_empty_parts_are_refused(text):
    with pytest.raises(UsageError, match=r"^--slo: empty"):
        parse_slo(text)


def test_empty_threshold_is_refused():
    with pytest.raises(UsageError, match=r"^--threshold: empty expression; expected METRIC"):
        parse_threshold(" ")


def test_an_open_model_level_is_selected_by_its_arrival_rate():
    at_400, at_half = parse_threshold("p99@400<5ms"), parse_threshold("p99@12.5<5ms")
    assert (at_400.selector, at_half.selector) == (400, 12.5)
    assert [r for r in (100.0, 400.0) if at_400.selects(r, recommended=None)] == [400.0]
    assert str(at_half) == "p99@12.5 < 5 ms"
