"""The reference pages say what the code does: the generated CLI reference holds every
option, the exit-code table is ExitCode's, the JSON page names every field a real run
writes, and the example workflow's sweep runs."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from bulkload.cli.exit_codes import ExitCode
from bulkload.options import OPTIONS

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "cli_reference", DOCS / "hooks" / "cli_reference.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("cli_reference", module)  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


def test_the_cli_reference_lists_every_option_with_its_default() -> None:
    page = _hook().reference_markdown()
    for option in OPTIONS:
        for flag in option.flags:
            assert f"`{flag}`" in page, flag
        if option.envvar:
            assert f"`{option.envvar}`" in page, option.envvar
    # defaults come from the config models, as --help shows them
    assert "| `--batch-size` | `10000` | import bench |" in page
    assert "| `--sweep` | `1,2,4,8,16,32,64,128,256` | bench |" in page.replace(", ", ",")
    for command in ("report show", "report html", "report compare", "report check", "report merge"):
        assert f"### `bulkload {command}`" in page
    assert "### `bulkload forget-checkpoints`" in page


def test_the_cli_reference_page_keeps_its_marker() -> None:
    hook = _hook()
    assert hook.MARKER in (DOCS / hook.PAGE).read_text()


def test_the_exit_code_table_is_exitcode() -> None:
    text = (DOCS / "reference" / "exit-codes.md").read_text()
    documented = {
        int(code): name for code, name in re.findall(r"^\| (\d+) \| `(\w+)` \|", text, re.M)
    }
    assert documented == {code.value: code.name for code in ExitCode}


def _documented_fields(section: str) -> set[str]:
    return set(re.findall(r"`(\w+)`", section))


def _json_page_sections() -> tuple[str, str]:
    text = (DOCS / "reference" / "json.md").read_text()
    bench_at = text.index("## The bench result")
    return text[:bench_at], text[bench_at:]


def _check_fields(section: str, document: dict[str, object]) -> None:
    missing = set(document) - _documented_fields(section)
    assert not missing, f"fields a real run writes that the page does not name: {sorted(missing)}"


def test_the_json_page_names_every_field_of_a_real_import(run_cli, write_file, tmp_path) -> None:
    write_file("t.csv", "id,v\n1,a\n2,b\n")
    result = run_cli("import", "t.csv", "--to", "sqlite:///t.db", "--json", "out.json")
    assert result.code == 0, result.stderr
    import_section, _ = _json_page_sections()
    _check_fields(import_section, json.loads((tmp_path / "out.json").read_text()))


def test_the_json_page_names_every_field_of_a_real_bench(run_cli, tmp_path) -> None:
    result = run_cli(
        *("bench", "--synthetic", "rows=5000", "--to", "null://", "--sweep", "1,2,4"),
        *("--warmup", "0s", "--duration", "0.2s", "--json", "run.json", "-q"),
    )
    assert result.code == 0, result.stderr
    _, bench_section = _json_page_sections()
    document = json.loads((tmp_path / "run.json").read_text())
    _check_fields(bench_section, document)
    _check_fields(bench_section, document["levels"][0])
    _check_fields(bench_section, document["machine"])


def _workflow_sweep() -> str:
    workflow = yaml.safe_load((ROOT / "examples" / "github-actions-bench.yml").read_text())
    steps = workflow["jobs"]["bench"]["steps"]
    install = next(step["run"] for step in steps if step.get("name", "").startswith("Install"))
    assert "pip install '.[html]'" in install  # from the checkout: no index serves bulkload
    script: str = next(step["run"] for step in steps if step.get("name") == "Sweep with gates")
    return script


@pytest.mark.postgres
def test_the_workflow_sweep_runs_and_judges_its_baseline(pg_server: str, tmp_path: Path) -> None:
    """The job's sweep as written, with short windows and fewer rows, against the test
    PostgreSQL: its reports are written and its gates judged (0 or 99, never a usage or
    target error), first without a baseline, then against the first run's result."""
    script = _workflow_sweep()
    short = script.replace("--warmup 5s --duration 30s", "--warmup 0s --duration 0.3s").replace(
        "rows=2000000", "rows=20000"
    )
    assert short != script, "the workflow's sweep changed: update this test's shortening"
    env = {key: value for key, value in os.environ.items() if not key.startswith("BULKLOAD_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["TARGET"] = pg_server
    for run in ("first", "against the baseline"):
        done = subprocess.run(
            ["bash", "-eo", "pipefail", "-c", short],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode in (0, 99), f"{run}: exit {done.returncode}\n{done.stderr}"
        assert (tmp_path / "report.html").stat().st_size > 100_000
        result = json.loads((tmp_path / "run.json").read_text())
        assert [level["concurrency"] for level in result["levels"]] == [1, 8, 32]
        assert len(result["thresholds"]) == 2  # p99 and rows_per_s, each judged
        if run == "first":
            assert result["comparison"] is None
            (tmp_path / "run.json").rename(tmp_path / "main.json")
        else:
            assert result["comparison"] is not None
