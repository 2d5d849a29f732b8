"""The fault corpus: faulty inputs through the real CLI into real targets.

Every case checks what a user relies on: the run ends (a subprocess timeout turns a hang
into a failure), with the documented exit code, a one-line ``bulkload: error:`` naming
the file where the run fails, and ``rows_loaded`` in the JSON summary equal to the rows
actually in the target table. The read errors happen well after the first batch was
written (big inputs, ``--batch-size 10000``), where an error is hardest to handle.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import re
import sqlite3
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import zstandard

from tests.conftest import CliResult, read_table

TIMEOUT = 60  # seconds: every case ends well within this, or it hangs
ROWS = 300_000


def _csv_bytes(rows: int, start: int = 0, *, note: bool = False) -> bytes:
    ids = pa.array(range(start, start + rows), pa.int64())
    columns = {"id": ids, "name": pc.binary_join_element_wise("n", ids.cast(pa.string()), "")}
    if note:  # a third column: a record cut short then has too few fields, mostly
        columns["note"] = pc.binary_join_element_wise("note ", ids.cast(pa.string()), "")
    table = pa.table(columns)
    out = io.BytesIO()
    pacsv.write_csv(table, out, pacsv.WriteOptions(quoting_style="none"))
    return out.getvalue()


@dataclass(frozen=True)
class Case:
    """One faulty input: the files to pass, and what the run must end with."""

    args: tuple[str, ...]
    code: int
    error: str | None  # text the one error line must contain (it names the file too)
    names: str | None  # the file the error line must name


def _truncated(compress: Callable[[bytes], bytes], name: str) -> Callable[[Path], Case]:
    def build(tmp: Path) -> Case:
        data = compress(_csv_bytes(ROWS, note=True))
        (tmp / name).write_bytes(data[: len(data) * 2 // 3])
        return Case((name,), 3, "truncated", name)

    return build


def _invalid_utf8(tmp: Path) -> Case:
    data = bytearray(_csv_bytes(ROWS))
    data[len(data) * 3 // 4] = 0xFF  # deep in the file, far past the first batch
    (tmp / "latin.csv").write_bytes(bytes(data))
    return Case(("latin.csv",), 3, "not valid UTF-8", "latin.csv")


def _corrupt_parquet(tmp: Path) -> Case:
    ids = pa.array(range(200_000), pa.int64())
    table = pa.table({"id": ids, "name": ids.cast(pa.string())})
    pq.write_table(table, tmp / "bad.parquet", row_group_size=20_000, compression="none")
    data = bytearray((tmp / "bad.parquet").read_bytes())
    column = pq.ParquetFile(tmp / "bad.parquet").metadata.row_group(6).column(1)
    start = column.data_page_offset + 16
    data[start : start + 2000] = b"\xab" * 2000  # row group 6 of 10: after 120k rows
    (tmp / "bad.parquet").write_bytes(bytes(data))
    return Case(("bad.parquet",), 3, "cannot read", "bad.parquet")


def _header_only_among_good(tmp: Path) -> Case:
    (tmp / "dir").mkdir()
    (tmp / "dir" / "a.csv").write_text("id,name\n")  # sorted first: read first
    (tmp / "dir" / "b.csv").write_bytes(_csv_bytes(15_000))
    (tmp / "dir" / "c.csv").write_text("id,name\n")
    (tmp / "dir" / "d.csv").write_bytes(_csv_bytes(5_000, start=15_000))
    return Case(("dir", "--table", "t"), 0, None, None)


def _all_ragged(tmp: Path) -> Case:
    (tmp / "ragged.csv").write_text("id,name\n" + "".join(f"{i},x,y\n" for i in range(25_000)))
    return Case(("ragged.csv",), 1, None, None)


def _tsv(tmp: Path) -> Case:
    (tmp / "t.tsv").write_text("id\tname\tval\n1\ta b\t2\n2\tc\t3\n")
    return Case(("t.tsv",), 0, None, None)


def _huge_field(tmp: Path) -> Case:
    head, tail = _csv_bytes(20_000), _csv_bytes(10_000, start=20_001)
    document = b'20000,"' + b"x" * 20_000_000 + b'"\n'
    (tmp / "docs.csv").write_bytes(head + document + tail.split(b"\n", 1)[1])
    return Case(("docs.csv",), 0, None, None)


def _unclosed_quote(tmp: Path) -> Case:
    lines = _csv_bytes(30_000).decode().splitlines()
    lines = [line + ",1" if i else line + ",v" for i, line in enumerate(lines)]
    lines[29_990] = '29989,"never closed,1'
    (tmp / "quote.csv").write_text("\n".join(lines) + "\n")
    return Case(("quote.csv",), 3, "quote.csv:29991: broken quoting", "quote.csv")


def _ragged_row_deep(tmp: Path) -> Case:
    # pyarrow reports a ragged row while returning the block before it: that report
    # once made the reader drop the ~35,000 valid rows between the two, unnoticed
    lines = _csv_bytes(ROWS).decode().splitlines()
    for at in (70_001, 150_000, 250_001, ROWS):  # the last one: the file's last record
        lines[at] = "oops"
    (tmp / "ragged_deep.csv").write_text("\n".join(lines) + "\n")
    return Case(("ragged_deep.csv",), 1, None, None)


def _unclosed_quote_deep(tmp: Path) -> Case:
    lines = _csv_bytes(ROWS).decode().splitlines()
    lines = [line + ",1" if i else line + ",v" for i, line in enumerate(lines)]
    lines[200_000] = '199999,"never closed,1'  # record 200001, many parser blocks in
    (tmp / "quote_deep.csv").write_text("\n".join(lines) + "\n")
    return Case(("quote_deep.csv",), 3, "quote_deep.csv:200001: broken quoting", "quote_deep.csv")


def _unclosed_quote_among_literal_ones(tmp: Path) -> Case:
    # a quote inside an unquoted field (12" pipe) is data: the count of quote bytes is
    # then even although a quote below is never closed
    lines = [f"{i},a{i},b{i}" for i in range(ROWS)]
    lines[5] = '5,12" pipe,d'
    lines[200_000] = '200000,x,"never closed'  # the last column: the row stays valid
    (tmp / "literal.csv").write_text("id,a,b\n" + "\n".join(lines) + "\n")
    return Case(("literal.csv",), 3, "literal.csv:200002: broken quoting", "literal.csv")


def _quoted_lines_at_the_end_with_a_literal_quote(tmp: Path) -> Case:
    # an odd count of quote bytes, yet every quoted field is closed: nothing is wrong
    lines = [f"{i},a{i},b{i}" for i in range(ROWS)]
    lines[5] = '5,12" pipe,d'
    lines[-1] = f'{ROWS - 1},x,"two\nlines ""quoted"""'
    (tmp / "fine.csv").write_text("id,a,b\n" + "\n".join(lines) + "\n")
    return Case(("fine.csv",), 0, None, None)


