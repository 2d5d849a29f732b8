"""Each CSV source option, end to end through the CLI into a real SQLite file."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path

import zstandard

from tests.conftest import read_table


def test_default_target_and_table_name(run_cli, write_file, tmp_path: Path):
    write_file("people.csv", "id,name\n1,ann\n2,bob\n")
    result = run_cli("import", "people.csv", "-q")
    assert result.code == 0, result.stderr
    assert read_table(tmp_path / "bulkload.db", "people") == [(1, "ann"), (2, "bob")]


def test_delimiter_tab_and_semicolon(run_cli, write_file, tmp_path: Path):
    write_file("t.tsv", "a\tb\n1\tx y\n")
    write_file("s.csv", "a;b\n2;z\n")
    assert (
        run_cli("import", "t.tsv", "--delimiter", "tab", "--to", "sqlite:///o.db", "-q").code == 0
    )
    assert run_cli("import", "s.csv", "--delimiter", ";", "--to", "sqlite:///o.db", "-q").code == 0
    assert read_table(tmp_path / "o.db", "t") == [(1, "x y")]
    assert read_table(tmp_path / "o.db", "s") == [(2, "z")]


def test_quote_char(run_cli, write_file, tmp_path: Path):
    write_file("q.csv", "a,b\n1,'x, y'\n2,'it''s'\n")
    result = run_cli("import", "q.csv", "--quote-char", "'", "--to", "sqlite:///o.db", "-q")
    assert result.code == 0, result.stderr
    assert read_table(tmp_path / "o.db", "q") == [(1, "x, y"), (2, "it's")]


def test_no_header_with_columns(run_cli, write_file, tmp_path: Path):
    write_file("n.csv", "1,ann\n2,bob\n")
    result = run_cli(
        "import", "n.csv", "--no-header", "--columns", "id,name", "--to", "sqlite:///o.db", "-q"
    )
    assert result.code == 0, result.stderr
    assert read_table(tmp_path / "o.db", "n") == [(1, "ann"), (2, "bob")]


def test_no_header_without_columns_is_a_usage_error(run_cli, write_file):
    write_file("n.csv", "1,ann\n")
    result = run_cli("import", "n.csv", "--no-header")
    assert result.code == 3
    assert "--columns" in result.error_line


def test_encoding_latin1_and_utf8_bom(run_cli, write_file, tmp_path: Path):
    write_file("l.csv", "name,city\nJosé,Zürich\n".encode("latin-1"))
    write_file("b.csv", "\ufeffname,city\nJosé,Zürich\n".encode())
    assert (
        run_cli("import", "l.csv", "--encoding", "latin-1", "--to", "sqlite:///o.db", "-q").code
        == 0
    )
    assert run_cli("import", "b.csv", "--to", "sqlite:///o.db", "-q").code == 0
    assert read_table(tmp_path / "o.db", "l") == [("José", "Zürich")]
    # the BOM is not part of the first column's name
    assert read_table(tmp_path / "o.db", "b") == [("José", "Zürich")]
    import sqlite3

    with sqlite3.connect(tmp_path / "o.db") as conn:
        assert [r[1] for r in conn.execute("PRAGMA table_info(b)")] == ["name", "city"]


def test_null_values(run_cli, write_file, tmp_path: Path):
    write_file("n.csv", 'a,b\n1,NULL\n\\N,x\n,""\n')
    result = run_cli(
        "import",
        "n.csv",
        "--null-value",
        "NULL",
        "--null-value",
        "\\N",
        "--to",
        "sqlite:///o.db",
        "-q",
    )
    assert result.code == 0, result.stderr
    # unquoted empty is null; quoted empty is the empty string
    assert read_table(tmp_path / "o.db", "n") == [(1, None), (None, "x"), (None, "")]


def test_skip_rows_and_limit(run_cli, write_file, tmp_path: Path):
    write_file("s.csv", "exported by tool\nversion 2\nid,v\n1,a\n2,b\n3,c\n4,d\n")
    result = run_cli(
        "import",
        "s.csv",
        "--skip-rows",
        "2",
        "--limit",
        "3",
        "--to",
        "sqlite:///o.db",
        "--json",
        "-",
        "-q",
    )
    assert result.code == 0, result.stderr
    assert read_table(tmp_path / "o.db", "s") == [(1, "a"), (2, "b"), (3, "c")]
    assert '"rows_read": 3' in result.stdout


def test_compressed_inputs(run_cli, write_file, tmp_path: Path):
    text = b"id,v\n1,a\n2,b\n"
    write_file("g.csv.gz", gzip.compress(text))
    write_file("b.csv.bz2", bz2.compress(text))
    write_file("z.csv.zst", zstandard.ZstdCompressor().compress(text))
    for name, table in (("g.csv.gz", "g"), ("b.csv.bz2", "b"), ("z.csv.zst", "z")):
        result = run_cli("import", name, "--to", "sqlite:///o.db", "-q")
        assert result.code == 0, result.stderr
        assert read_table(tmp_path / "o.db", table) == [(1, "a"), (2, "b")]


def test_stdin(run_cli, tmp_path: Path):
    result = run_cli(
        "import", "-", "--table", "t", "--to", "sqlite:///o.db", "-q", stdin=b"a,b\n1,x\n"
    )
    assert result.code == 0, result.stderr
    assert read_table(tmp_path / "o.db", "t") == [(1, "x")]


def test_stdin_needs_table(run_cli):
    result = run_cli("import", "-", stdin=b"a\n1\n")
    assert result.code == 3
    assert "--table" in result.error_line


def test_globs_and_directories_in_one_call(run_cli, write_file, tmp_path: Path):
    write_file("logs/a.csv", "id\n1\n2\n")
    write_file("logs/b.csv.gz", gzip.compress(b"id\n3\n"))
    write_file("more/c.csv", "id\n4\n")
    write_file("more/notes.md", "not data")
    result = run_cli(
        "import", "logs/*.csv*", "more", "--table", "ids", "--to", "sqlite:///o.db", "-q"
    )
    assert result.code == 0, result.stderr
    assert read_table(tmp_path / "o.db", "ids") == [(1,), (2,), (3,), (4,)]


def test_select_rename_and_type(run_cli, write_file, tmp_path: Path):
    write_file("p.csv", "id,zip,price,extra\n1,02134,9.5,x\n2,10001,10,y\n")
    result = run_cli(
        "import",
        "p.csv",
        "--select",
        "price,zip,id",
        "--rename",
        "zip=postcode",
        "--type",
        "price=string",
        "--to",
        "sqlite:///o.db",
        "-q",
    )
    assert result.code == 0, result.stderr
    assert read_table(tmp_path / "o.db", "p") == [("9.5", "02134", 1), ("10", "10001", 2)]


def test_select_unknown_column_names_the_columns(run_cli, write_file):
    write_file("p.csv", "id,name\n1,a\n")
    result = run_cli("import", "p.csv", "--select", "nope")
    assert result.code == 3
    assert "'nope'" in result.error_line and "id, name" in result.error_line


def test_batch_size_controls_batches(run_cli, write_file):
    write_file("b.csv", "id\n" + "".join(f"{i}\n" for i in range(25)))
    result = run_cli("import", "b.csv", "--batch-size", "10", "--json", "-", "-q")
    assert result.code == 0, result.stderr
    assert '"batches": 3' in result.stdout
