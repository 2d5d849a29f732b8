"""Which batches of which files are committed, so ``--resume`` can skip them.

A batch is identified by its file's fingerprint (path, size, modification time, and
how a CSV file is cut into rows when that is not the default), the batch size, its
index in the file, and a row range inside it (a batch split to isolate
bad rows commits in pieces). The checkpoint file is JSON, rewritten atomically at most
once a second and at the end. SQL backends also record every key in the same
transaction as the rows (see :class:`BatchKey`), which makes resume exactly-once even
after a kill -9; for other backends the file is the record and resume is at-least-once.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from bulkload.backends.base import BatchKey
from bulkload.config import CsvOptions
from bulkload.errors import UsageError
from bulkload.sources.discovery import STDIN, SourceFile

FORMAT_VERSION = 1


#: the CSV options that decide which rows batch n of a file holds, as the command line
#: names them: a resume reading another way would pass rows over or load them twice
_READING = {
    "skip_rows": "--skip-rows",
    "header": "--header/--no-header",
    "columns": "--columns",
    "delimiter": "--delimiter",
    "quote_char": "--quote-char",
    "encoding": "--encoding",
}


def reading_of(csv: CsvOptions) -> dict[str, object]:
    """How this run cuts CSV files into rows: the options of :data:`_READING` that are
    not their defaults (empty for a run that reads the default way)."""
    default = CsvOptions()
    chosen: dict[str, object] = {}
    for name in _READING:
        value = getattr(csv, name)
        if value != getattr(default, name):
            chosen[name] = list(value) if isinstance(value, tuple) else value
    return chosen


def reading_key(reading: dict[str, object]) -> str:
    """A short digest of :func:`reading_of` for batch keys ('' for the default way, so
    keys recorded before it was part of them still match)."""
    if not reading:
        return ""
    text = json.dumps(reading, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def fingerprint(source: SourceFile, reading: str = "") -> str:
    """Identifies a file's content well enough to notice it changed, and (``reading``,
    from :func:`reading_key`) the way it was cut into rows."""
    if source.path == STDIN:
        raise UsageError("--checkpoint and --resume need files: stdin cannot be resumed")
    return _key_source(os.path.abspath(source.path), source.size, source.mtime_ns, reading)


def _key_source(path: str, size: object, mtime_ns: object, reading: str) -> str:
    """A fingerprint from its parts: ``path|size|mtime``, then ``~reading`` if any."""
    mark = f"~{reading}" if reading else ""
    return f"{path}|{size}|{mtime_ns}{mark}"


def _file_and_reading(key_source: str) -> tuple[str, str]:
    """A key's fingerprint split into the file's part and its reading key."""
    head, _, tail = key_source.rpartition("|")  # tail: the mtime, then the reading key
    mtime, _, reading = tail.partition("~")
    return f"{head}|{mtime}", reading


def _readings_differ(ours: dict[str, object], theirs: dict[str, object]) -> str:
    names = sorted(set(ours) | set(theirs), key=list(_READING).index)
    return ", ".join(_READING[name] for name in names if ours.get(name) != theirs.get(name))


class Committed:
    """Committed row ranges per (fingerprint, batch index)."""

    def __init__(self, keys: Iterable[BatchKey] = ()):
        self._ranges: dict[tuple[str, int], list[tuple[int, int]]] = defaultdict(list)
        for key in keys:
            self.add(key)

    def add(self, key: BatchKey) -> None:
        self._ranges[(key.source, key.index)].append((key.offset, key.count))

    def uncovered(self, source: str, index: int, rows: int) -> list[tuple[int, int]]:
        """The (offset, count) stretches of a batch of ``rows`` rows not yet committed."""
        done = sorted(self._ranges.get((source, index), ()))
        if not done:
            return [(0, rows)]
        gaps: list[tuple[int, int]] = []
        cursor = 0
        for offset, count in done:
            if offset > cursor:
                gaps.append((cursor, offset - cursor))
            cursor = max(cursor, offset + count)
        if cursor < rows:
            gaps.append((cursor, rows - cursor))
        return gaps

    def all_keys(self) -> list[BatchKey]:
        return [
            BatchKey(source, index, offset, count)
            for (source, index), ranges in self._ranges.items()
            for offset, count in ranges
        ]

    def __len__(self) -> int:
        return sum(len(r) for r in self._ranges.values())

    def __bool__(self) -> bool:
        # Reader threads ask this while the loop's thread records keys: testing the dict
        # is atomic, iterating it (__len__) raised "dictionary changed size during
        # iteration" under --resume with small batches.
        return bool(self._ranges)


def if_exists_for(if_exists: str, committed: Committed) -> str:
    """``--if-exists`` applies to the run that starts a load, not to one that resumes it:
    once the checkpoint records committed rows, replace or truncate would empty the table
    of the rows the resumed run skips (and fail would refuse the table it created), so a
    resumed run appends. Without recorded progress, nothing is skipped: it applies."""
    return "append" if committed else if_exists


def _batches(count: int) -> str:
    return f"{count} committed batch{'' if count == 1 else 'es'}"


def check_recorded_keys(
    keys: list[BatchKey],
    *,
    batch_size: int,
    resume: bool,
    table: str,
    target: str,
    files: Iterable[SourceFile] = (),
    reading: str = "",
) -> None:
    """What a target's bookkeeping (its keys for ``table``) allows this run to do.

    ``--resume``: the keys' batch indexes count batches of the size they were recorded
    with; read against other batches they would pass rows over or load them twice, so
    another ``--batch-size`` is refused. Without ``--resume`` (a load starting over,
    appending): the target would skip every batch it records as committed while the run
    counted it loaded, so recorded keys are refused too. (replace and truncate forget
    them as they empty the table, and a table created anew has none.)

    A key of one of ``files`` whose rows were cut another way (``reading``: this run's
    :func:`reading_key`) is refused for the same reason as another batch size."""
    if resume:
        sizes = sorted({k.batch_size for k in keys if k.batch_size not in (None, batch_size)})
        if sizes:
            raise UsageError(
                f"--resume: {target} records the batches of table {table!r} with "
                f"--batch-size {sizes[0]}, not {batch_size}: resume with --batch-size "
                f"{sizes[0]} (or start over after bulkload forget-checkpoints)"
            )
        ours = {fingerprint(file) for file in files}
        for key in keys:
            file, theirs = _file_and_reading(key.source)
            if file in ours and theirs != reading:
                raise UsageError(
                    f"--resume: {target} records batches of {file.rsplit('|', 2)[0]} read "
                    "with other CSV options than this run's (--skip-rows, --header, "
                    "--columns, --delimiter, --quote-char or --encoding): resume with the "
                    "options of the run that started the load"
                )
        return
    if keys:
        raise UsageError(
            f"--checkpoint: {target} records {_batches(len(keys))} of an earlier load into "
            f"table {table!r}: pass --resume to continue it, or start over after "
            f"bulkload forget-checkpoints --to URL --table {table} (or with --if-exists "
            "replace or truncate)"
        )


class CheckpointFile:
    """The ``--checkpoint PATH`` file."""

    def __init__(
        self,
        path: str | Path,
        *,
        table: str,
        batch_size: int,
        reading: dict[str, object] | None = None,
    ):
        self.path = Path(path)
        self.table = table
        self.batch_size = batch_size
        #: how CSV files are cut into rows (:func:`reading_of`); None: as recorded (a
        #: reader of the file that does not resume from it)
        self.reading = reading
        self.committed = Committed()
        self._sources: dict[str, dict[str, object]] = {}
        self._dirty = False

    def load(self, sources: list[SourceFile]) -> Committed:
        """Read an existing checkpoint for ``--resume`` and check it still applies."""
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return self.committed
        except (OSError, ValueError) as exc:
            raise UsageError(f"--checkpoint {self.path}: unreadable checkpoint: {exc}") from None
        if document.get("version") != FORMAT_VERSION:
            raise UsageError(f"--checkpoint {self.path}: unknown checkpoint version")
        if document.get("batch_size") != self.batch_size:
            raise UsageError(
                f"--checkpoint {self.path} was written with --batch-size "
                f"{document.get('batch_size')}; resume with the same batch size"
            )
        recorded_reading = document.get("reading", {})
        if self.reading is None:
            self.reading = recorded_reading
        elif recorded_reading != self.reading:
            raise UsageError(
                f"--checkpoint {self.path} was written by a run reading CSV with other "
                f"{_readings_differ(self.reading, recorded_reading)}: resume with the "
                "options of the run that started the load"
            )
        if document.get("table") != self.table:
            raise UsageError(
                f"--checkpoint {self.path} belongs to table {document.get('table')!r}, "
                f"not {self.table!r}"
            )
        recorded = document.get("sources", {})
        for source in sources:
            path = os.path.abspath(source.path)
            entry = recorded.get(path)
            if entry and (entry.get("size"), entry.get("mtime_ns")) != (
                source.size,
                source.mtime_ns,
            ):
                raise UsageError(
                    f"{source.path} changed since the checkpoint was written (size or "
                    "modification time differ): refusing to resume; start over without --resume"
                )
        reading = reading_key(self.reading)
        for path, entry in recorded.items():
            self._sources[path] = {"size": entry["size"], "mtime_ns": entry["mtime_ns"]}
            key_source = _key_source(path, entry["size"], entry["mtime_ns"], reading)
            for index, offset, count in entry.get("committed", []):
                self.committed.add(BatchKey(key_source, index, offset, count))
        return self.committed

    def check_fresh_start(self, if_exists: str) -> None:
        """A run without ``--resume`` would overwrite the file: refuse when it records
        committed batches and the run appends to their rows (a forgotten ``--resume``).
        ``--if-exists replace`` or ``truncate`` start the load over: then it may go."""
        if if_exists in ("replace", "truncate"):
            return
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
            recorded = sum(len(e.get("committed", [])) for e in document["sources"].values())
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return  # no file, or not one of ours with progress in it: nothing to lose
        if recorded:
            raise UsageError(
                f"--checkpoint {self.path} records {_batches(recorded)} of an earlier "
                "load: pass --resume to continue it, or delete the file to start over "
                "(or use --if-exists replace or truncate)"
            )

    def record(self, key: BatchKey) -> None:
        self.committed.add(key)
        path, size, mtime = _file_and_reading(key.source)[0].rsplit("|", 2)
        self._sources.setdefault(path, {"size": int(size), "mtime_ns": int(mtime)})
        self._dirty = True

    def save(self) -> None:
        """Write atomically: a crash mid-write leaves the previous checkpoint intact."""
        if not self._dirty and self.path.exists():
            return
        text = self._render()
        directory = self.path.parent if str(self.path.parent) else Path(".")
        try:
            with tempfile.NamedTemporaryFile(
                "w", dir=directory, prefix=".checkpoint-", delete=False, encoding="utf-8"
            ) as tmp:
                tmp.write(text)
            os.replace(tmp.name, self.path)
        except OSError as exc:
            raise UsageError(f"--checkpoint: cannot write {self.path}: {exc.strerror}") from None
        self._dirty = False

    async def save_async(self) -> None:
        """``save`` without blocking the event loop (the periodic save during a run)."""
        if not self._dirty and self.path.exists():
            return
        self._dirty = False
        text = self._render()
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        import aiofiles  # imported by the first run with --checkpoint
        import aiofiles.os

        try:
            async with aiofiles.open(temporary, "w", encoding="utf-8") as fh:
                await fh.write(text)
            await aiofiles.os.replace(temporary, self.path)
        except OSError as exc:
            self._dirty = True
            raise UsageError(f"--checkpoint: cannot write {self.path}: {exc.strerror}") from None

    def _render(self) -> str:
        per_source: dict[str, list[list[int]]] = defaultdict(list)
        for key in self.committed.all_keys():
            per_source[key.source.rsplit("|", 2)[0]].append([key.index, key.offset, key.count])
        document = {
            "version": FORMAT_VERSION,
            "table": self.table,
            "batch_size": self.batch_size,
            "reading": self.reading or {},
            "sources": {
                path: {**meta, "committed": sorted(per_source.get(path, []))}
                for path, meta in self._sources.items()
            },
        }
        return json.dumps(document)
