"""How a batch is sent to a kind of server: plain (any ingest endpoint), or a real bulk
API whose partial-failure report says which rows it refused.

Adding a preset: subclass :class:`Preset`, set ``name``, override what differs —
``url`` (where the batch goes), ``body`` (how rows become the request), ``open`` (create
the table) and ``check`` (read a 2xx answer; raise :class:`HttpItemsFailed` naming the
refused rows) — and add it to ``PRESETS`` (and its name to ``--http-preset``'s choices in
options.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from bulkload.backends.base import ErrorKind, TableSpec
from bulkload.backends.http.errors import HttpItemsFailed, HttpStatusError
from bulkload.backends.http.formats import CONTENT_TYPES, ENCODERS, to_csv
from bulkload.backends.http.transport import Response
from bulkload.errors import TargetError, UsageError

#: sends one request (method, url, body, content type) and returns the answer
Send = Callable[[str, str, bytes, str], Awaitable[Response]]


class Preset:
    """Plain: the batch, in --http-format, to the --to URL as it is."""

    name: ClassVar[str] = "plain"

    def __init__(self, base_url: str, body_format: str):
        self.base_url = base_url
        self.format = body_format
        self.table = ""

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]

    def url(self) -> str:
        return self.base_url

    def body(self, batch: pa.RecordBatch) -> bytes:
        return ENCODERS[self.format](batch)

    async def open(self, table: TableSpec, send: Send) -> None:
        self.table = table.name

    def check(self, answer: Response) -> None:
        """A 2xx answer: raise HttpItemsFailed if it reports refused items."""

    def refusal(self, status: int, body: bytes, retry_after: float | None) -> HttpStatusError:
        """The error a non-2xx answer is (``body`` already stripped of secrets): taken
        by its status, unless the API says more."""
        return HttpStatusError(status, body, retry_after)


class Elasticsearch(Preset):
    """``_bulk`` (Elasticsearch, OpenSearch): an ``index`` action line before every
    document; the answer lists every item with its own status."""

    name = "elasticsearch"

    def __init__(self, base_url: str, body_format: str):
        super().__init__(base_url, "ndjson")

    @property
    def content_type(self) -> str:
        return "application/x-ndjson"

    def url(self) -> str:
        parts = urlsplit(self.base_url)
        path = parts.path.rstrip("/")
        if not path.endswith("/_bulk"):
            path = f"{path}/{self.table}/_bulk"
        return urlunsplit(parts._replace(path=path))

    def body(self, batch: pa.RecordBatch) -> bytes:
        documents = ENCODERS["ndjson"](batch).splitlines()  # JSON escapes line breaks
        action = b'{"index":{}}'
        return b"".join(action + b"\n" + doc + b"\n" for doc in documents)

    def check(self, answer: Response) -> None:
        try:
            report = json.loads(answer.body)
        except ValueError:
            report = None
        if not isinstance(report, dict) or not isinstance(report.get("items"), list):
            raise NotABulkApi(self.name, answer.status, answer.body)
        if not report.get("errors"):
            return
        rejected: dict[int, str] = {}
        retry: list[int] = []
        for row, item in enumerate(report.get("items", [])):
            result: dict[str, Any] = next(iter(item.values()), {}) if isinstance(item, dict) else {}
            status = int(result.get("status", 0))
            if status == 429:
                retry.append(row)
            elif status >= 300:
                error = result.get("error") or {}
                reason = (
                    f"{error.get('type', 'error')}: {error.get('reason', '')}"
                    if isinstance(error, dict)
                    else str(error)
                )
                rejected[row] = f"HTTP {status}: {reason}"[:300]
        if rejected or retry:
            raise HttpItemsFailed(rejected, tuple(retry))


class OpenSearch(Elasticsearch):
    """The same ``_bulk`` API, named as the user named it in messages."""

    name = "opensearch"


class NotABulkApi(HttpStatusError):
    """A 2xx answer without the ``_bulk`` report (its ``items``): the server is not the
    one the preset is for, and no retry helps. (As any answer the preset cannot read,
    the rows are not counted in doubt: the run stops at the first batch.)"""

    def __init__(self, preset: str, status: int, body: bytes):
        super().__init__(status, body, kind=ErrorKind.FATAL, may_have_applied=False)
        product = {"opensearch": "OpenSearch"}.get(preset, "Elasticsearch")
        head = " ".join(body[:80].decode("utf-8", "replace").split())
        answered = f"HTTP {status}, " + (f"body {head!r}" if head else "no body")
        self.args = (
            f"the server did not answer as {product}'s _bulk API would ({answered}): check "
            f"that --to is an {product} node (http://HOST:9200), or drop --http-preset {preset}",
        )


class ClickHouse(Preset):
    """ClickHouse's HTTP interface: ``INSERT INTO t FORMAT JSONEachRow`` (or
    ``CSVWithNames`` with --http-format csv) in the query string, rows in the body; the
    table is created from the schema. An insert is atomic: a bad row fails the whole
    request (400), and bisection isolates it."""

    name = "clickhouse"

    def __init__(self, base_url: str, body_format: str):
        if body_format not in ("ndjson", "csv"):
            raise UsageError("--http-preset clickhouse sends --http-format ndjson or csv")
        super().__init__(base_url, body_format)
        self.columns: tuple[str, ...] = ()  # the batch's, named in the INSERT
        self.not_nullable: frozenset[str] = frozenset()  # the table's non-Nullable columns

    def body(self, batch: pa.RecordBatch) -> bytes:
        if self.format != "csv":
            return super().body(batch)
        # NULL is \N in ClickHouse's CSV (an empty field is the column's default, 0 or "");
        # a column that cannot hold NULL gets its default, as a newer server would give
        # it (input_format_null_as_default), rather than a literal \N or a refusal
        for index, name in enumerate(batch.schema.names):
            column = batch.column(index)
            if name in self.not_nullable and column.null_count:
                batch = batch.set_column(index, name, _with_defaults(column))
        return to_csv(batch, _CLICKHOUSE_CSV)

    def refusal(self, status: int, body: bytes, retry_after: float | None) -> HttpStatusError:
        """An answer with a ClickHouse exception (``Code: 27, ...`` or ``Code: 27. ...``).
        A row the server could not take is refused for good (bisection finds it),
        although servers before 21.x answer 500 to some of them; such an insert wrote
        nothing while the batch is one block (under max_insert_block_size, 1,048,576
        rows by default), so it is not in doubt. UNKNOWN_STATUS_OF_INSERT is; any other
        exception is taken by its status (a 500 may have written some blocks)."""
        found = _EXCEPTION_CODE.match(body)
        if found is None:
            return super().refusal(status, body, retry_after)
        code = int(found[1])
        if code == _UNKNOWN_STATUS_OF_INSERT:
            return HttpStatusError(status, body, retry_after, may_have_applied=True)
        # whatever the status (old servers say 500): no retry helps, nothing was written
        kind = _CLICKHOUSE_KINDS.get(code)
        if kind is None:
            return super().refusal(status, body, retry_after)
        return HttpStatusError(status, body, retry_after, kind=kind, may_have_applied=False)

    def _query_url(self, query: str, **settings: str) -> str:
        parts = urlsplit(self.base_url)
        extra = urlencode({"query": query, **settings})
        return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))

    def url(self) -> str:
        fmt = "JSONEachRow" if self.format == "ndjson" else "CSVWithNames"
        # best_effort: ISO-8601 timestamps with a T and an offset, as bulkload sends them
        # the columns named: a server before 19.x fills CSVWithNames's by position
        columns = ", ".join(quote(name) for name in self.columns)
        insert = f"INSERT INTO {quote(self.table)} ({columns}) FORMAT {fmt}"
        return self._query_url(insert, date_time_input_format="best_effort")

    async def open(self, table: TableSpec, send: Send) -> None:
        self.table = table.name
        self.columns = tuple(table.schema.names)
        name = quote(table.name)

        async def run(query: str) -> bytes:
            answer = await send("POST", self._query_url(""), query.encode(), "text/plain")
            if not 200 <= answer.status < 300:
                text = answer.body[:200].decode("utf-8", "replace").strip()
                raise TargetError(
                    f"clickhouse: {query.split(' (')[0]}: HTTP {answer.status}: {text}"
                )
            return answer.body

        if table.if_exists == "fail":
            if (await run(f"EXISTS TABLE {name}")).strip() == b"1":
                raise TargetError(f"clickhouse: table {table.name!r} exists (--if-exists fail)")
        elif table.if_exists == "replace":
            await run(f"DROP TABLE IF EXISTS {name}")
        columns = ", ".join(f"{quote(f.name)} {clickhouse_type(f)}" for f in table.schema)
        await run(
            f"CREATE TABLE IF NOT EXISTS {name} ({columns}) ENGINE = MergeTree ORDER BY tuple()"
        )
        if table.if_exists == "truncate":
            await run(f"TRUNCATE TABLE {name}")
        described = (await run(f"DESCRIBE TABLE {name} FORMAT TSV")).decode()
        self.not_nullable = frozenset(
            fields[0]
            for fields in (line.split("\t") for line in described.splitlines())
            if len(fields) > 1 and not fields[1].startswith("Nullable(")
        )


_CLICKHOUSE_CSV = pa_csv.WriteOptions(null_string="\\N")
_UNKNOWN_STATUS_OF_INSERT = 319  # the server cannot tell whether the insert was written
#: the start of a ClickHouse exception's text, old (``Code: 27, e.displayText()``) and new
_EXCEPTION_CODE = re.compile(rb"\s*Code: (\d+)[,.]")
#: ClickHouse error codes for a value the table cannot take (ClickHouse's ErrorCodes):
#: CANNOT_PARSE_TEXT, _ESCAPE_SEQUENCE, _QUOTED_STRING, _INPUT_ASSERTION_FAILED, _DATE,
#: _DATETIME, TYPE_MISMATCH, CANNOT_CONVERT_TYPE, CANNOT_PARSE_NUMBER, INCORRECT_DATA,
#: VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE, CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
CLICKHOUSE_BAD_DATA = frozenset({6, 25, 26, 27, 38, 41, 53, 70, 72, 117, 321, 349})
#: ... and for a request no retry can make work: UNKNOWN_TABLE, UNKNOWN_DATABASE,
#: UNKNOWN_COMPRESSION_METHOD (--http-compression zstd to an old server), UNKNOWN_USER,
#: WRONG_PASSWORD, ACCESS_DENIED, AUTHENTICATION_FAILED
CLICKHOUSE_FATAL = frozenset({60, 81, 89, 192, 193, 497, 516})
_CLICKHOUSE_KINDS = {
    **dict.fromkeys(CLICKHOUSE_BAD_DATA, ErrorKind.PERMANENT),
    **dict.fromkeys(CLICKHOUSE_FATAL, ErrorKind.FATAL),
}


def _with_defaults(column: pa.Array) -> pa.Array:
    """NULLs replaced by the type's default (0, "", false, the epoch), as ClickHouse
    fills a column that cannot hold NULL; left as they are for a type without one."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        default = pa.scalar("", column.type)
    elif pa.types.is_boolean(column.type):
        default = pa.scalar(False)
    else:
        try:
            default = pa.array([0], pa.int32()).cast(column.type)[0]
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return column
    return pc.fill_null(column, default)


def quote(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def clickhouse_type(field: pa.Field) -> str:
    t = field.type
    if pa.types.is_boolean(t):
        base = "Bool"
    elif pa.types.is_integer(t):
        base = "Int64"
    elif pa.types.is_floating(t):
        base = "Float64"
    elif pa.types.is_decimal(t):
        base = f"Decimal({t.precision}, {t.scale})"
    elif pa.types.is_date(t):
        base = "Date32"
    elif pa.types.is_timestamp(t):
        base = "DateTime64(6, 'UTC')" if t.tz else "DateTime64(6)"
    else:
        base = "String"
    return f"Nullable({base})"


PRESETS: dict[str | None, type[Preset]] = {
    None: Preset,
    "elasticsearch": Elasticsearch,
    "opensearch": OpenSearch,
    "clickhouse": ClickHouse,
}
