"""Bad input: one line naming the file (and line), a documented exit code, no traceback
(run_cli asserts there is none), and no row silently lost."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import read_table


def test_missing_file(run_cli):
    result = run_cli("import", "nope.csv")
    assert result.code == 3
    assert result.error_line == "bulkload: error: nope.csv: no such file"


def test_glob_matching_nothing(run_cli):
    result = run_cli("import", "logs/*.csv")
    assert result.code == 3 and "no file matches" in result.error_line


def test_unknown_format(run_cli, write_file):
    write_file("data.xlsx", "whatever")
    result = run_cli("import", "data.xlsx")
    assert result.code == 3 and "data.xlsx: unknown format" in result.error_line


def test_empty_file(run_cli, write_file):
    write_file("empty.csv", "")
    result = run_cli("import", "empty.csv")
    assert result.code == 3 and result.error_line == "bulkload: error: empty.csv: file is empty"


def test_header_only_file(run_cli, write_file):
    write_file("h.csv", "a,b\n")
    result = run_cli("import", "h.csv")
    assert result.code == 3
    assert result.error_line == "bulkload: error: h.csv: has a header but no data rows"


def test_ragged_rows_are_rejected_with_their_lines(run_cli, write_file, tmp_path: Path):
    write_file("r.csv", "a,b\n1,x\n2\n3,y\n4,z,extra\n5,w\n")
    result = run_cli("import", "r.csv", "--to", "sqlite:///o.db", "--json", "s.json", "-q")
    assert result.code == 1  # finished, some rows rejected
    assert read_table(tmp_path / "o.db", "r") == [(1, "x"), (3, "y"), (5, "w")]
    summary = json.loads((tmp_path / "s.json").read_text())
    assert (summary["rows_read"], summary["rows_loaded"], summary["rows_rejected"]) == (5, 3, 2)
    assert [(r["line"], r["reason"]) for r in summary["rejections_sample"]] == [
        (3, "expected 2 fields, found 1"),
        (5, "expected 2 fields, found 3"),
    ]
    assert "r.csv:3: expected 2 fields, found 1" in result.stdout


def test_value_that_does_not_convert_rejects_its_row(run_cli, write_file, tmp_path: Path):
    write_file("v.csv", "id,price\n1,1.5\n2,abc\n3,2.5\n")
    result = run_cli(
        "import", "v.csv", "--type", "price=float", "--to", "sqlite:///o.db", "--json", "-", "-q"
    )
    assert result.code == 1
    summary = json.loads(result.stdout)
    assert summary["rows_rejected"] == 1
    assert summary["rejections_sample"][0] == {
        "source": "v.csv",
        "line": 3,
        "reason": "column 'price': cannot convert 'abc' to float "
        "(load the column as --type price=string)",
    }
    assert read_table(tmp_path / "o.db", "v") == [(1, 1.5), (3, 2.5)]


def test_inferred_type_rejects_later_rows_that_do_not_fit(run_cli, write_file, tmp_path: Path):
    rows = "".join(f"{i}\n" for i in range(10)) + "ten\n"
    write_file("n.csv", "n\n" + rows)
    result = run_cli(
        "import", "n.csv", "--batch-size", "5", "--to", "sqlite:///o.db", "--json", "-", "-q"
    )
    assert result.code == 1
    summary = json.loads(result.stdout)
    assert summary["rows_read"] == 11 and summary["rows_loaded"] == 10
    assert summary["rejections_sample"][0]["line"] == 12


def test_broken_quoting(run_cli, write_file):
    write_file("q.csv", 'a,b\n1,"never closed\n2,x\n')
    result = run_cli("import", "q.csv")
    assert result.code == 3
    assert result.error_line == (
        "bulkload: error: q.csv:2: broken quoting: "
        "a quoted field opened in this row is never closed"
    )


def test_quoted_newlines_are_not_broken_quoting(run_cli, write_file, tmp_path: Path):
    write_file("q.csv", 'a,b\n1,"two\nlines"\n2,"say ""hi"""\n')
    result = run_cli("import", "q.csv", "--to", "sqlite:///o.db", "-q")
    assert result.code == 0, result.stderr
    assert read_table(tmp_path / "o.db", "q") == [(1, "two\nlines"), (2, 'say "hi"')]


def test_invalid_utf8(run_cli, write_file):
    write_file("u.csv", b"a,b\n1,caf\xe9\n")
    result = run_cli("import", "u.csv")
    assert result.code == 3
    assert "u.csv" in result.error_line and "--encoding" in result.error_line


def test_unknown_option(run_cli, write_file):
    write_file("a.csv", "x\n1\n")
    result = run_cli("import", "a.csv", "--concurency", "3")
    assert result.code == 3 and "--concurency" in result.error_line


def test_bad_option_value(run_cli, write_file):
    write_file("a.csv", "x\n1\n")
    for args, fragment in (
        (("--concurrency", "0"), "--concurrency must be at least 1"),
        (("--batch-size", "many"), "--batch-size"),
        (("--if-exists", "merge"), "--if-exists must be one of"),
        (("--delimiter", "ab"), "--delimiter must be a single character"),
        (("--type", "x=money"), "unknown type 'money'"),
        (("--encoding", "klingon"), "unknown encoding"),
    ):
        result = run_cli("import", "a.csv", *args)
        assert result.code == 3, args
        assert fragment in result.error_line, (args, result.error_line)


def test_unknown_url_scheme(run_cli, write_file):
    write_file("a.csv", "x\n1\n")
    result = run_cli("import", "a.csv", "--to", "mongodb://localhost/x")
    assert result.code == 3
    assert "unknown scheme 'mongodb'" in result.error_line and "sqlite" in result.error_line


def test_debug_shows_the_traceback(tmp_path: Path, write_file):
    import subprocess
    import sys

    write_file("a.csv", "x\n1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "bulkload", "import", "a.csv", "--to", "nope://x", "--debug"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 3
    assert "Traceback" in proc.stderr and "unknown scheme" in proc.stderr
