"""Typer's commands and parameters as bulkload wants them: the parameters of ``import``
and ``bench`` generated from the options declared in :mod:`bulkload.options`, values
handed to the options' own validators as given, flags shown without a placeholder."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

from bulkload import event_loop
from bulkload.cli.error_line import errors_as_exit_codes
from bulkload.config.profiles import merge_options
from bulkload.options import Option, flag, load_profile, options_for

if TYPE_CHECKING:
    # typer >= 0.26 vendors click; only the types are needed
    from typer._click.core import Context as _Context
    from typer._click.core import Parameter as _Parameter


def flags_show_no_value(params: list[_Parameter]) -> list[_Parameter]:
    """Typer 0.29 shows every flag (even --help) as taking a ``<bool>`` value; flags take
    none, so their help shows no placeholder."""
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag:
            param.metavar = ""
    return params


#: what rich's help formatter would read as a style tag: ``[html]``, ``[/dask]``
_TAG = re.compile(r"(\\*)(\[[a-z#/@][^[]*?\])")


def as_written(help: str) -> str:
    """``help`` shown as written: typer renders help as rich markup, where the extras
    of ``pip install 'bulkload[html]'`` read as tags and vanish. (rich.markup.escape's
    rule, without importing rich for every command line.)"""
    return _TAG.sub(lambda match: f"{match[1]}{match[1]}\\{match[2]}", help)


class _AsGiven:
    """Typer (0.29) converts each value with a pydantic TypeAdapter, and importing
    pydantic takes longer than all of ``bulkload --version``. The options' validators
    (bulkload.options) check every value, from any layer, so the command-line text is
    handed to them as given. (Typer's own: a flag's bool.)"""

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        return value


def _values_as_given(params: list[_Parameter]) -> list[_Parameter]:
    for param in params:
        if hasattr(param, "_runtime_param"):  # typer >= 0.29; older typer uses click's types
            param._runtime_param = _AsGiven()
    return params


class Group(TyperGroup):
    """A group of commands (the root, ``report``): its flags (--version, --help) shown
    without a value placeholder."""

    def get_params(self, ctx: _Context) -> list[_Parameter]:
        return _values_as_given(flags_show_no_value(super().get_params(ctx)))


class Command(TyperCommand):
    def get_params(self, ctx: _Context) -> list[_Parameter]:
        return flags_show_no_value(super().get_params(ctx))


class _RegistryCommand(TyperCommand):
    """A command whose parameters come from bulkload.options."""

    def get_params(self, ctx: _Context) -> list[_Parameter]:
        return _values_as_given(flags_show_no_value(super().get_params(ctx)))


def registry_command(
    app: typer.Typer, name: str, run: Callable[[dict[str, Any]], int], help: str
) -> None:
    """Add command ``name`` to ``app``: its parameters are the options declared for it
    in bulkload.options; ``run`` gets the options set by profile, environment or flag
    and returns the exit code."""

    def command(**given: Any) -> None:
        config = given.pop("config")
        debug = flag(given.pop("debug") or False, "--debug")
        # typer passes a repeatable option that was not given as an empty list
        given = {key: None if value in ([], ()) else value for key, value in given.items()}
        with errors_as_exit_codes(debug):
            event_loop.choice()  # a bad BULKLOAD_EVENT_LOOP is bad usage, found first
            profile = load_profile(config, name) if config else {}
            raise typer.Exit(run(merge_options(profile, given)))

    _registered.append((name, command))
    _declare_parameters(name, command)
    app.command(name, cls=_RegistryCommand, help=help)(command)


_registered: list[tuple[str, Callable[..., None]]] = []


def refresh_parameters() -> None:
    """Regenerate the commands' parameters: the registry has learned more options (an
    installed backend's)."""
    for name, command in _registered:
        _declare_parameters(name, command)


def _declare_parameters(name: str, command: Callable[..., None]) -> None:
    command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [_parameter(option) for option in options_for(name)]
    )


def _parameter(option: Option) -> inspect.Parameter:
    """The typer parameter of one declared option; its default None means "not given",
    so that a profile can supply the value."""
    declared: Any
    if option.argument:
        declared = typer.Argument(None, help=as_written(option.help), show_default=False)
    else:
        declared = typer.Option(
            None,
            *option.flags,
            envvar=option.envvar,
            rich_help_panel=option.panel,
            help=as_written(option.full_help),
            show_default=False,
            metavar=option.metavar,
        )
    value_type: Any = option.cli_type
    if option.repeatable:
        value_type = list[value_type]
    return inspect.Parameter(
        option.name, inspect.Parameter.KEYWORD_ONLY, default=declared, annotation=value_type | None
    )
