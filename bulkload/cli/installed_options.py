"""The options of installed (entry-point) backends on the command line, learned only
when a run may need them.

Learning them means scanning every installed distribution's entry points (30-40 ms with
importlib.metadata's import), too much for every ``bulkload`` start. ``import`` and
``bench`` learn them when the command line gives a ``--flag`` or the environment a
``BULKLOAD_*`` variable that no built-in option declares, when ``--help`` is asked, or
when the target's scheme is not a built-in backend's (finding that backend scans the
entry points anyway). A profile's unknown keys are learned where the profile is read.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from urllib.parse import urlsplit

from bulkload.backends import BUILT_IN
from bulkload.cli.params import refresh_parameters
from bulkload.options import add_installed_options, options_for

# BULKLOAD_* variables that are not options
_NOT_OPTIONS = frozenset({"BULKLOAD_EVENT_LOOP", "BULKLOAD_PHASE_TIMES"})


def learn_installed_options(args: Sequence[str]) -> None:
    """Before typer parses ``args`` (``import ...`` or ``bench ...``): add installed
    backends' options to the commands if the command line may use them."""
    if _may_need(args[0], args[1:]) and add_installed_options():
        refresh_parameters()


def _may_need(command: str, args: Sequence[str]) -> bool:
    declared = options_for(command)
    flags = {spelling for option in declared for spelling in option.spellings}
    variables = {option.envvar for option in declared} | _NOT_OPTIONS
    to = os.environ.get("BULKLOAD_TO", "")
    for i, arg in enumerate(args):
        if arg == "--":
            break
        name, _, value = arg.partition("=")
        if name in ("--help", "-h") or (name.startswith("--") and name not in flags):
            return True
        if name == "--to":
            to = value or (args[i + 1] if i + 1 < len(args) else "")
    if any(name.startswith("BULKLOAD_") and name not in variables for name in os.environ):
        return True
    try:
        scheme = urlsplit(to).scheme.lower().split("+", 1)[0]
    except ValueError:  # a malformed URL: --to's own check says so
        return False
    return bool(scheme) and scheme not in BUILT_IN
