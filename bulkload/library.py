"""``bulkload.load(...)`` and ``bulkload.load_async(...)``: an import from Python, with
the command line's options as typed keywords (:mod:`bulkload.config.keywords`), or an
:class:`~bulkload.ImportConfig`. Cheap to import: the package imports it eagerly."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Unpack

if TYPE_CHECKING:  # the config models at run time: `bulkload --version` imports this module
    from bulkload.config import ImportConfig
    from bulkload.config.keywords import LoadKeywords
    from bulkload.engine import RejectionSink
    from bulkload.stats.run import RunStats

#: what ``load`` reads: a path, a glob, a directory or "-" (stdin), or a list of them
Paths = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


def import_config(source: Paths | ImportConfig, options: Mapping[str, Any]) -> ImportConfig:
    """``source`` and keyword options as one checked ``ImportConfig`` (or the config
    given): each keyword validated as its command-line option is, defaults the model's."""
    from bulkload.config import ImportConfig
    from bulkload.config.keywords import CLI_ONLY, LoadKeywords, check_keywords

    if isinstance(source, ImportConfig):
        if options:
            raise TypeError(
                f"load(config) takes its options from the config, not as keywords too "
                f"(got {', '.join(sorted(options))}): use dataclasses.replace(config, ...)"
            )
        return source
    check_keywords(
        "load",
        options,
        allowed_keywords(frozenset(LoadKeywords.__optional_keys__) - CLI_ONLY, options, "import"),
    )
    from bulkload.options import build_import_config

    return build_import_config({**options, "paths": paths_of(source)})


def allowed_keywords(
    declared: frozenset[str], given: Mapping[str, Any], command: str
) -> frozenset[str]:
    """``declared``, and when ``given`` holds other keywords, the options installed
    backends declare for ``command`` (only then are the entry points scanned)."""
    if set(given) <= declared:
        return declared
    from bulkload.options import OPTIONS, add_installed_options, options_for

    add_installed_options()
    return declared | {option.name for option in options_for(command) if option not in OPTIONS}


def paths_of(source: Paths) -> list[str]:
    if isinstance(source, str | os.PathLike):
        return [os.fspath(source)]
    return [os.fspath(path) for path in source]


async def load_async(
    source: Paths | ImportConfig,
    /,
    *,
    on_reject: RejectionSink | None = None,
    **options: Unpack[LoadKeywords],
) -> RunStats:
    """:func:`load` on the running loop (it does not block it)."""
    from bulkload.load import load_async as run_import

    return await run_import(import_config(source, options), on_reject=on_reject)


def load(
    source: Paths | ImportConfig,
    /,
    *,
    on_reject: RejectionSink | None = None,
    **options: Unpack[LoadKeywords],
) -> RunStats:
    """Load ``source`` (a path, a glob, a directory or "-", or a list of them) and return
    the run's statistics; the options are the command line's, by name::

        bulkload.load("data.csv", to="sqlite:///x.db", table="t", concurrency=8)

    Every option of ``bulkload import`` is a keyword (see
    :class:`~bulkload.LoadKeywords`) except how the command line runs and shows a run
    (``processes``, ``cluster``, ``json``, ``progress``...); one left out takes the config
    model's default. An :class:`~bulkload.ImportConfig` may be passed instead
    (``load(config)``). Bad values raise :class:`~bulkload.UsageError`, an unknown
    keyword ``TypeError``. Rejected rows go to ``on_reject(rejection)`` if given, else to
    the bad-records file (``bad_records=``, or ``<table>.bad-records.csv``).

    It runs on the loop :mod:`bulkload.event_loop` chooses (uvloop's where installed).
    Called where an event loop already runs in this thread (a Jupyter notebook, async
    code), the import runs on a private loop thread while this call blocks, as
    ``execute_concurrent`` does; ``await load_async(...)`` does not block the loop."""
    from bulkload.engine.loop_thread import run_blocking
    from bulkload.load import load_async as run_import

    config = import_config(source, options)
    return run_blocking(run_import(config, on_reject=on_reject), "bulkload-load")
