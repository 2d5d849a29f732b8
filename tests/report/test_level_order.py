"""Tables list levels by level, not in the order they ran: ``--sweep auto`` runs its
refining levels (11, 23) after the doublings (..., 32, 64)."""

from __future__ import annotations

import re

from rich.console import Console

from bulkload.bench.result import SweepResult
from bulkload.cli.views.sweep_table import render_sweep
from bulkload.report.html import render_html
from bulkload.stats.level import LevelResult

RUN_ORDER = (1, 2, 4, 8, 16, 32, 64, 11, 23)


def auto_sweep() -> SweepResult:
    result = SweepResult(model="closed", target="sim://", table="t")
    for concurrency in RUN_ORDER:
        level = LevelResult(concurrency=concurrency, batch_size=100)
        level.elapsed_s, level.batches, level.rows = 1.0, 10 * concurrency, 1000 * concurrency
        level.in_flight_mean, level.in_flight_max = float(concurrency), concurrency
        level.latency.record_many([0.005] * level.batches)
        result.levels.append(level)
    return result


def test_the_terminal_table_and_chart_list_levels_by_concurrency():
    console = Console(record=True, width=200)
    render_sweep(auto_sweep(), console)
    text = console.export_text()
    rows = re.findall(r"^\s*★?\s+(\d+)\s+100\s", text, re.MULTILINE)
    assert [int(n) for n in rows] == sorted(RUN_ORDER)
    bars = re.findall(r"c=(\d+) batch 100 ", text)
    assert [int(n) for n in bars] == sorted(RUN_ORDER)


def test_the_html_table_lists_levels_by_concurrency():
    page = render_html(auto_sweep())
    body = page.split('<table id="levels">', 1)[1].split("</tbody>", 1)[0]
    cells = re.findall(r"<tr class=\"[\w ]+\"><td>[^<]*</td><td>(\d+)</td>", body)
    assert [int(n) for n in cells] == sorted(RUN_ORDER)


def test_the_saved_result_keeps_the_order_they_ran_in():
    result = auto_sweep()
    assert [level.concurrency for level in result.levels] == list(RUN_ORDER)
    assert [lvl["concurrency"] for lvl in result.to_dict()["levels"]] == list(RUN_ORDER)
