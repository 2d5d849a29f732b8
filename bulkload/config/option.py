"""The declaration of one option: its name, flags, help, parser and the config model
field it fills. The default is not declared here: it is the model field's own default
(:mod:`bulkload.config.models`), so the library and the command line cannot disagree.

The registry (:mod:`bulkload.options`) lists the declarations; a backend declares its own
next to its code (``bulkload/backends/*_options.py``). Standard library only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from bulkload.config.parse import Parse
from bulkload.errors import UsageError

IMPORT = "import"
BENCH = "bench"
COMMANDS = (IMPORT, BENCH)
BOTH = frozenset(COMMANDS)
IMPORT_ONLY = frozenset({IMPORT})
BENCH_ONLY = frozenset({BENCH})


@dataclass(frozen=True, kw_only=True)
class Option:
    """One option. Everything else about it is derived from this declaration."""

    name: str  # Python identifier and profile key; BULKLOAD_<NAME> unless env=False
    flags: tuple[str, ...]  # "--batch-size", "-c"; a flag pair as "--wal/--no-wal"
    help: str
    parse: Parse  # validator: raises UsageError naming the flag
    # The config model whose field (``field`` or ``name``) the option fills: its default
    # is that field's default. None: no default (not set unless given).
    model: type | None = None
    # Its default is worked out by the config builder from other options (e.g. the
    # sweep's batch sizes from --batch-size): the model's default does not apply.
    derived: bool = False
    # The default as a user writes it ("64MB", "2s"), for --help, where the typed
    # default would read differently (a test checks it parses to the model's default).
    default_text: str | None = None
    default_help: str | None = None  # --help's text for a default that is not a value
    panel: str = ""  # set by the group the option is declared in
    commands: frozenset[str] = BOTH
    cli_type: type = str  # what the command line converts its text into first
    metavar: str | None = None
    env: bool = True
    repeatable: bool = False
    table: bool = False  # a profile may give it as a TOML table of name = value
    argument: bool = False  # positional on the command line
    in_profile: bool = True  # False: command line and environment only
    field: str | None = None  # the model field it fills, when not ``name``

    @property
    def flag(self) -> str:
        """The spelling errors use."""
        return self.flags[0].split("/")[0] if self.flags else self.name.upper()

    @property
    def spellings(self) -> tuple[str, ...]:
        """Every flag as typed: ``--wal`` and ``--no-wal`` for ``--wal/--no-wal``."""
        return tuple(spelling for flag in self.flags for spelling in flag.split("/"))

    @property
    def envvar(self) -> str | None:
        return f"BULKLOAD_{self.name.upper()}" if self.env else None

    @property
    def target(self) -> str:
        return self.field or self.name

    @property
    def default(self) -> Any:
        """The typed default: the model field's (None: not set)."""
        if self.model is None or self.derived:
            return None
        spec = {f.name: f for f in dataclasses.fields(self.model)}.get(self.target)
        if spec is None:
            return None
        if spec.default is not dataclasses.MISSING:
            return spec.default
        if spec.default_factory is not dataclasses.MISSING:
            return spec.default_factory()
        return None

    @property
    def full_help(self) -> str:
        """The help with the default. (The command line's own display of defaults cannot
        serve: every parameter's default there is None, "not given", so that a profile
        can supply the value.)"""
        shown = self.shown_default
        return self.help if shown is None else f"{self.help.removesuffix('.')} (default: {shown})."

    @property
    def shown_default(self) -> str | None:
        """The default as ``--help`` shows it, or None to show none."""
        if self.default_help is not None:
            return self.default_help
        if self.default_text is not None:
            return self.default_text
        default = self.default
        if default is None or default in ((), {}) or default is False:
            return None
        if default is True:  # a flag pair: its positive spelling
            return self.flags[0].split("/")[0]
        return str(default)

    def value(self, raw: Any) -> Any:
        """The typed value of ``raw`` (None: the default)."""
        if raw is None:
            return self.default
        if isinstance(raw, Mapping) and not self.table:  # a profile's [name] section
            raise UsageError(f"{self.flag} takes a value, not a table")
        return self.parse(raw, self.flag)


def panel(name: str, model: type | None, *options: Option) -> tuple[Option, ...]:
    """Options shown under one ``--help`` panel; those naming a field of ``model`` (and
    no model of their own) fill it and take its default."""
    names = {f.name for f in dataclasses.fields(model)} if model is not None else set()
    return tuple(
        replace(
            option,
            panel=name,
            model=option.model or (model if option.target in names else None),
        )
        for option in options
    )
