"""Pluggable targets, found through the ``bulkload.backends`` entry-point group.

A third-party package adds a backend by declaring, in its pyproject.toml::

    [project.entry-points."bulkload.backends"]
    mystore = "mypackage.backend:MyStoreBackend"

where ``MyStoreBackend(url, target_options)`` satisfies :class:`Backend` and lists the
URL schemes it serves in ``schemes``, and its own options, if any, in ``own_options``
(declared with ``panel(title, Model, ...)``: the command line, profiles and ``bulkload
backends`` take them, and the backend reads ``target_options.own(name, Model)``).
The built-in backends register the same way; a run whose scheme is a built-in one finds
it in ``BUILT_IN`` instead, without importing importlib.metadata and scanning every
installed distribution (~15-20 ms of start-up).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bulkload.config import TargetOptions
from bulkload.errors import UsageError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoints

    from bulkload.backends.base import Backend, BackendFactory, ErrorKind, TableSpec
    from bulkload.config.option import Option

ENTRY_POINT_GROUP = "bulkload.backends"

# The shipped backends by scheme, as pyproject.toml registers them (a test keeps the two
# the same): "module:Class".
BUILT_IN = {
    "sqlite": "bulkload.backends.sqlite:SQLiteBackend",
    "null": "bulkload.backends.null:NullBackend",
    "sim": "bulkload.backends.sim:SimBackend",
    "postgresql": "bulkload.backends.postgresql:PostgresBackend",
    "postgres": "bulkload.backends.postgresql:PostgresBackend",
    "http": "bulkload.backends.http:HttpBackend",
    "https": "bulkload.backends.http:HttpBackend",
    "mysql": "bulkload.backends.mysql:MySQLBackend",
    "mariadb": "bulkload.backends.mysql:MySQLBackend",
}

__all__ = [
    "Backend",
    "BackendInfo",
    "ErrorKind",
    "TableSpec",
    "available_backends",
    "create_backend",
]


@dataclass(frozen=True, slots=True)
class BackendInfo:
    name: str
    schemes: tuple[str, ...]
    target: str  # "module:Class" the entry point names
    distribution: str | None
    error: str | None = None  # why it could not be loaded, if it could not
    options: tuple[Option, ...] = ()  # the backend's own options (its ``own_options``)


def available_backends(*, built_in: bool = True) -> list[BackendInfo]:
    """Every installed backend (or only those not built in), loaded, with the schemes it
    serves."""
    found = []
    shipped = set(BUILT_IN.values())
    for ep in sorted(_entry_points(), key=lambda e: e.name):
        if not built_in and ep.value in shipped:
            continue
        dist = ep.dist.name if ep.dist else None
        try:
            factory: BackendFactory = ep.load()
            own = tuple(getattr(factory, "own_options", ()))
            found.append(BackendInfo(ep.name, tuple(factory.schemes), ep.value, dist, None, own))
        except Exception as exc:  # a broken plug-in must not break the others
            found.append(BackendInfo(ep.name, (), ep.value, dist, f"{type(exc).__name__}: {exc}"))
    return found


def create_backend(options: TargetOptions) -> Backend:
    """Build the backend that serves the target URL's scheme."""
    scheme = urlsplit(options.url).scheme.lower()
    if not scheme:
        raise UsageError(f"--to needs a URL such as sqlite:///out.db, got {options.url!r}")
    base_scheme = scheme.split("+", 1)[0]
    if base_scheme in BUILT_IN:
        return _built_in(base_scheme)(options.url, options)
    # The entry point named like the scheme first: loading a backend imports its driver,
    # and an SQLite run need not pay for importing asyncpg. Then the rest, for aliases.
    candidates = sorted(_entry_points(), key=lambda e: e.name != base_scheme)
    broken: list[str] = []
    for ep in candidates:
        try:
            factory: BackendFactory = ep.load()
        except Exception as exc:
            if ep.name == base_scheme:  # the backend for this scheme: say why it is missing
                raise UsageError(f"--to: {_cannot_load(ep.name, ep.dist, exc)}") from None
            broken.append(_cannot_load(ep.name, ep.dist, exc))
            continue
        if base_scheme in factory.schemes:
            return factory(options.url, options)
    known = sorted({s for info in available_backends() for s in info.schemes})
    unloadable = f"; {'; '.join(broken)}" if broken else ""
    raise UsageError(f"--to: unknown scheme {scheme!r} (installed: {', '.join(known)}){unloadable}")


def _built_in(scheme: str) -> BackendFactory:
    module, _, name = BUILT_IN[scheme].partition(":")
    try:
        factory: BackendFactory = getattr(importlib.import_module(module), name)
    except Exception as exc:  # its driver is missing or broken: say which, in one line
        raise UsageError(f"--to: {_cannot_load(scheme, None, exc, 'bulkload')}") from None
    return factory


def _entry_points() -> EntryPoints:
    from importlib.metadata import entry_points

    return entry_points(group=ENTRY_POINT_GROUP)


def _cannot_load(name: str, dist: Any, error: Exception, package: str | None = None) -> str:
    """One line naming the backend, the missing module and what to install."""
    if dist is not None:
        package = dist.name
    package = package or "the package that declares it"
    if isinstance(error, ModuleNotFoundError) and error.name:
        return (
            f"the {name!r} backend cannot be loaded: module {error.name!r} is missing "
            f"(install the package that provides it, or reinstall {package})"
        )
    text = (str(error).strip() or type(error).__name__).splitlines()[0]
    return f"the {name!r} backend cannot be loaded: {type(error).__name__}: {text}"


def __getattr__(name: str) -> Any:
    """The protocol's names, from base.py when first asked for: the option declarations
    beside the backends (``*_options.py``) are read by ``--help``, which must not load
    pyarrow or asyncio through this package."""
    if name in ("Backend", "ErrorKind", "TableSpec"):
        from bulkload.backends import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