def _empty_file(tmp: Path) -> Case:
    (tmp / "empty.csv").write_bytes(b"")
    return Case(("empty.csv",), 3, "file is empty", "empty.csv")


def _empty_directory(tmp: Path) -> Case:
    (tmp / "nothing").mkdir()
    return Case(("nothing", "--table", "t"), 3, "holds no CSV or Parquet files", "nothing")


def _missing_file(tmp: Path) -> Case:
    return Case(("missing.csv",), 3, "no such file", "missing.csv")


READ_ERRORS = {
    "truncated-gzip": _truncated(lambda d: gzip.compress(d, compresslevel=1), "cut.csv.gz"),
    "truncated-bz2": _truncated(lambda d: bz2.compress(d, compresslevel=1), "cut.csv.bz2"),
    "truncated-zstd": _truncated(lambda d: zstandard.compress(d), "cut.csv.zst"),
    "invalid-utf8-deep": _invalid_utf8,
    "corrupt-parquet-row-group": _corrupt_parquet,
}
OTHER_FAULTS = {
    "header-only-among-good": _header_only_among_good,
    "all-ragged": _all_ragged,
    "tsv": _tsv,
    "huge-field": _huge_field,
    "unclosed-quote": _unclosed_quote,
    "ragged-row-deep": _ragged_row_deep,
    "unclosed-quote-deep": _unclosed_quote_deep,
    "unclosed-quote-among-literal-ones": _unclosed_quote_among_literal_ones,
    "quoted-lines-at-the-end-with-a-literal-quote": _quoted_lines_at_the_end_with_a_literal_quote,
    "empty-file": _empty_file,
    "empty-directory": _empty_directory,
    "missing-file": _missing_file,
}
EXPECTED_ROWS = {
    "header-only-among-good": 20_000,
    "all-ragged": 0,
    "tsv": 2,
    "huge-field": 30_001,
    "unclosed-quote": 29_989,  # the rows before the one left open
    "ragged-row-deep": ROWS - 4,
    "unclosed-quote-deep": 199_999,
    "unclosed-quote-among-literal-ones": 200_000,
    "quoted-lines-at-the-end-with-a-literal-quote": ROWS,
}


