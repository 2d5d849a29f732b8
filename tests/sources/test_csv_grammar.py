"""The CSV grammar, against Python's csv module: files written by ``csv.writer`` read back
the values written, with an unquoted empty field as null and a quoted one (``""``) as
an empty string. Hypothesis writes the files; a few known cases are spelled out."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bulkload.config import CsvOptions
from bulkload.sources.csv_reader import read_csv
from bulkload.sources.discovery import discover
from tests.conftest import read_table

# Fixed examples (derandomize, no example database) so CI runs the same files every time.
GRAMMAR = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # one file path, rewritten per example
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

# the pieces the grammar is about, mixed with any text
_SPECIAL = st.sampled_from(
    [",", ";", "\t", "|", '"', "'", '""', "\n", "\r", "\r\n", " ", "é", "日本", "😀", "\ufeff"]
)
_TEXT = st.lists(st.one_of(_SPECIAL, st.text(max_size=4)), max_size=4).map("".join)
_CELL = st.one_of(st.none(), st.just(""), _TEXT)  # None: written as an empty field


@dataclass(frozen=True)
class Row:
    cells: tuple[str | None, ...]
    quote_all: bool  # csv.QUOTE_ALL, else QUOTE_MINIMAL (empty fields left unquoted)
    newline: str


@dataclass(frozen=True)
class CsvFile:
    delimiter: str
    quote: str
    header: Row
    rows: tuple[Row, ...]
    final_newline: bool
    bom: bool

    def text(self) -> str:
        """The file, written by csv.writer one row at a time: each row its own quoting
        and line break (the writer ends rows with \\r\\n, so that a \\r in a field is
        quoted; it is then swapped for the row's own)."""
        lines = [self._written(row) for row in (self.header, *self.rows)]
        text = "".join(lines)
        if not self.final_newline:
            text = text.removesuffix(self.rows[-1].newline)
        return ("\ufeff" if self.bom else "") + text

    def _written(self, row: Row) -> str:
        out = io.StringIO()
        quoting = csv.QUOTE_ALL if row.quote_all else csv.QUOTE_MINIMAL
        writer = csv.writer(out, delimiter=self.delimiter, quotechar=self.quote, quoting=quoting)
        writer.writerow(row.cells)
        return out.getvalue().removesuffix("\r\n") + row.newline

    def expected(self) -> list[tuple[str | None, ...]]:
        """The values bulkload must read: an empty field written unquoted is null. (The
        writer quotes the empty field of a one-field row: "" alone on its line.)"""

        def value(cell: str | None, row: Row) -> str | None:
            if not cell:
                unquoted = not row.quote_all and len(row.cells) > 1
                return None if unquoted else ""
            return cell

        return [tuple(value(cell, row) for cell in row.cells) for row in self.rows]


@st.composite
def csv_files(draw: st.DrawFn) -> CsvFile:
    columns = draw(st.integers(1, 4))
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    quote = draw(st.sampled_from(['"', "'"]))
    newline = st.sampled_from(["\n", "\r\n", "\r"])
    row = st.builds(
        Row,
        cells=st.tuples(*[_CELL] * columns),
        quote_all=st.booleans(),
        newline=newline,
    )
    names = tuple(f"c{i}" for i in range(columns))
    header = Row(names, draw(st.booleans()), draw(newline))
    rows = tuple(draw(st.lists(row, min_size=1, max_size=8)))
    return CsvFile(delimiter, quote, header, rows, draw(st.booleans()), draw(st.booleans()))


def _python_reads(file: CsvFile) -> list[list[str]]:
    """What Python's csv module reads from the file (it reads null as "" too)."""
    text = file.text().removeprefix("\ufeff")
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=file.delimiter, quotechar=file.quote
    )
    return list(reader)


def _bulkload_reads(path: Path, file: CsvFile) -> list[tuple[Any, ...]]:
    (source,) = discover((str(path),))
    options = CsvOptions(delimiter=file.delimiter, quote_char=file.quote)
    rows: list[tuple[Any, ...]] = []
    for chunk in read_csv(source, options):
        assert chunk.rejected == ()
        assert chunk.data.column_names == list(file.header.cells)
        rows.extend(tuple(row.values()) for row in chunk.data.to_pylist())
    return rows


def _file(rows: list[tuple[str | None, ...]], final_newline: bool = True) -> CsvFile:
    header = Row(tuple(f"c{i}" for i in range(len(rows[0]))), False, "\n")
    return CsvFile(",", '"', header, tuple(Row(r, False, "\n") for r in rows), final_newline, False)


# the two shapes a differential run against Python's csv module found, always tried
QUOTED_LINE_BREAK_LAST = _file([("\n",)])  # c0 / "<LF>" / : taken for an unclosed quote
EMPTY_LAST_FIELD = _file([("x,y", None)], final_newline=False)  # c0,c1 / "x,y", : read as ''


