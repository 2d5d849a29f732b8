"""``execute_concurrent_queries`` / ``execute_concurrent_with_args``: run many queries
with bounded concurrency, one :class:`ExecutionResult` per query in input order, as
database drivers' ``execute_concurrent`` does for a prepared SELECT over many ids.

Each distinct statement is prepared once (then once per connection); a statement the
target refuses fails every query of it. ``result_or_exc`` holds the rows, a list of
dicts (column name -> value), or the exception. With ``raise_on_first_error``, the first
failure stops new queries and is raised once those in flight end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bulkload import event_loop
from bulkload.backends import create_backend
from bulkload.backends.base import Backend, Queryable
from bulkload.backends.query import Query
from bulkload.config import TargetOptions
from bulkload.engine.drain import Drain
from bulkload.engine.execute_concurrent import DEFAULT_CONCURRENCY, ExecutionResult
from bulkload.errors import UsageError
from bulkload.stats.run import RunStats

Statement = str | Query
Params = Mapping[str, Any] | Sequence[Any]


def execute_concurrent_queries(
    to: Backend | str,
    statements_and_params: Iterable[tuple[Statement, Params]],
    concurrency: int = DEFAULT_CONCURRENCY,
    raise_on_first_error: bool = True,
) -> list[ExecutionResult]:
    """Run each ``(statement, params)`` (``:name`` parameters, values by name or in
    order of first use) against ``to`` (a URL or a backend that answers queries)."""
    coro = execute_queries_async(to, statements_and_params, concurrency, raise_on_first_error)
    return event_loop.run(coro)


def execute_concurrent_with_args(
    to: Backend | str,
    statement: Statement,
    parameters: Iterable[Params],
    concurrency: int = DEFAULT_CONCURRENCY,
    raise_on_first_error: bool = True,
) -> list[ExecutionResult]:
    """One statement with each set of ``parameters``."""
    pairs = ((statement, params) for params in parameters)
    return execute_concurrent_queries(to, pairs, concurrency, raise_on_first_error)


async def execute_queries_async(
    to: Backend | str,
    statements_and_params: Iterable[tuple[Statement, Params]],
    concurrency: int = DEFAULT_CONCURRENCY,
    raise_on_first_error: bool = True,
) -> list[ExecutionResult]:
    if concurrency < 1:
        raise UsageError(f"concurrency must be at least 1, not {concurrency}")
    backend = create_backend(TargetOptions(url=to)) if isinstance(to, str) else to
    if not isinstance(backend, Queryable):
        raise UsageError(f"{backend.describe()} does not answer queries")
    items = list(statements_and_params)
    results: list[ExecutionResult | None] = [None] * len(items)
    await backend.open_for_queries(connections=concurrency, connect_timeout=None)
    try:
        prepared: dict[str, tuple[Query, Any]] = {}
        failed: list[BaseException] = []

        async def one(statement: Statement, params: Params) -> ExecutionResult:
            query = statement if isinstance(statement, Query) else Query(statement)
            try:
                if query.sql not in prepared:
                    prepared[query.sql] = (query, await backend.prepare(query))
                query, handle = prepared[query.sql]
                rows = await backend.fetch(handle, _values(query, params))
            except Exception as exc:  # a result of its own, in its place
                return ExecutionResult(False, exc)
            return ExecutionResult(True, rows)

        async def run(item: tuple[int, Statement, Params]) -> None:
            index, statement, params = item
            if failed and raise_on_first_error:
                return  # queued before the failure: not started
            result = results[index] = await one(statement, params)
            if not result.success:
                failed.append(result.result_or_exc)

        # the engine's one fan-out core: `concurrency` queries in flight, writers
        # started as they are needed, each taking the next query as its last ends
        drain: Drain[tuple[int, Statement, Params]] = Drain(
            run, writers=concurrency, depth=concurrency, stats=RunStats()
        )

        async def feed() -> None:
            try:
                for index, (statement, params) in enumerate(items):
                    if failed and raise_on_first_error:
                        return
                    if not await drain.put_async((index, statement, params)):
                        return
            finally:
                drain.close()

        await drain.run(feed())
    finally:
        await backend.close()
    if failed and raise_on_first_error:
        raise failed[0]
    return [result for result in results if result is not None]


def _values(query: Query, params: Params) -> tuple[Any, ...]:
    if isinstance(params, Mapping):
        missing = [name for name in query.parameters if name not in params]
        if missing:
            raise UsageError(f"no value for :{', :'.join(missing)} in {query.sql!r}")
        return tuple(params[name] for name in query.parameters)
    return tuple(params)
