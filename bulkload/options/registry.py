"""Every option of every command, declared once, and the queries over them.

An :class:`~bulkload.config.option.Option` says everything about one option: its name
(the Python identifier, the TOML profile key and the ``BULKLOAD_<NAME>`` variable), its
flags, its help text and panel, the validator that turns what the user wrote into a
typed value, the commands that take it, and the config model field it fills (whose
default is its default). From these come the typer parameters of ``import`` and
``bench`` (made by bulkload/cli.py, the only module that knows typer), the keys a
profile may hold, and the validated values the builders (:mod:`.build`) assemble.

The shared options are in :mod:`.declared`; each backend declares its own next to its
code and is listed in ``BACKEND_OPTIONS`` (a backend's options fill fields of
``TargetOptions``). Imported by ``bulkload --help``: standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bulkload.backends import http_options, postgresql_options, sqlite_options
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
    SOURCE,
    SWEEP,
    TARGET,
)

# The built-in backends' own options, by backend name, in the order of their panels.
BACKEND_OPTIONS: dict[str, tuple[Option, ...]] = {
    "sqlite": sqlite_options.OPTIONS,
    "postgresql": postgresql_options.OPTIONS,
    "http": http_options.OPTIONS,
}

# The order of the groups is the order of the panels in --help.
OPTIONS: tuple[Option, ...] = (
    *TARGET,
    *(option for declared in BACKEND_OPTIONS.values() for option in declared),
    *SOURCE,
    *CSV,
    *SWEEP,
    *GATES,
    *PROCESSES,
    *CLUSTER,
    *ENGINE,
    *ERRORS,
    *OUTPUT,
)

_BY_NAME = {option.name: option for option in OPTIONS}
assert len(_BY_NAME) == len(OPTIONS), "an option is declared twice"


# ----------------------------------------------------------------------------- queries


def options_for(command: str) -> tuple[Option, ...]:
    return tuple(option for option in OPTIONS if command in option.commands)


def profile_keys(command: str) -> frozenset[str]:
    """The keys a profile (or a config builder's mapping) may hold for ``command``."""
    return frozenset(option.name for option in options_for(command) if option.in_profile)


def commands_of(name: str) -> frozenset[str]:
    option = _BY_NAME.get(name)
    return option.commands if option else frozenset()


def help_of(name: str) -> str:
    """An option's help (with its default), for commands that declare it by hand."""
    return _BY_NAME[name].full_help


def default_of(name: str) -> Any:
    """The typed default of an option: its config model field's."""
    return _BY_NAME[name].default


@dataclass(frozen=True)
class Resolved:
    """Every option of a command, validated: ``values`` by dataclass field (defaults
    filled in), and the fields the user set (in any layer) in ``given``."""

    values: dict[str, Any]
    given: frozenset[str]


def resolve(command: str, settings: Mapping[str, Any]) -> Resolved:
    """Validate ``settings`` (option name -> value as written; None: not set)."""
    known = profile_keys(command)
    unknown = sorted(set(settings) - known)
    if unknown:
        raise UsageError(f"unknown option(s): {', '.join(unknown)}")
    values: dict[str, Any] = {}
    given: set[str] = set()
    for option in options_for(command):
        if not option.in_profile:
            continue
        raw = settings.get(option.name)
        if raw is not None:
            given.add(option.target)
        values[option.target] = option.value(raw)
    return Resolved(values, frozenset(given))


def flags_of(*fields: str) -> list[str]:
    """The flags of the options that fill these fields, for messages."""
    by_field = {option.target: option.flag for option in OPTIONS}
    return [by_field[name] for name in fields]


class _Registry:
    """This module, as :func:`bulkload.config.profiles.load_profile` asks for it."""

    profile_keys = staticmethod(profile_keys)
    commands_of = staticmethod(commands_of)


def load_profile(path: str | Path, section: str) -> dict[str, Any]:
    """The options a TOML profile sets for the command ``section`` (checked against the
    options declared here)."""
    return profiles.load_profile(path, section, _Registry())
