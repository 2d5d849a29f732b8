"""Source faults one at a time, through the CLI: delimiters, ragged and header-only
files, rows larger than the parser's block, and rejection reasons that say what to do."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from tests.conftest import column_types, read_table


def test_tsv_is_tab_separated_without_delimiter(run_cli, write_file, tmp_path: Path):
    write_file("t.tsv", "id\tname\tval\n1\ta, b\t2\n")
    write_file("z.tsv.gz", gzip.compress(b"id\tname\n2\tc\n"))
    for name in ("t.tsv", "z.tsv.gz"):
        result = run_cli("import", name, "--to", "sqlite:///o.db", "-q")
        assert result.code == 0, result.stderr
    assert read_table(tmp_path / "o.db", "t") == [(1, "a, b", 2)]
    assert read_table(tmp_path / "o.db", "z") == [(2, "c")]


def test_delimiter_option_wins_over_tsv(run_cli, write_file, tmp_path: Path):
    write_file("c.tsv", "id,name\n1,a\n")
    result = run_cli("import", "c.tsv", "--delimiter", ",", "--to", "sqlite:///o.db", "-q")
    assert result.code == 0, result.stderr
    assert read_table(tmp_path / "o.db", "c") == [(1, "a")]


def test_one_column_header_with_another_delimiter_is_refused(run_cli, write_file, tmp_path):
    write_file("s.csv", "id;name;val\n1;a;2\n")
    result = run_cli("import", "s.csv", "--to", "sqlite:///o.db", "-q")
    assert result.code == 3
    assert result.error_line.startswith("bulkload: error: s.csv: the header is one column")
    assert "--delimiter ';'" in result.error_line
    assert not (tmp_path / "o.db").exists() or read_table_names(tmp_path / "o.db") == []


def test_explicit_delimiter_loads_one_column_on_purpose(run_cli, write_file, tmp_path: Path):
    write_file("s.csv", "a;b\nx;y\n")
    result = run_cli("import", "s.csv", "--delimiter", ",", "--to", "sqlite:///o.db", "-q")
    assert result.code == 0, result.stderr
    assert read_table(tmp_path / "o.db", "s") == [("x;y",)]


def test_ragged_rows_after_the_last_valid_one_are_rejected(run_cli, write_file, tmp_path: Path):
    write_file("r.csv", "a,b\n1,2\n3,4,5\n6,7,8\n")
    result = run_cli("import", "r.csv", "--to", "sqlite:///o.db", "--json", "-", "-q")
    assert result.code == 1, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["rows_read"], summary["rows_loaded"], summary["rows_rejected"]) == (3, 1, 2)
    bad = (tmp_path / "r.bad-records.csv").read_text().splitlines()
    assert bad[1:] == [
        'r.csv,3,"expected 2 fields, found 3",' + '"3,4,5"',
        "r.csv,4," + '"expected 2 fields, found 3",' + '"6,7,8"',
    ]


def test_limit_counts_the_records_before_it_ragged_ones_included(
    run_cli, write_file, tmp_path: Path
):
    # every 100th record ragged; the batches (10,000 rows) are cut from parser chunks
    # that also hold ragged rows from beyond the batch: they must not count against it
    ragged = set(range(50, 30_000, 100))
    write_file(
        "r.csv",
        "id,a,b\n" + "".join(f"{i},r\n" if i in ragged else f"{i},a,b\n" for i in range(30_000)),
    )
    result = run_cli("import", "r.csv", "--to", "sqlite:///o.db", "--limit", "15000", "--json", "-")
    assert result.code == 1, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["rows_read"], summary["rows_loaded"], summary["rows_rejected"]) == (
        15_000,
        14_850,
        150,
    )
    ids = [row[0] for row in read_table(tmp_path / "o.db", "r")]
    assert ids == [i for i in range(15_000) if i not in ragged]
    bad = (tmp_path / "r.bad-records.csv").read_text().splitlines()[1:]
    assert [int(line.split(",")[1]) for line in bad] == [i + 2 for i in sorted(ragged)][:150]


def test_a_skipped_row_with_a_quoted_line_break_is_refused(run_cli, write_file, tmp_path):
    # pyarrow skips lines, not records: it would start a record early, header as data
    write_file("p.csv", '"pre\namble",x\nid,a\n' + "".join(f"{i},v{i}\n" for i in range(5)))
    result = run_cli("import", "p.csv", "--to", "sqlite:///o.db", "--skip-rows", "1")
    assert result.code == 3, result.stderr
    assert "skipped by --skip-rows, or the header, holds a quoted line break" in (result.error_line)
    assert not (tmp_path / "o.db").exists()
    write_file("q.csv", '"pre amble",x\nid,a\n' + "".join(f"{i},v{i}\n" for i in range(5)))
    assert run_cli("import", "q.csv", "--to", "sqlite:///o.db", "--skip-rows", "1").code == 0
    assert read_table(tmp_path / "o.db", "q") == [(i, f"v{i}") for i in range(5)]


def test_only_header_only_files_is_an_error(run_cli, write_file):
    write_file("h.csv", "a,b\n")
    write_file("g.csv", "a,b\n")
    one = run_cli("import", "h.csv", "--to", "sqlite:///o.db", "-q")
    assert one.code == 3
    assert one.error_line == "bulkload: error: h.csv: has a header but no data rows"
    both = run_cli("import", "h.csv", "g.csv", "--table", "t", "--to", "sqlite:///o.db", "-q")
    assert both.code == 3
    assert both.error_line == "bulkload: error: none of the 2 input files has a data row"


def test_header_only_file_first_does_not_type_the_columns(run_cli, write_file, tmp_path):
    write_file("a.csv", "id,price\n")
    write_file("b.csv", "id,price\n1,2.5\n")
    result = run_cli("import", "a.csv", "b.csv", "--table", "t", "--to", "sqlite:///o.db", "-q")
    assert result.code == 0, result.stderr
    assert read_table(tmp_path / "o.db", "t") == [(1, 2.5)]
    assert column_types(tmp_path / "o.db", "t")["price"] in {"REAL", "DOUBLE", "FLOAT"}


def test_a_file_missing_a_column_is_named(run_cli, write_file):
    write_file("m1.csv", "a,b\n1,2\n")
    write_file("m2.csv", "a\n3\n")
    result = run_cli("import", "m1.csv", "m2.csv", "--table", "m", "--to", "null://", "-q")
    assert result.code == 3
    assert result.error_line == (
        "bulkload: error: m2.csv: column 'b' is missing (columns are: a) "
        "(1 row was loaded before this error)"
    )


def _document_file(write_file, field_bytes: int):
    rows = "".join(f"{i},short\n" for i in range(1, 2001))
    document = "2001," + '"' + "x" * field_bytes + '"\n'
    return write_file("docs.csv", "id,doc\n" + rows + document + "2002,after\n")


def test_field_larger_than_the_parser_block_loads(run_cli, write_file, tmp_path: Path):
    _document_file(write_file, 3_000_000)
    result = run_cli("import", "docs.csv", "--to", "sqlite:///o.db", "--json", "-", "-q")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["rows_loaded"] == 2002
    rows = read_table(tmp_path / "o.db", "docs")
    assert [r[0] for r in rows] == list(range(1, 2003))
    assert len(rows[2000][1]) == 3_000_000 and rows[2001][1] == "after"


def test_row_over_max_field_size_is_a_clear_error(run_cli, write_file):
    _document_file(write_file, 3_000_000)
    result = run_cli("import", "docs.csv", "--max-field-size", "1MB", "--to", "null://", "-q")
    assert result.code == 3
    assert result.error_line == (
        "bulkload: error: docs.csv:2002: this row is larger than --max-field-size (1 MB); "
        "raise it to load this row (2,000 rows were loaded before this error)"
    )


def test_max_field_size_accepts_sizes_and_refuses_nonsense(run_cli, write_file):
    _document_file(write_file, 3_000_000)
    ok = run_cli("import", "docs.csv", "--max-field-size", "3072KB", "--to", "null://", "-q")
    assert ok.code == 0, ok.stderr
    for bad in ("4XB", "0", "-1MB"):
        result = run_cli("import", "docs.csv", "--max-field-size", bad, "--to", "null://", "-q")
        assert result.code == 3
        assert "--max-field-size must be a size such as 64MB" in result.error_line


MB = 1 << 20


def _field_after(write_file, field: str, start: int):
    """A file whose row 2002 holds ``field`` and starts at byte ``start``."""
    lead = "id,doc\n" + "".join(f"{i},short\n" for i in range(1, 2000))
    pad = start - len(lead) - len("2000,\n")
    lead += f"2000,{'p' * pad}\n"
    return write_file("f.csv", f'{lead}2001,"{field}"\n2002,after\n')


@pytest.mark.parametrize(
    ("field", "start"),
    [
        ("x" * (2 * MB), 20_000),
        ("x" * (2 * MB - 1), 20_000),
        # the row starts near the end of a parser block of the limit: it does not fit
        # in two such blocks, but a field of the limit must load wherever its row starts
        ("x" * (2 * MB), 2 * MB - 5),
        ("é" * MB, 20_000),  # 2 MB in UTF-8
    ],
)
def test_a_field_up_to_max_field_size_loads(run_cli, write_file, tmp_path, field, start):
    _field_after(write_file, field, start)
    result = run_cli("import", "f.csv", "--max-field-size", "2MB", "--to", "sqlite:///o.db", "-q")
    assert result.code == 0, result.stderr
    rows = read_table(tmp_path / "o.db", "f")
    assert rows[-2][1] == field and rows[-1][1] == "after"


@pytest.mark.parametrize(
    "field",
    ["x" * (2 * MB + 1), "x" * (3 * MB), "x" * (3 * MB + MB // 2), "é" * MB + "e"],
)
def test_a_field_over_max_field_size_is_refused_however_little_over(run_cli, write_file, field):
    # the parser's blocks hold rows of up to about twice the limit: each value is checked
    _field_after(write_file, field, 20_000)
    result = run_cli("import", "f.csv", "--max-field-size", "2MB", "--to", "null://", "-q")
    assert result.code == 3, result.stderr
    assert result.error_line == (
        "bulkload: error: f.csv:2002: this row is larger than --max-field-size (2 MB); "
        "raise it to load this row (2,000 rows were loaded before this error)"
    )


def test_huge_row_on_stdin_says_to_pass_the_file(run_cli, write_file, tmp_path: Path):
    path = _document_file(write_file, 3_000_000)
    result = run_cli(
        "import", "-", "--table", "t", "--to", "null://", "-q", stdin=path.read_bytes()
    )
    assert result.code == 3
    assert "stdin cannot be read twice" in result.error_line


def test_rejection_suggests_a_wider_type(run_cli, write_file, tmp_path: Path):
    rows = "".join(f"{i},{i}\n" for i in range(20_000)) + "20000,2.5\n20001,n/a\n"
    write_file("n.csv", "id,v\n" + rows)
    result = run_cli("import", "n.csv", "--to", "sqlite:///o.db", "--json", "-", "-q")
    assert result.code == 1, result.stderr
    reasons = [r["reason"] for r in json.loads(result.stdout)["rejections_sample"]]
    assert reasons == [
        "column 'v': cannot convert '2.5' to int (load the column as --type v=float)",
        "column 'v': cannot convert 'n/a' to int (load the column as --type v=string)",
    ]


def read_table_names(db: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]


def test_a_truncated_file_loads_every_whole_row_before_the_cut(run_cli, write_file, tmp_path):
    """pyarrow reads ahead of the rows it returns, and a decompressor's failing read
    drops what it had decoded: both used to lose good rows before a cut (130k of 1M
    loaded). The rows loaded are exactly lines 2..N, N is in the error, and what is lost
    is less than the 64 KB of one held-back read."""
    rows = 300_000
    text = "id,name\n" + "".join(f"{i},n{i}\n" for i in range(rows))
    packed = gzip.compress(text.encode())
    write_file("cut.csv.gz", packed[: len(packed) * 9 // 10])
    result = run_cli(
        "import", "cut.csv.gz", "--to", "sqlite:///o.db", "--table", "t",
        "--batch-size", "7000", "--json", "s.json", "-q",
    )  # fmt: skip
    assert result.code == 3, result.stderr
    loaded = [row[0] for row in read_table(tmp_path / "o.db", "t")]
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["rows_loaded"] == len(loaded) == summary["rows_read"]
    assert loaded == list(range(len(loaded)))  # no gap, no partial last row
    assert f"(after line {len(loaded) + 1})" in result.error_line
    recoverable = rows * 9 // 10  # roughly: the cut is 90% into the compressed bytes
    assert len(loaded) > recoverable - 64 * 1024 // len("299999,n299999\n") - rows // 50


def test_invalid_text_mid_file_loads_every_row_before_the_bad_block(run_cli, write_file, tmp_path):
    """A parse error further on used to drop the chunk held back before it (~40k good
    rows lost, while the error said they were read)."""
    lines = [f"{i},v{i}\n".encode() for i in range(400_000)]
    lines[350_000] = b"350000,\xff\xfe bad\n"
    write_file("bad.csv", b"id,v\n" + b"".join(lines))
    result = run_cli(
        "import", "bad.csv", "--to", "sqlite:///o.db", "--table", "t", "--json", "s.json", "-q"
    )  # fmt: skip
    assert result.code == 3, result.stderr
    after = int(re.search(r"after line (\d+)", result.error_line).group(1))
    loaded = [row[0] for row in read_table(tmp_path / "o.db", "t")]
    assert loaded == list(range(after - 1))  # every row up to the line the error names
    assert json.loads((tmp_path / "s.json").read_text())["rows_loaded"] == len(loaded)


def test_a_limit_under_a_megabyte_is_named_as_given(run_cli, write_file):
    """--max-field-size 1KB was named '0.000976562 MB' in the error line."""
    write_file("s.csv", "id,doc\n1," + "x" * 1025 + "\n")
    result = run_cli("import", "s.csv", "--max-field-size", "1KB", "--to", "null://", "-q")
    assert result.code == 3
    assert "larger than --max-field-size (1 KB);" in result.error_line
