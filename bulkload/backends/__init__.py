"""Pluggable targets, found through the ``bulkload.backends`` entry-point group.

A third-party package adds a backend by declaring, in its pyproject.toml::

    [project.entry-points."bulkload.backends"]
    mystore = "mypackage.backend:MyStoreBackend"

where ``MyStoreBackend(url, target_options)`` satisfies :class:`Backend` and lists the
URL schemes it serves in ``schemes``. The built-in backends register the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any
from urllib.parse import urlsplit

from bulkload.backends.base import Backend, BackendFactory, ErrorKind, TableSpec
from bulkload.config import TargetOptions
from bulkload.errors import UsageError

ENTRY_POINT_GROUP = "bulkload.backends"

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


def available_backends() -> list[BackendInfo]:
    """Every installed backend, loaded, with the schemes it serves."""
    found = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = ep.dist.name if ep.dist else None
        try:
            factory: BackendFactory = ep.load()
            found.append(BackendInfo(ep.name, tuple(factory.schemes), ep.value, dist))
        except Exception as exc:  # a broken plug-in must not break the others
            found.append(BackendInfo(ep.name, (), ep.value, dist, f"{type(exc).__name__}: {exc}"))
    return found


def create_backend(options: TargetOptions) -> Backend:
    """Build the backend that serves the target URL's scheme."""
    scheme = urlsplit(options.url).scheme.lower()
    if not scheme:
        raise UsageError(f"--to needs a URL such as sqlite:///out.db, got {options.url!r}")
    base_scheme = scheme.split("+", 1)[0]
    # The entry point named like the scheme first: loading a backend imports its driver,
    # and an SQLite run need not pay for importing asyncpg. Then the rest, for aliases.
    candidates = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name != base_scheme)
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


def _cannot_load(name: str, dist: Any, error: Exception) -> str:
    """One line naming the backend, the missing module and what to install."""
    package = dist.name if dist is not None else "the package that declares it"
    if isinstance(error, ModuleNotFoundError) and error.name:
        return (
            f"the {name!r} backend cannot be loaded: module {error.name!r} is missing "
            f"(install the package that provides it, or reinstall {package})"
        )
    text = (str(error).strip() or type(error).__name__).splitlines()[0]
    return f"the {name!r} backend cannot be loaded: {type(error).__name__}: {text}"
