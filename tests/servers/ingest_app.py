"""A real HTTP ingest server for the tests, run as its own process:

    python tests/servers/ingest_app.py [--tls CERT KEY [--client-ca CA]]

It prints ``PORT <n>`` once listening on 127.0.0.1 (a free port), stores the rows it
receives (generic bodies: JSON, NDJSON, CSV, Parquet, Arrow; gzip or zstd), and speaks
two bulk APIs well enough to test their presets: Elasticsearch ``_bulk`` (per-item
results) and ClickHouse's HTTP interface (``INSERT ... FORMAT JSONEachRow|CSVWithNames``,
CREATE/DROP/TRUNCATE/EXISTS TABLE).

Control (JSON over POST): ``/_control`` sets faults, ``/_reset`` forgets everything,
``GET /_state`` returns what was stored (and the path and headers of the first 500 other
GETs, each answered 404). Faults, applied to the next ingest requests in
order (``script``): ``{"status": 429, "retry_after": "1"}`` (or an HTTP date),
``{"stall": seconds}``, ``{"drop": "after_store"}`` (read the body, store the rows, close
the connection without answering: the client cannot know it was applied),
``{"drop": "before_store"}``, ``{"close": "announced"}`` (answer with ``Connection:
close``, then close), ``{"close": "silently"}`` (answer, then close without a word);
``"echo": HEADER`` with a status quotes that request header in the answer. ``every``: a
fault applied to every ingest request the script leaves alone (``{"status": 400}``: an
endpoint that refuses everything). ``reject``:
values that make a row refused (400 for a generic body or a ClickHouse insert, a
per-item error in ``_bulk``). ``throttle_items``:
values whose ``_bulk`` item answers 429 once. ``idempotency_header``: a header whose
repeated value is answered 200 without storing again. ``chunked_answers``: every answer
with a body is sent chunked.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

LOCK = threading.Lock()


def fresh_state() -> dict[str, Any]:
    return {
        "rows": [],  # generic and _bulk documents, in arrival order
        "requests": 0,  # ingest requests received (faults included)
        "headers": [],  # each ingest request's headers
        "duplicates": 0,  # requests answered from the idempotency record
        "tables": {},  # ClickHouse: name -> {"columns": str, "rows": [...]}
        "script": [],
        "every": {},  # the fault of every request the script does not name
        "reject": [],
        "throttle_items": [],
        "idempotency_header": None,
        "chunked_answers": False,  # answer with Transfer-Encoding: chunked
        "keys": [],
        "gets": [],  # the first GETs (but /_state): {"path", "headers"}, answered 404
    }


STATE = fresh_state()
GENERATION = 0  # counts resets: a stalled request of an earlier test must not store


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True  # headers and body go out apart: no 40 ms ACK wait

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # ------------------------------------------------------------------ plumbing

    def _answer(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if STATE["chunked_answers"] and body:  # in pieces of at most 7 bytes
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(body), 7):
                piece = body[start : start + 7]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, document: Any) -> None:
        self._answer(status, json.dumps(document).encode(), {"Content-Type": "application/json"})

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length", "0"))
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._chunked()
        body = self.rfile.read(length)
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "zstd":
            body = zstandard.ZstdDecompressor().decompressobj().decompress(body)
        return body

    def _chunked(self) -> bytes:
        out = b""
        while True:
            size = int(self.rfile.readline().strip(), 16)
            if size == 0:
                self.rfile.readline()
                return out
            out += self.rfile.read(size)
            self.rfile.readline()

    def do_GET(self) -> None:
        if self.path == "/_state":
            with LOCK:
                shown = {k: v for k, v in STATE.items() if k != "keys"}
                self._json(200, shown)
        else:
            with LOCK:
                if len(STATE["gets"]) < 500:
                    STATE["gets"].append({"path": self.path, "headers": dict(self.headers.items())})
            self._answer(404)

    do_PUT = None  # set below: PUT and POST are handled alike

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        if path == "/_reset":
            self._body()
            global GENERATION
            with LOCK:
                STATE.clear()
                STATE.update(fresh_state())
                GENERATION += 1
            self._json(200, {})
            return
        if path == "/_control":
            settings = json.loads(self._body())
            with LOCK:
                STATE.update(settings)
            self._json(200, {})
            return
        self._ingest(path)

    # ------------------------------------------------------------------ ingest

    def _ingest(self, path: str) -> None:
        body = self._body()
        with LOCK:
            generation = GENERATION
            STATE["requests"] += 1
            STATE["headers"].append(dict(self.headers.items()))
            fault = STATE["script"].pop(0) if STATE["script"] else STATE["every"]
            key_header = STATE["idempotency_header"]
        if "stall" in fault:
            time.sleep(fault["stall"])
            if generation != GENERATION:  # a request of a test that has ended: not stored
                self._drop()
                return
        if "status" in fault:
            headers = {"Retry-After": fault["retry_after"]} if "retry_after" in fault else {}
            body = fault.get("body", "try later")
            if "echo" in fault:  # a careless server quoting a request header back
                body += f" {self.headers.get(fault['echo'], '')}"
            self._answer(fault["status"], body.encode(), headers)
            return
        if fault.get("drop") == "before_store":
            self._drop()
            return
        key = self.headers.get(key_header) if key_header else None
        with LOCK:
            if key is not None and key in STATE["keys"]:
                STATE["duplicates"] += 1
                duplicate = True
            else:
                duplicate = False
        if duplicate:
            self._json(200, {"duplicate": True})
            return
        if path.endswith("/_bulk"):
            status, answer, stored = self._bulk(body)
        elif "query" in parse_qs(urlsplit(self.path).query, keep_blank_values=True):
            self._clickhouse(body)
            return
        else:
            status, answer, stored = self._generic(body)
        with LOCK:
            STATE["rows"].extend(stored)
            if key is not None and 200 <= status < 300:
                STATE["keys"].append(key)
        if fault.get("drop") == "after_store":
            self._drop()
            return
        if fault.get("close") == "announced":
            self._answer(status, answer, {"Connection": "close"})
            self.close_connection = True
            return
        self._answer(status, answer)
        if fault.get("close") == "silently":  # as an idle keep-alive connection times out
            self.close_connection = True

    def _drop(self) -> None:
        """Close without an answer (a reset: the client sees the connection die)."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
        self.close_connection = True
        self.connection.close()

    def _refused(self, row: dict[str, Any]) -> bool:
        return any(value in STATE["reject"] for value in row.values())

    def _generic(self, body: bytes) -> tuple[int, bytes, list[dict[str, Any]]]:
        rows = decode_rows(body, self.headers.get("Content-Type", ""))
        bad = [row for row in rows if self._refused(row)]
        if bad:
            return 400, f"refused row: {json.dumps(bad[0])}".encode(), []
        return 200, b'{"ok":true}', rows

    def _bulk(self, body: bytes) -> tuple[int, bytes, list[dict[str, Any]]]:
        lines = body.splitlines()
        items, stored = [], []
        for action, document in zip(lines[0::2], lines[1::2], strict=True):
            kind = next(iter(json.loads(action)))
            row = json.loads(document)
            throttled = [v for v in row.values() if v in STATE["throttle_items"]]
            if throttled:
                with LOCK:
                    for value in throttled:
                        STATE["throttle_items"].remove(value)  # only once
                items.append(
                    {
                        kind: {
                            "status": 429,
                            "error": {
                                "type": "es_rejected_execution_exception",
                                "reason": "queue full",
                            },
                        }
                    }
                )
            elif self._refused(row):
                error = {"type": "mapper_parsing_exception", "reason": f"failed to parse {row}"}
                items.append({kind: {"status": 400, "error": error}})
            else:
                items.append({kind: {"status": 201, "result": "created"}})
                stored.append(row)
        errors = any(next(iter(i.values()))["status"] >= 300 for i in items)
        return 200, json.dumps({"took": 1, "errors": errors, "items": items}).encode(), stored

    def _clickhouse(self, body: bytes) -> None:
        query = parse_qs(urlsplit(self.path).query, keep_blank_values=True)["query"][0]
        statement = (
            (query + " " + body.decode())
            if query.upper().startswith("INSERT")
            else (query or body.decode())
        )
        tables = STATE["tables"]
        name_of = r"`((?:[^`\\]|\\.)+)`"
        if m := re.match(
            rf"\s*CREATE TABLE IF NOT EXISTS {name_of} \((.*)\) ENGINE", statement, re.S
        ):
            with LOCK:
                tables.setdefault(m.group(1), {"columns": m.group(2), "rows": []})
            self._answer(200)
        elif m := re.match(rf"\s*DROP TABLE IF EXISTS {name_of}", statement):
            with LOCK:
                tables.pop(m.group(1), None)
            self._answer(200)
        elif m := re.match(rf"\s*TRUNCATE TABLE {name_of}", statement):
            with LOCK:
                tables[m.group(1)]["rows"].clear()
            self._answer(200)
        elif m := re.match(rf"\s*EXISTS TABLE {name_of}", statement):
            self._answer(200, b"1\n" if m.group(1) in tables else b"0\n")
        elif m := re.match(rf"\s*DESCRIBE TABLE {name_of} FORMAT TSV", statement):
            declared = re.findall(
                r"`((?:[^`\\]|\\.)+)` (.*?)(?=, `|$)", tables[m.group(1)]["columns"]
            )
            self._answer(
                200, "".join(f"{name}\t{kind}\t\t\t\n" for name, kind in declared).encode()
            )
        elif m := re.match(
            rf"\s*INSERT INTO {name_of}(?: \((.*?)\))? FORMAT (JSONEachRow|CSVWithNames)", query
        ):
            table = tables.get(m.group(1))
            if table is None:
                self._answer(404, b"Code: 60. DB::Exception: Table does not exist. (UNKNOWN_TABLE)")
                return
            content = "ndjson" if m.group(3) == "JSONEachRow" else "csv"
            rows = decode_rows(body, content)
            if content == "csv":  # \N is NULL in ClickHouse's CSV
                rows = [{k: None if v == "\\N" else v for k, v in row.items()} for row in rows]
            if any(self._refused(row) for row in rows):
                self._answer(
                    400,
                    b"Code: 27. DB::Exception: Cannot parse input. (CANNOT_PARSE_INPUT)",
                )
                return
            with LOCK:
                table["rows"].extend(rows)  # all or nothing, like one insert block
            self._answer(200)
        else:
            self._answer(400, f"Code: 62. DB::Exception: Syntax error: {statement[:80]}".encode())


Handler.do_PUT = Handler.do_POST  # type: ignore[assignment]


def decode_rows(body: bytes, content_type: str) -> list[dict[str, Any]]:
    if "ndjson" in content_type:
        return [json.loads(line) for line in body.splitlines() if line.strip()]
    if "json" in content_type:
        return list(json.loads(body))
    if "csv" in content_type:
        return list(csv.DictReader(io.StringIO(body.decode())))
    if "parquet" in content_type:
        return pq.read_table(pa.BufferReader(body)).to_pylist()
    if "arrow" in content_type:
        return pa.ipc.open_stream(body).read_all().to_pylist()
    raise ValueError(f"unknown content type {content_type!r}")


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if "--tls" in sys.argv:
        cert, key = sys.argv[sys.argv.index("--tls") + 1 : sys.argv.index("--tls") + 3]
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        if "--client-ca" in sys.argv:  # mutual TLS: only clients holding such a certificate
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(sys.argv[sys.argv.index("--client-ca") + 1])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
