"""The options of installed (entry-point) backends on the command line, learned only
when a run may use them.

Learning them means scanning every installed distribution's entry points (30-40 ms with
importlib.metadata's import), too much for every ``bulkload`` start. ``import`` and
``bench`` learn them when the command line gives a ``--flag``, or the environment a
``BULKLOAD_*`` variable, that no built-in option declares, or when ``--help`` is asked.
A profile's unknown keys are learned where the profile is read; a plug-in's scheme
without options of its own needs none (finding its backend scans anyway).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from bulkload.cli.params import refresh_parameters
from bulkload.options import add_installed_options, options_for

# BULKLOAD_* variables that are not options
_NOT_OPTIONS = frozenset({"BULKLOAD_EVENT_LOOP", "BULKLOAD_PHASE_TIMES"})


def learn_installed_options(args: Sequence[str]) -> None:
    """Before typer parses ``args`` (``import ...`` or ``bench ...``): add installed
    backends' options to the commands if the command line may use them."""
    if _may_use(args[0], args[1:]) and add_installed_options():
        refresh_parameters()


def _may_use(command: str, args: Sequence[str]) -> bool:
    declared = options_for(command)
    flags = {spelling for option in declared for spelling in option.spellings}
    for arg in args:
        if arg == "--":
            break
        name = arg.partition("=")[0]
        if name in ("--help", "-h") or (name.startswith("--") and name not in flags):
            return True
    variables = {option.envvar for option in declared} | _NOT_OPTIONS
    return any(name.startswith("BULKLOAD_") and name not in variables for name in os.environ)
