"""CI gates through the real CLI against the sim target: --threshold (exit 99, after the
JSON is written), --abort-on-fail, --baseline/--max-regression, and the same judged on
saved results by ``bulkload report check|compare|show``.

The sim target's latency is fixed (5 ms, 50 ms), so a gate far from it passes or fails
whatever the machine's load; a regression test compares 5 ms with 80 ms."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(120)

SIM = "sim://?latency=5ms"
QUICK = ("--synthetic", "rows=20000,columns=3", "--batch-size", "100", "--warmup", "0")


def bench(run_cli: Any, *args: str, to: str = SIM, sweep: str = "1,4") -> Any:
    return run_cli(
        "bench", *QUICK, "--to", to, "--sweep", sweep, "--batches", "40", "--progress", "off",
        *args,
    )  # fmt: skip


def saved(tmp_path: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((tmp_path / name).read_text())
    return data


def test_passing_gates_exit_0_and_are_saved_in_the_json(run_cli, tmp_path: Path):
    result = bench(
        run_cli, "--json", "run.json", "--threshold", "p99<1s",
        "--threshold", "rows_per_s@all>10", "--threshold", "error_rate@4<1%",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    gates = saved(tmp_path, "run.json")["thresholds"]
    # the recommended level, then both levels for @all, then level 4
    assert [(g["expression"], g["level"]["concurrency"], g["ok"]) for g in gates][1:] == [
        ("rows_per_s@all > 10/s", 1, True),
        ("rows_per_s@all > 10/s", 4, True),
        ("error_rate@4 < 1%", 4, True),
    ]
    assert gates[0]["expression"] == "p99 < 1 s" and gates[0]["allowed"] == 1000.0
    assert 5.0 <= gates[0]["measured"] < 1000.0  # ms, of the recommended level
    assert "gates: 4 of 4 passed" in result.stdout


def test_a_failed_gate_exits_99_naming_measured_and_allowed_after_writing_the_json(
    run_cli, tmp_path: Path
):
    result = bench(run_cli, "--json", "run.json", "--threshold", "p99@4<1ms")
    assert result.code == 99, result.stderr
    line = r"FAILED: p99@4 < 1 ms at c=4 batch 100: measured (\d+\.?\d*) ms, allowed < 1 ms"
    measured = re.search(line, result.stdout)
    assert measured is not None and float(measured[1]) >= 5.0, result.stdout
    document = saved(tmp_path, "run.json")  # written before the exit decision
    (gate,) = document["thresholds"]
    assert gate["ok"] is False and gate["allowed"] == 1.0 and gate["measured"] >= 5.0
    assert document["outcome"] == "completed"  # the sweep ran every level
    assert [level["concurrency"] for level in document["levels"]] == [1, 4]


def test_a_gate_on_a_level_that_did_not_run_fails_rather_than_passing(run_cli, tmp_path: Path):
    result = bench(run_cli, "--json", "run.json", "--threshold", "p99@32<1s")
    assert result.code == 99
    (gate,) = saved(tmp_path, "run.json")["thresholds"]
    assert gate == {
        "expression": "p99@32 < 1 s", "level": None, "measured": None, "allowed": 1000.0,
        "ok": False, "scope": "whole", "until_s": None, "ramp": False,
        "judged_on": "no level",
    }  # fmt: skip
    assert "no such level: not measured" in result.stdout


def test_abort_on_fail_stops_the_sweep_at_the_first_failed_gate(run_cli, tmp_path: Path):
    result = bench(
        run_cli, "--json", "run.json", "--threshold", "p50@all<1ms", "--abort-on-fail",
        sweep="1,2,4",
    )  # fmt: skip
    assert result.code == 99, result.stderr
    document = saved(tmp_path, "run.json")
    assert [level["concurrency"] for level in document["levels"]] == [1]  # 2 and 4 never ran
    assert document["outcome"] == "aborted"
    assert "gate failed: FAILED: p50@all < 1 ms at c=1" in result.stderr


def test_a_bad_threshold_is_bad_usage(run_cli):
    result = bench(run_cli, "--threshold", "p99<fast")
    assert result.code == 3
    assert result.error_line.startswith("bulkload: error: --threshold: bad expression 'p99<fast'")


def test_report_check_judges_a_saved_result(run_cli, tmp_path: Path):
    assert bench(run_cli, "--json", "run.json").code == 0
    ok = run_cli("report", "check", "run.json", "--threshold", "p50@all>1ms")
    assert ok.code == 0 and "gates: 2 of 2 passed" in ok.stdout
    bad = run_cli("report", "check", "run.json", "--threshold", "p50@all<1ms")
    assert bad.code == 99 and bad.stdout.count("FAILED") == 2
    none = run_cli("report", "check", "run.json")
    assert none.code == 3 and "--threshold" in none.error_line


def test_report_commands_name_a_missing_or_foreign_file(run_cli, tmp_path: Path):
    (tmp_path / "other.json").write_text('{"kind": "something else"}')
    (tmp_path / "broken.json").write_text("{")
    for name, problem in [
        ("missing.json", "missing.json: no such file"),
        ("other.json", "other.json: not a bulkload bench result"),
        ("broken.json", "broken.json: not JSON"),
    ]:
        result = run_cli("report", "show", name)
        assert result.code == 3
        assert result.error_line.startswith(f"bulkload: error: {problem}"), result.stderr


# ---------------------------------------------------------------------- baselines


def test_a_result_compared_with_itself_never_regresses(run_cli, tmp_path: Path):
    assert bench(run_cli, "--json", "run.json").code == 0
    result = run_cli("report", "compare", "run.json", "run.json", "--max-regression", "0%")
    assert result.code == 0, result.stdout
    assert "REGRESSED" not in result.stdout and "+0.0%" in result.stdout


def test_two_runs_of_a_deterministic_target_do_not_regress(run_cli, tmp_path: Path):
    """The same sweep twice. On an idle machine the two agree within a few per cent; on
    the shared 2-core machine (load 7) a run's throughput and p99 were seen to move by
    up to ~25%, so the tolerance here is 50%: what this guards is that matched levels
    are compared (level 2 against level 4 differs by 2x) and that noise is not flagged."""
    steady = "sim://?latency=50ms"
    assert bench(run_cli, "--json", "base.json", to=steady, sweep="2,4").code == 0
    for _ in range(3):
        result = bench(
            run_cli, "--json", "run.json", "--baseline", "base.json", "--max-regression", "50%",
            to=steady, sweep="2,4",
        )  # fmt: skip
        # A level's p99 of 40 writes is its slowest: one stall of the loaded machine
        # (170 ms was seen, with 6 test workers on 2 cores) flags it. The target cannot
        # regress by itself, so a flag is noise: measured again; three would be a finding.
        if result.code != 99:
            break
    assert result.code == 0, result.stdout
    comparison = saved(tmp_path, "run.json")["comparison"]
    assert comparison["regressed"] is False
    assert [level["concurrency"] for level in comparison["levels"]] == [2, 4]
    assert "compared with base.json" in result.stdout


def test_a_slower_target_is_a_regression_exit_99(run_cli, tmp_path: Path):
    for _ in range(3):
        assert bench(run_cli, "--json", "base.json").code == 0
        # A base p99 (the slowest of 40 writes) is one stall of a loaded machine away
        # from 80 ms (71 ms was seen in CI); such a base judges nothing, so measure again.
        base = saved(tmp_path, "base.json")["levels"]
        if all(level["latency_ms"]["p99"] < 40.0 for level in base):
            break
    result = bench(
        run_cli, "--json", "run.json", "--baseline", "base.json", to="sim://?latency=80ms"
    )
    assert result.code == 99
    comparison = saved(tmp_path, "run.json")["comparison"]
    assert comparison["regressed"] is True
    for level in comparison["levels"]:  # 5 ms -> 80 ms: far beyond any timer noise
        assert level["rows_per_s"]["regressed"] and level["p99"]["regressed"]
        assert level["rows_per_s"]["change"] < -0.5 and level["p50"]["change"] > 0.5
    assert "regression: c=1 batch 100: rows_per_s" in result.stdout
    # the same judgement on the saved files; the other way round it is an improvement
    assert run_cli("report", "compare", "base.json", "run.json").code == 99
    assert run_cli("report", "compare", "run.json", "base.json").code == 0
    shown = run_cli("report", "show", "run.json")
    assert shown.code == 0 and "compared with base.json: regressed" in shown.stdout


def test_a_missing_baseline_is_bad_input_before_the_sweep_runs(run_cli, tmp_path: Path):
    result = bench(run_cli, "--json", "run.json", "--baseline", "nope.json")
    assert result.code == 3
    assert result.error_line == "bulkload: error: nope.json: no such file"
    assert not (tmp_path / "run.json").exists()


# ---------------------------------------------------------------------- shipped files

REPO = Path(__file__).resolve().parents[2]


def test_the_ci_profile_runs_with_its_gates(run_cli, tmp_path: Path):
    for _ in range(3):  # a stall of a loaded machine can put one p99 over 50 ms: again
        result = run_cli(
            "bench", "--config", str(REPO / "configs" / "ci-bench.toml"),
            "--to", "sim://?latency=1ms", "--synthetic", "rows=4000,columns=3",
            "--batch-size", "100", "--sweep", "1,8", "--warmup", "0", "--duration", "0.3s",
            "--progress", "off", "--json", "run.json",
        )  # fmt: skip
        if result.code != 99:
            break
    assert result.code == 0, result.stdout + result.stderr
    gates = saved(tmp_path, "run.json")["thresholds"]
    assert [gate["expression"] for gate in gates] == [
        "p99 < 50 ms", "rows_per_s > 20,000/s", "error_rate@all < 0.1%", "error_rate@all < 0.1%",
    ]  # fmt: skip
    assert all(gate["ok"] for gate in gates)


def test_the_example_workflow_runs_a_gated_sweep_and_keeps_the_reports():
    workflow = (REPO / "examples" / "github-actions-bench.yml").read_text()
    for needed in (
        "services:\n      postgres:",
        "pip install '.[html]'",  # from the checkout: no package index serves bulkload
        "bulkload bench ",
        "--threshold 'p99<50ms'",
        "--html report.html --json run.json",
        "--baseline main.json",
        "uses: actions/upload-artifact@v4",
        "if: always()",
    ):
        assert needed in workflow, needed
    guide = (REPO / "docs" / "guides" / "ci.md").read_text()
    # the CI guide shows the complete job, as shipped (included at build time);
    # tests/docs/test_reference.py runs its sweep
    assert '--8<-- "examples/github-actions-bench.yml"' in guide


def test_a_baseline_without_the_run_s_levels_is_said_not_judged(run_cli, tmp_path: Path):
    assert bench(run_cli, "--json", "base.json", sweep="2").code == 0
    assert bench(run_cli, "--json", "run.json", sweep="4").code == 0
    result = run_cli("report", "compare", "base.json", "run.json")
    assert result.code == 0
    assert "no level of this run is in the baseline" in result.stdout
    assert "only in the baseline: c=2 batch 100" in result.stdout


def test_report_merge_can_write_to_stdout(run_cli, tmp_path: Path):
    assert bench(run_cli, "--json", "run.json", sweep="2").code == 0
    result = run_cli("report", "merge", "run.json", "-o", "-")
    assert result.code == 0
    assert json.loads(result.stdout)["levels"][0]["batches"] == 40
    assert "merged 1 results into -" in result.stderr


# ---------------------------------------------------------------------- the open model


def bench_open(run_cli: Any, *args: str) -> Any:
    return run_cli(
        "bench", *QUICK, "--to", SIM, "--sweep-rate", "100,400", "--duration", "0.5s",
        "--concurrency", "64", "--progress", "off", *args,
    )  # fmt: skip


def test_an_open_model_gate_names_an_arrival_rate_not_the_in_flight_cap(run_cli, tmp_path):
    """Every open-model level has the same cap (64): @64 selected them all, @400 none."""
    result = bench_open(
        run_cli, "--json", "run.json", "--threshold", "p99@400<1s", "--threshold", "p99@64<1s"
    )
    assert result.code == 99, result.stderr
    at_400, at_64 = saved(tmp_path, "run.json")["thresholds"]
    assert at_400["level"] == {"concurrency": 64, "rate": 400.0, "batch_size": 100}
    assert at_400["ok"] is True
    assert at_64["level"] is None and at_64["ok"] is False
    assert "ok: p99@400 < 1 s at 400 writes/s batch 100: measured" in result.stdout
    assert "FAILED: p99@64 < 1 s at no such level: not measured" in result.stdout


def test_a_closed_model_run_is_no_baseline_for_an_open_model_one(run_cli, tmp_path: Path):
    assert bench(run_cli, "--json", "closed.json", sweep="1").code == 0
    assert bench_open(run_cli, "--json", "open.json").code == 0
    for base, run, kinds in [
        ("closed.json", "open.json", ("a closed", "an open")),
        ("open.json", "closed.json", ("an open", "a closed")),
    ]:
        result = run_cli("report", "compare", base, run)
        assert result.code == 3, result.stdout
        assert result.error_line == (
            f"bulkload: error: {base}: {kinds[0]}-model run cannot be the baseline of "
            f"{kinds[1]}-model one: concurrency levels and arrival rates are not comparable"
        )
    # before the sweep, as a missing baseline is
    result = bench_open(run_cli, "--json", "run.json", "--baseline", "closed.json")
    assert result.code == 3
    assert result.error_line.startswith("bulkload: error: closed.json: a closed-model run")
    assert not (tmp_path / "run.json").exists()


def test_report_show_prints_saved_gates_in_their_units_with_their_level(run_cli, tmp_path):
    result = bench(
        run_cli, "--json", "run.json", "--threshold", "p99@4<1s",
        "--threshold", "rows_per_s@1>10000", "--threshold", "error_rate@all<0.1%",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    shown = run_cli("report", "show", "run.json")
    assert shown.code == 0, shown.stderr
    gates = [line.strip() for line in shown.stdout.splitlines() if line.strip().startswith("gate")]
    assert re.fullmatch(
        r"gate ok: p99@4 < 1 s at c=4 batch 100: measured 0\.0\d+ s, allowed < 1 s", gates[0]
    ), gates
    assert re.fullmatch(
        r"gate ok: rows_per_s@1 > 10,000/s at c=1 batch 100: measured \d{1,3}(,\d{3})+/s, "
        r"allowed > 10,000/s",
        gates[1],
    ), gates
    assert gates[2] == (
        "gate ok: error_rate@all < 0.1% at c=1 batch 100: measured 0%, allowed < 0.1%"
    )
    assert "e+" not in shown.stdout
