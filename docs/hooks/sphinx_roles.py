"""A griffe extension for the library reference: bulkload's docstrings are written for
Sphinx (``:class:`~bulkload.RunStats```, ``by name::``), which mkdocstrings would show
as is. Roles become plain code (``RunStats``, the last part when ``~`` asks for it), and
a paragraph's closing ``::`` a colon (the indented block after it is code in Markdown
too)."""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Object

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|exc|data|obj|const):`(~?)([^`]+)`")
LITERAL_BLOCK = re.compile(r"(\S)::$", re.M)


def plain(docstring: str) -> str:
    def code(match: re.Match[str]) -> str:
        tilde, target = match.groups()
        return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"

    return LITERAL_BLOCK.sub(r"\1:", ROLE.sub(code, docstring))


class SphinxRoles(Extension):
    def on_object(self, *, obj: Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = plain(obj.docstring.value)
