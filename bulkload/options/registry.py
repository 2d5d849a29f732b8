"""Every option of every command, declared once, and the queries over them.

An :class:`~bulkload.config.option.Option` says everything about one option: its name
(the Python identifier, the TOML profile key and the ``BULKLOAD_<NAME>`` variable), its
flags, its help text and panel, the validator that turns what the user wrote into a
typed value, the commands that take it, and the config model field it fills (whose
default is its default). From these come the command-line parameters of ``import``
and ``bench`` (made by :mod:`bulkload.cli.params`), the keys a
profile may hold, and the validated values the builders (:mod:`.build`) assemble.

The shared options are in :mod:`.declared`; each backend declares its own next to its
code, filling its own model (``TargetOptions.backends[name]``), and is listed in
``BACKEND_OPTIONS``: the built-in ones always, an installed plug-in's once
:func:`add_installed_options` has scanned the entry points (only when a command may need
it: scanning costs tens of milliseconds). Imported by ``bulkload --help``: standard
library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bulkload.backends import http_options, mysql_options, postgresql_options, sqlite_options
from bulkload.config import profiles
from bulkload.config.option import Option
from bulkload.errors import UsageError
from bulkload.options.declared import (
    CLUSTER,
    CSV,
    ENGINE,
    ERRORS,
    GATES,
    OUTPUT,
    PROCESSES,
    QUERIES,
    SOURCE,
    SWEEP,
    TARGET,
)

# The backends' own options, by backend name (the entry point's), in the order of their
# panels; each backend's fill one model of its own.
BACKEND_OPTIONS: dict[str, tuple[Option, ...]] = {
    "sqlite": sqlite_options.OPTIONS,
    "postgresql": postgresql_options.OPTIONS,
    "mysql": mysql_options.OPTIONS,
    "http": http_options.OPTIONS,
}

# The built-in options. The order of the groups is the order of the panels in --help.
OPTIONS: tuple[Option, ...] = (
    *TARGET,
    *(option for declared in BACKEND_OPTIONS.values() for option in declared),
    *SOURCE,
    *CSV,
    *SWEEP,
    *QUERIES,
    *GATES,
    *PROCESSES,
    *CLUSTER,
    *ENGINE,
    *ERRORS,
    *OUTPUT,
)

_BY_NAME = {option.name: option for option in OPTIONS}
assert len(_BY_NAME) == len(OPTIONS), "an option is declared twice"
_OWNER = {option.name: name for name, declared in BACKEND_OPTIONS.items() for option in declared}
_installed: list[Option] = []  # installed backends' options, once scanned
_scanned = False
#: installed backends whose options were refused, and why
REFUSED: dict[str, str] = {}


# ----------------------------------------------------------------------------- queries


def declared_options() -> tuple[Option, ...]:
    """Every option declared: the built-in ones, then those of installed backends if
    :func:`add_installed_options` has run. Each says its flags, help (``full_help``),
    default (``default``, ``shown_default``) and commands."""
    return (*OPTIONS, *_installed)


def options_for(command: str) -> tuple[Option, ...]:
    return tuple(option for option in declared_options() if command in option.commands)


def profile_keys(command: str) -> frozenset[str]:
    """The keys a profile (or a config builder's mapping) may hold for ``command``."""
    return frozenset(option.name for option in options_for(command) if option.in_profile)


def commands_of(name: str) -> frozenset[str]:
    option = _BY_NAME.get(name)
    return option.commands if option else frozenset()


def help_of(name: str) -> str:
    """An option's help (with its default), for commands that declare it by hand."""
    return _BY_NAME[name].full_help


def add_installed_options() -> bool:
    """Learn the options of the installed backends that are not built in (the
    ``bulkload.backends`` entry points), once per process; True when some were added. A
    backend whose options clash with declared ones, or fill no model, is refused (in
    ``REFUSED``) and the others still count."""
    global _scanned
    if _scanned:
        return False
    _scanned = True
    from bulkload.backends import available_backends

    before = len(_installed)
    for info in available_backends(built_in=False):
        if info.options and info.name not in BACKEND_OPTIONS:
            problem = _clash(info.options)
            if problem:
                REFUSED[info.name] = problem
                continue
            BACKEND_OPTIONS[info.name] = info.options
            _installed.extend(info.options)
            _BY_NAME.update((option.name, option) for option in info.options)
            _OWNER.update((option.name, info.name) for option in info.options)
    return len(_installed) > before


def _clash(options: tuple[Option, ...]) -> str | None:
    """Why a plug-in's options cannot be added, if they cannot."""
    if len({option.model for option in options}) != 1 or options[0].model is None:
        return "its options must fill one model: declare them with panel(title, Model, ...)"
    taken = {spelling for option in declared_options() for spelling in option.spellings}
    for option in options:
        if option.name in _BY_NAME or taken.intersection(option.spellings):
            return f"option {option.flag} is already declared"
    return None


@dataclass(frozen=True)
class Resolved:
    """Every option of a command, validated: ``values`` by dataclass field (defaults
    filled in), the fields the user set (in any layer) in ``given``, and each backend's
    options object, for the backends some option was set for, in ``backends``."""

    values: dict[str, Any]
    given: frozenset[str]
    backends: dict[str, object]


def resolve(command: str, settings: Mapping[str, Any]) -> Resolved:
    """Validate ``settings`` (option name -> value as written; None: not set)."""
    unknown = set(settings) - profile_keys(command)
    if unknown and add_installed_options():  # an installed backend's options?
        unknown -= profile_keys(command)
    if unknown:
        raise UsageError(f"unknown option(s): {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    given: set[str] = set()
    own: dict[str, dict[str, Any]] = {}
    for option in options_for(command):
        if not option.in_profile:
            continue
        raw = settings.get(option.name)
        backend = _OWNER.get(option.name)
        if backend is None:
            values[option.target] = option.value(raw)
            if raw is not None:
                given.add(option.target)
        elif raw is not None:  # a backend's own: the rest keep its model's defaults
            own.setdefault(backend, {})[option.target] = option.value(raw)
    models: dict[str, Any] = {name: BACKEND_OPTIONS[name][0].model for name in own}
    backends = {name: models[name](**fields) for name, fields in own.items()}
    return Resolved(values, frozenset(given), backends)


def flags_of(*fields: str) -> list[str]:
    """The flags of the options that fill these fields, for messages."""
    by_field = {option.target: option.flag for option in declared_options()}
    return [by_field[name] for name in fields]


def load_profile(path: str | Path, section: str) -> dict[str, Any]:
    """The options a TOML profile sets for the command ``section`` (checked against the
    options declared here)."""
    from bulkload.options import registry  # this module: the profile's ``Declared``

    return profiles.load_profile(path, section, registry)
