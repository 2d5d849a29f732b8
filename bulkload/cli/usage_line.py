"""The error line of a bad command line: click's message, except for the flags people
bring from other tools, which name the option bulkload has for them (click's own
suggestions go by spelling: for --profile, --processes and --progress)."""

from __future__ import annotations

#: a flag bulkload does not have -> what to give instead
MEANT = {
    "--profile": "a profile is a TOML file, given with --config FILE",
}


def usage_line(error: Exception, message: str) -> str:
    """The line for ``error`` (a click usage error) whose own text is ``message``."""
    name = getattr(error, "option_name", None)  # click's NoSuchOption
    if isinstance(name, str) and name in MEANT:
        return f"No such option: {name}: {MEANT[name]} (see --help)"
    return f"{message} (see --help)"
