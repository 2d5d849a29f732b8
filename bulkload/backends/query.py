"""Queries with named parameters (``:id``), one syntax for every target, translated to
each backend's own placeholders: ``$1`` (PostgreSQL), ``?`` (SQLite).

A name is ``:`` then a letter or ``_`` and word characters. Text inside '...' and
"..." is left alone, and so are ``::`` casts (``:id::bigint`` is the parameter ``id``
cast) and comments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PLACE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: ``${VAR}`` in a header's value: taken from the environment (not a parameter)
ENV_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class Query:
    """A query as written, with its name (for the output) and weight (in a set)."""

    sql: str  # or, for an HTTP request, "METHOD /path/{name} [BODY]"
    name: str = "query"
    weight: float = 1.0
    #: sql (``:name`` parameters) or request (``{name}`` in the path and body)
    style: str = "sql"
    #: a request: statuses outside 2xx that count as answered (--ok-status)
    ok_status: tuple[int, ...] = ()
    #: a request: its own headers, each "Name: value" ({name} filled from the parameters,
    #: ${VAR} from the environment) (--request-header)
    headers: tuple[str, ...] = ()

    @property
    def parameters(self) -> tuple[str, ...]:
        """The names it uses, each once, in order of first use."""
        if self.style == "request":
            headers = (ENV_VARIABLE.sub("", header) for header in self.headers)  # ${VAR}: no
            text = "\n".join((self.sql, *headers))
            return tuple(dict.fromkeys(_PLACE.findall(text)))
        return _split(self.sql)[1]

    def translate(self, style: str) -> tuple[str, tuple[int, ...]]:
        """The SQL with ``style``'s placeholders (``dollar``: $1, $2 numbered by name;
        ``qmark``: one ? per use), and for each placeholder in order the index of its
        value in :attr:`parameters`."""
        parts, names, uses = _split(self.sql)
        out = [parts[0]]
        order: list[int] = []
        for use, part in zip(uses, parts[1:], strict=True):
            index = names.index(use)
            if style == "dollar":
                out.append(f"${index + 1}")
            elif style == "qmark":
                out.append("?")
                order.append(index)
            else:
                raise ValueError(f"unknown placeholder style {style!r}")
            out.append(part)
        if style == "dollar":
            order = list(range(len(names)))
        return "".join(out), tuple(order)


def _split(sql: str) -> tuple[list[str], tuple[str, ...], list[str]]:
    """The text between parameters, the distinct names, and each use in order."""
    parts: list[str] = []
    uses: list[str] = []
    start = i = 0
    n = len(sql)
    while i < n:
        char = sql[i]
        if char in "'\"":  # a literal or a quoted identifier: up to its closing quote
            end = sql.find(char, i + 1)
            i = n if end < 0 else end + 1
        elif char == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif char == "/" and sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif char == ":" and sql.startswith("::", i):
            i += 2  # a cast
        elif char == ":" and (match := _NAME.match(sql, i + 1)):
            parts.append(sql[start:i])
            uses.append(match.group())
            i = start = match.end()
        else:
            i += 1
    parts.append(sql[start:])
    names = tuple(dict.fromkeys(uses))
    return parts, names, uses


def parse_query(text: str, index: int = 1) -> Query:
    """``--query``'s value: the SQL, or ``name=N,weight=W:SQL`` (a named, weighted
    member of a set). Unnamed queries are called query, query2, ..."""
    default = "query" if index == 1 else f"query{index}"
    head, sep, rest = text.partition(":")
    if sep and re.fullmatch(r"\s*(name|weight)=[^:,]*(,\s*(name|weight)=[^:,]*)*\s*", head):
        fields = dict(item.strip().split("=", 1) for item in head.split(","))
        try:
            weight = float(fields.get("weight", "1"))
        except ValueError:
            raise ValueError(f"weight {fields['weight']!r} is not a number") from None
        if weight <= 0:
            raise ValueError(f"weight {fields['weight']!r} must be above 0")
        name = fields.get("name", default).strip()
        if not _NAME.fullmatch(name):
            raise ValueError(f"name {name!r} must be a word (letters, digits, _)")
        return Query(rest.strip(), name=name, weight=weight)
    return Query(text.strip(), name=default)


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110's token


def headers_for(specs: tuple[str, ...], names: list[str]) -> dict[str, tuple[str, ...]]:
    """``--request-header`` items to the requests they go with: ``Name: value`` goes
    with every request, ``REQUEST=Name: value`` with the request so named (a header's
    name cannot hold ``=``). A request name no request has raises ValueError."""
    out: dict[str, list[str]] = {name: [] for name in names}
    for spec in specs:
        head, sep, _ = spec.partition(":")
        owner, equals, header = head.partition("=")
        if not sep or not _HEADER_NAME.fullmatch((header if equals else owner).strip()):
            shown = (spec.split() or [""])[0][:40]  # never the value: it may be a secret
            raise ValueError(f"expects 'Name: value' or 'REQUEST=Name: value', got {shown!r}...")
        if not equals:
            for held in out.values():
                held.append(spec.strip())
            continue
        owner = owner.strip()
        if owner not in out:
            known = ", ".join(names) or "none"
            raise ValueError(f"{owner}=: no request is named {owner} (requests: {known})")
        out[owner].append(spec.partition("=")[2].strip())
    return {name: tuple(held) for name, held in out.items()}
