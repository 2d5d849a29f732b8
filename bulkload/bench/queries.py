"""A query level's operations: the ``--query`` set (one query, or several weighted),
each prepared on the target before the sweep, with values for its parameters.

A query the target refuses (syntax, a missing table or column) or one whose parameter
has no values is a :class:`~bulkload.errors.UsageError` naming the query, raised before
any level runs. At run time, a failed query is an error of its operation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from bulkload.backends.base import Backend, Queryable
from bulkload.backends.query import Query
from bulkload.bench.weighted import weighted_cycle
from bulkload.engine.batch_writer import one_line
from bulkload.errors import BulkloadError, UsageError
from bulkload.sources.params import FileValues, SyntheticValues, ValueSource, parse_params_synthetic


@dataclass(frozen=True, kw_only=True)
class QueryWorkload:
    """What ``--query``, ``--params-synthetic`` and ``--params`` describe."""

    queries: tuple[Query, ...]
    params_synthetic: str | None = None
    params_file: str | None = None
    #: a query's own source, by query name: "QUERY=file.csv" / "QUERY=id=zipf(...)" items
    query_params: tuple[str, ...] = ()
    query_synthetic: tuple[str, ...] = ()
    seed: int = 0
    #: --mix write=W,read=R: writes and queries in one level, in that ratio
    mix: tuple[float, float] | None = None

    def values(self) -> ValueSource | None:
        """The shared source: queries that name none of their own draw from it."""
        if self.params_synthetic and self.params_file:
            raise UsageError("--params and --params-synthetic exclude each other: give one")
        if self.params_synthetic:
            return SyntheticValues(parse_params_synthetic(self.params_synthetic), self.seed)
        if self.params_file:
            return FileValues(self.params_file)
        return None

    def own_values(self) -> dict[str, ValueSource]:
        """Each query's own source, by query name; a bad one is an error naming it."""
        own: dict[str, ValueSource] = {}
        by_name = {query.name: query for query in self.queries}

        def flag(name: str) -> str:  # what the user wrote it with
            query = by_name.get(name)
            return "--query" if query is None else _flag(query)

        for item in self.query_params:
            name, _, path = (part.strip() for part in item.partition("="))
            own[name] = FileValues(path, f"{flag(name)} {name}: params")
        for item in self.query_synthetic:
            name, _, spec = (part.strip() for part in item.partition("="))
            draws = parse_params_synthetic(spec, f"{flag(name)} {name}: params-synthetic")
            own[name] = SyntheticValues(draws, self.seed)
        return own


@dataclass
class _Member:
    name: str
    prepared: Any
    next_values: Callable[[], tuple[Any, ...]]


class QuerySet:
    """The prepared queries; ``next()`` picks one by weight with its next values."""

    def __init__(self, backend: Queryable, members: Sequence[_Member], weights: Sequence[float]):
        self._backend = backend
        self._members = list(members)
        self.names = tuple(member.name for member in members)
        self._weights = list(weights)
        #: which query runs next: spread evenly by weight (see .weighted)
        self._picks: Iterator[int] | None = None
        first = self._members[0]
        self._name, self._prepared, self._next_values = (
            first.name,
            first.prepared,
            first.next_values,
        )
        if len(self._members) > 1:
            self._picks = weighted_cycle(self._weights)

    def next(self) -> tuple[str, Any]:
        picks = self._picks
        if picks is None:  # one query: its parts at hand (a query's hot path)
            return self._name, (self._prepared, self._next_values())
        member = self._members[next(picks)]
        return member.name, (member.prepared, member.next_values())

    def run(self, item: Any) -> Awaitable[int]:
        prepared, values = item
        return self._backend.run(prepared, values)  # awaited by the driver: no frame here

    def fatal(self, error: Exception) -> bool:
        return isinstance(error, BulkloadError)


def queryable(backend: Backend) -> Queryable:
    if not isinstance(backend, Queryable):
        raise UsageError(f"--query: {backend.describe()} does not answer queries")
    return backend


async def prepare_queries(backend: Backend, workload: QueryWorkload) -> QuerySet:
    """Each query prepared once (checked against the target) and given its values."""
    target = queryable(backend)
    shared = workload.values()
    own = workload.own_values()
    names = [query.name for query in workload.queries]
    if len(set(names)) != len(names):
        raise UsageError(f"--query: two queries are named alike ({', '.join(names)})")
    members = []
    for query in workload.queries:
        flag = _flag(query)
        source = own.get(query.name, shared)
        given = "params" if query.name in own else "--params"
        if not query.sql:
            raise UsageError(f"{flag} {query.name}: the query is empty")
        missing = [n for n in query.parameters if source is None or n not in source.names]
        if missing:
            where = (
                "--params-synthetic or --params gives none"
                if source is None
                else (f"{_given(source, given)} gives {', '.join(source.names)}")
            )
            raise UsageError(f"{flag} {query.name}: no values for :{', :'.join(missing)} ({where})")
        try:
            prepared = await target.prepare(query)
        except BulkloadError:
            raise
        except Exception as exc:
            raise UsageError(f"{flag} {query.name}: {one_line(exc)}") from None
        stream = source.stream(query.parameters) if source and query.parameters else _no_values
        members.append(_Member(query.name, prepared, stream))
    return QuerySet(target, members, [query.weight for query in workload.queries])


def _flag(query: Query) -> str:
    """The option the query was given with, to name it in an error."""
    return "--request" if query.style == "request" else "--query"


def _given(source: ValueSource, option: str) -> str:
    """``--params ids.csv``, or ``params ids.csv`` for a query's own source."""
    return f"{option} {source.path}" if isinstance(source, FileValues) else f"{option}-synthetic"


def _no_values() -> tuple[Any, ...]:
    return ()
