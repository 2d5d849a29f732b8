"""A mkdocs hook: the command-line reference, generated from bulkload's option registry
at build time, so the page cannot drift from the code.

``docs/reference/cli.md`` holds the marker ``<!-- cli-reference -->``; this hook replaces
it with one section per help panel (a table of every option of ``import`` and ``bench``:
flags, help, default, commands, variable) and one per other command (from the typer app,
where those few options are declared). Only :func:`registry_options` reads the registry:
if the registry changes shape, that function is the one place to follow it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MARKER = "<!-- cli-reference -->"
PAGE = "reference/cli.md"


@dataclass(frozen=True)
class OptionRow:
    """One option as the reference shows it."""

    flags: tuple[str, ...]
    help: str
    default: str | None
    default_is_value: bool  # False: a description ("the backend's"), not a value to type
    commands: tuple[str, ...]
    panel: str
    envvar: str | None
    profile_key: str | None


def registry_options() -> list[OptionRow]:
    """Every option of ``import`` and ``bench``, in the registry's (``--help``'s) order.
    The one function that knows the registry's shape."""
    from bulkload.options import COMMANDS, OPTIONS

    rows = []
    for option in OPTIONS:
        flags = option.flags or (option.name.upper(),)
        rows.append(
            OptionRow(
                flags=flags,
                help=option.help,
                default=option.shown_default,
                default_is_value=option.default_help is None,
                commands=tuple(command for command in COMMANDS if command in option.commands),
                panel=option.panel,
                envvar=option.envvar,
                profile_key=option.name if option.in_profile and not option.argument else None,
            )
        )
    return rows


def _cell(text: str) -> str:
    """Text that stays inside one table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _code(text: str) -> str:
    return f"`{text}`".replace("|", "\\|")


def options_markdown(rows: list[OptionRow]) -> str:
    out: list[str] = []
    panels: dict[str, list[OptionRow]] = {}
    for row in rows:
        panels.setdefault(row.panel or "Other", []).append(row)
    for panel, members in panels.items():
        out += [f"### {panel}", ""]
        out += ["| option | default | commands | meaning |", "| --- | --- | --- | --- |"]
        for row in members:
            flags = ", ".join(_code(flag) for flag in row.flags)
            default = ""
            if row.default is not None:
                default = _code(row.default) if row.default_is_value else f"*{_cell(row.default)}*"
            where = []
            if row.envvar:
                where.append(f"variable {_code(row.envvar)}")
            if row.profile_key:
                where.append(f"profile key {_code(row.profile_key)}")
            meaning = _cell(row.help) + (f" ({'; '.join(where)})" if where else "")
            out.append(f"| {flags} | {default} | {' '.join(row.commands)} | {meaning} |")
        out.append("")
    return "\n".join(out)


def other_commands_markdown() -> str:
    """The commands whose few options are declared with typer itself."""
    import typer.main

    from bulkload.cli.root import app

    root = typer.main.get_command(app)
    out: list[str] = []
    for path, command in _commands(root, ("bulkload",)):
        if path[-1] in ("import", "bench"):
            continue
        out += [f"### `{' '.join(path)}`", ""]
        if command.help:
            out += [_cell(command.help.split("\n\n")[0]), ""]
        arguments = [p for p in command.params if p.param_type_name == "argument"]
        options = [p for p in command.params if p.param_type_name == "option"]
        if arguments:
            usage = " ".join(
                str(p.name).upper() + ("..." if p.nargs == -1 else "") for p in arguments
            )
            out += [f"Usage: `{' '.join(path)} [OPTIONS] {usage}`", ""]
        if options:
            out += ["| option | meaning |", "| --- | --- |"]
            for param in options:
                flags = ", ".join(_code(flag) for flag in (*param.opts, *param.secondary_opts))
                out.append(f"| {flags} | {_cell(getattr(param, 'help', None) or '')} |")
            out.append("")
    return "\n".join(out)


def _commands(group: Any, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], Any]]:
    found = []
    for name in sorted(group.commands):
        command = group.commands[name]
        if hasattr(command, "commands"):
            found += _commands(command, (*path, name))
        else:
            found.append(((*path, name), command))
    return found


def reference_markdown() -> str:
    return "\n".join(
        [
            "## `bulkload import` and `bulkload bench`",
            "",
            "Grouped by the panels of `--help`. *commands* says which of the two take an "
            "option; a repeatable option is given once per value.",
            "",
            options_markdown(registry_options()),
            "## Other commands",
            "",
            other_commands_markdown(),
        ]
    )


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    """mkdocs' hook: fill the marker of the CLI reference page."""
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise ValueError(f"{PAGE} lost its marker {MARKER}")
    return markdown.replace(MARKER, reference_markdown())