def _check(result: CliResult, case: Case, loaded_in_target: Callable[[str], int]) -> None:
    assert result.code == case.code, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("bulkload: error")]
    if case.error is None:
        assert errors == [], result.stderr
    else:
        assert len(errors) == 1, result.stderr
        assert case.error in errors[0] and case.names in errors[0], errors[0]
    if result.stdout.strip():  # no summary when the run never started
        summary = json.loads(result.stdout)
        accounted = summary["rows_loaded"] + summary["rows_rejected"] + summary["rows_unfinished"]
        assert summary["rows_read"] == accounted
        assert summary["rows_loaded"] == loaded_in_target(summary["table"])


def _sqlite_rows(db: Path) -> Callable[[str], int]:
    def count(table: str) -> int:
        if not db.exists():
            return 0
        with sqlite3.connect(db) as conn:
            known = conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,))
            if known.fetchone() is None:
                return 0
            rows: int = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            return rows

    return count


@pytest.mark.slow
@pytest.mark.parametrize("name", [*READ_ERRORS, *OTHER_FAULTS])
def test_fault_into_sqlite(name: str, run_cli, tmp_path: Path):
    case = {**READ_ERRORS, **OTHER_FAULTS}[name](tmp_path)
    result = run_cli(
        "import",
        *case.args,
        "--to",
        "sqlite:///o.db",
        "--batch-size",
        "10000",
        "--json",
        "-",
        "-q",
        timeout=TIMEOUT,
    )
    _check(result, case, _sqlite_rows(tmp_path / "o.db"))
    if name in EXPECTED_ROWS:
        assert json.loads(result.stdout)["rows_loaded"] == EXPECTED_ROWS[name]
    if name == "tsv":
        assert read_table(tmp_path / "o.db", "t") == [(1, "a b", 2), (2, "c", 3)]


def _decodable_rows(path: Path) -> int:
    """Whole rows a truncated compressed file still holds: what a streaming decompressor
    yields before the cut, less the header."""
    data = path.read_bytes()
    if path.suffix == ".gz":
        text = zlib.decompressobj(wbits=31).decompress(data)
    elif path.suffix == ".bz2":
        text = bz2.BZ2Decompressor().decompress(data)
    else:
        text = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return text.count(b"\n") - 1


@pytest.mark.slow
@pytest.mark.parametrize("name", ["truncated-gzip", "truncated-bz2", "truncated-zstd"])
def test_a_truncated_file_loads_the_rows_before_the_cut(name: str, run_cli, tmp_path: Path):
    case = READ_ERRORS[name](tmp_path)
    result = run_cli(
        "import", *case.args, "--to", "sqlite:///o.db", "--batch-size", "10000",
        "--json", "-", "-q", timeout=TIMEOUT,
    )  # fmt: skip
    assert result.code == 3, result.stderr
    table = json.loads(result.stdout)["table"]
    with sqlite3.connect(tmp_path / "o.db") as conn:
        ids = [row[0] for row in conn.execute(f'SELECT id FROM "{table}" ORDER BY id')]
    assert ids == list(range(len(ids)))  # a prefix of the file, nothing skipped
    # every whole row the damaged file holds, less the record the cut went through (if
    # the cut fell just after a newline, that is the last whole one)
    whole = _decodable_rows(tmp_path / case.args[0])
    assert whole - 1 <= len(ids) <= whole, (len(ids), whole)
    assert f"after line {len(ids) + 1})" in result.stderr  # the last row loaded


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("name", list(READ_ERRORS))
def test_read_error_into_postgresql(name: str, run_cli, tmp_path: Path, pg):
    dsn, schema, sql = pg
    case = READ_ERRORS[name](tmp_path)
    result = run_cli(
        "import",
        *case.args,
        "--to",
        dsn,
        "--schema-name",
        schema,
        "--batch-size",
        "10000",
        "--json",
        "-",
        "-q",
        timeout=TIMEOUT,
    )

    def count(table: str) -> int:
        found = sql(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2",
            schema,
            table,
        )
        return sql(f'SELECT count(*) FROM "{schema}"."{table}"')[0][0] if found else 0

    _check(result, case, count)


def test_the_error_line_says_what_was_already_loaded_and_how_to_go_on(run_cli, write_file):
    text = "id,v\n" + "".join(f"{i},{i}\n" for i in range(100_000))
    packed = gzip.compress(text.encode())
    write_file("cut.csv.gz", packed[: len(packed) // 2])
    plain = run_cli("import", "cut.csv.gz", "--to", "sqlite:///a.db", "--table", "t", "-q")
    assert plain.code == 3
    assert re.search(r"\(([\d,]+) rows were loaded before this error\)$", plain.error_line)
    resumable = run_cli(
        "import", "cut.csv.gz", "--to", "sqlite:///b.db", "--table", "t", "-q",
        "--checkpoint", "c.json",
    )  # fmt: skip
    assert resumable.error_line.endswith(
        "rows were loaded before this error; run the same command with --resume to load the rest)"
    )