@settings(GRAMMAR, max_examples=400)
@given(file=csv_files())
@example(file=QUOTED_LINE_BREAK_LAST)
@example(file=EMPTY_LAST_FIELD)
def test_the_reader_reads_back_what_csv_writer_wrote(tmp_path: Path, file: CsvFile):
    path = tmp_path / "g.csv"
    path.write_bytes(file.text().encode())
    # the file is valid CSV: Python's csv module reads back the values written
    expected = file.expected()
    assert _python_reads(file) == [
        list(file.header.cells),
        *[["" if v is None else v for v in row] for row in expected],
    ]
    assert _bulkload_reads(path, file) == expected


@settings(GRAMMAR, max_examples=6)
@given(file=csv_files())
@example(file=QUOTED_LINE_BREAK_LAST)
@example(file=EMPTY_LAST_FIELD)
def test_an_import_into_sqlite_stores_what_csv_writer_wrote(run_cli, tmp_path: Path, file):
    (tmp_path / "g.csv").write_bytes(file.text().encode())
    delimiter = "tab" if file.delimiter == "\t" else file.delimiter
    types = [arg for name in file.header.cells for arg in ("--type", f"{name}=string")]
    result = run_cli(
        "import", "g.csv", "--to", "sqlite:///g.db", "--table", "t", "--if-exists", "replace",
        "--delimiter", delimiter, "--quote-char", file.quote, *types, "-q",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert read_table(tmp_path / "g.db", "t") == file.expected()


# ----------------------------------------------------------------- cases found before


@pytest.mark.parametrize(
    "content",
    [
        b'c0\n"\n"\n',  # a quoted bare line break, the last field of the file
        b'c0\r\n"\r\n"\r\n',
        b'c0,c1\nx,"\n"\n',
        b'c0,c1\nx,"\n"',
        b'c0,c1\nx,"a\n"\n',
        b'c0\n"\n\n"\n',
    ],
)
def test_a_quoted_line_break_at_the_end_of_the_file_is_not_broken_quoting(
    run_cli, write_file, tmp_path: Path, content: bytes
):
    write_file("q.csv", content)
    result = run_cli("import", "q.csv", "--to", "sqlite:///q.db", "-q")
    assert result.code == 0, result.stderr
    python = list(csv.reader(io.StringIO(content.decode(), newline="")))
    assert read_table(tmp_path / "q.db", "q") == [tuple(row) for row in python[1:]]


@pytest.mark.parametrize(
    ("content", "row"),
    [
        (b'c0,c1\n"x",', ("x", None)),  # pyarrow alone reads '' here
        (b'c0,c1,c2\n"x",,', ("x", None, None)),
        (b'c0,c1\n"x",""', ("x", "")),
        (b"c0,c1\nx,", ("x", None)),
    ],
)
def test_an_empty_last_field_without_a_final_newline(
    run_cli, write_file, tmp_path: Path, content: bytes, row: tuple[str | None, ...]
):
    write_file("e.csv", content)
    types = ["--type", "c0=string", "--type", "c1=string", "--type", "c2=string"]
    result = run_cli("import", "e.csv", "--to", "sqlite:///e.db", *types[: 2 * len(row)], "-q")
    assert result.code == 0, result.stderr
    assert read_table(tmp_path / "e.db", "e") == [row]


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (b'c0\na\n"never closed\n', 3),
        (b'c0\na\n"', 3),
        (b'c0\n"a""\n', 2),  # a doubled quote, then the end
        (b'c0,c1\n1,x\n2,"open\n3,y\n', 3),  # folded into a valid row
        (b'c0,c1\n1,"open\n', 2),
        (b'c0,c1,c2\n1,"open\n2,x,z\n', 2),  # folded into a ragged row
    ],
)
def test_a_quote_never_closed_is_refused(run_cli, write_file, content: bytes, line: int):
    write_file("b.csv", content)
    result = run_cli("import", "b.csv", "--to", "null://", "-q")
    assert result.code == 3
    assert result.error_line.startswith(f"bulkload: error: b.csv:{line}: broken quoting: ")


def test_the_end_marker_is_encoded_as_the_file(run_cli, write_file, tmp_path: Path):
    # UTF-16 in either byte order: the bytes the parser is given after the file must
    # be its line break and quote, not bytes of another order
    for encoding in ("utf-16-le", "utf-16-be"):
        text = 'c0,c1\nx,"a\nb"\ny,'
        write_file("u.csv", codecs_bom(encoding) + text.encode(encoding))
        result = run_cli(
            "import", "u.csv", "--to", "sqlite:///u.db", "--if-exists", "replace",
            "--encoding", "utf-16", "--type", "c1=string", "-q",
        )  # fmt: skip
        assert result.code == 0, result.stderr
        assert read_table(tmp_path / "u.db", "u") == [("x", "a\nb"), ("y", None)]


def codecs_bom(encoding: str) -> bytes:
    return "\ufeff".encode(encoding)
