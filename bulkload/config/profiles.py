"""TOML profiles (``--config``) and how the layers of settings combine.

Precedence, lowest first: the models' defaults < TOML profile < ``BULKLOAD_*``
environment variables < command-line flags. The CLI resolves the last two (its parser
reads the environment) and merges them over the profile with :func:`merge_options`; the
registry's builders (:mod:`bulkload.options`) validate the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from bulkload.config.option import BENCH, COMMANDS, IMPORT
from bulkload.errors import UsageError


class Declared(Protocol):
    """What a profile is checked against: the option registry."""

    def profile_keys(self, command: str) -> frozenset[str]: ...

    def commands_of(self, name: str) -> frozenset[str]: ...

    def add_installed_options(self) -> bool: ...  # True: it learned some


def load_profile(path: str | Path, section: str, declared: Declared) -> dict[str, Any]:
    """Read a TOML profile for the command ``section``: the top-level keys that command
    takes, overridden by those in ``[section]``.

    Keys are option names as on the command line, with dashes or underscores. A key no
    command knows is an error, as is a key in ``[import]`` or ``[bench]`` that command
    does not take. ``declared`` says which keys each command takes."""
    import tomllib  # here: only runs with a profile pay for it

    path = Path(path)
    try:
        with path.open("rb") as fh:
            document = tomllib.load(fh)
    except FileNotFoundError:
        raise UsageError(f"config file not found: {path}") from None
    except OSError as exc:
        raise UsageError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from None
    sections: dict[str, dict[str, Any]] = {}
    for command in COMMANDS:
        scoped = document.pop(command, {})
        if not isinstance(scoped, dict):
            raise UsageError(f"{path}: [{command}] must be a table")
        sections[command] = _query_tables(path, f"{command}.", _normalised(scoped))
    top = _query_tables(path, "", _normalised(document))
    _refuse_unknown(path, top, None, declared)
    for command, scoped in sections.items():
        _refuse_unknown(path, scoped, command, declared)
    taken = declared.profile_keys(section)
    options = {key: value for key, value in top.items() if key in taken}
    options.update(sections[section])
    return options


def _normalised(keys: Mapping[str, Any]) -> dict[str, Any]:
    return {key.replace("-", "_"): value for key, value in keys.items()}


#: a query set's table: its keys; a request's
_SOURCE_KEYS = ("params", "params_synthetic")  # the query's own parameter source
_QUERY_KEYS = ("name", "weight", "sql", *_SOURCE_KEYS)
_REQUEST_KEYS = ("name", "weight", "method", "path", "body", "headers", *_SOURCE_KEYS)


def _query_tables(path: Path, where: str, keys: dict[str, Any]) -> dict[str, Any]:
    """A query set written as TOML tables, turned into what ``--query``, ``--request``
    and ``--request-header`` take, so that one parser reads both::

        [[bench.query]]                     # --query 'name=lookup,weight=9:SELECT ...'
        name = "lookup"
        weight = 9
        sql = "SELECT * FROM orders WHERE id = :id"

        [[bench.request]]                   # --request 'name=order:GET /orders/{id}'
        name = "order"
        method = "GET"
        path = "/orders/{id}"
        headers = { X-Tenant = "{shop}" }   # --request-header 'order=X-Tenant: {shop}'
        params = "ids.csv"                  # --query-params order=ids.csv

    Items that are strings stay as they are (the command line's form)."""
    out = dict(keys)
    headers: list[str] = []
    sources: dict[str, list[str]] = {key: [] for key in _SOURCE_KEYS}
    for option, fields in (("query", _QUERY_KEYS), ("request", _REQUEST_KEYS)):
        items = keys.get(option)
        if not isinstance(items, list) or not any(isinstance(i, dict) for i in items):
            continue
        texts = []
        for index, item in enumerate(items, 1):
            if not isinstance(item, dict):
                texts.append(item)
                continue
            table = f"{path}: [[{where}{option}]] number {index}"
            item = _normalised(item)
            unknown = sorted(set(item) - set(fields))
            if unknown:
                raise UsageError(
                    f"{table}: unknown key(s) {', '.join(unknown)} (keys: {', '.join(fields)})"
                )
            name = item.get("name", "query" if index == 1 else f"query{index}")
            weight = item.get("weight", 1)
            if not isinstance(name, str) or isinstance(weight, bool):
                raise UsageError(f"{table}: name must be a string and weight a number")
            if not isinstance(weight, int | float):
                raise UsageError(f"{table}: weight must be a number, not {weight!r}")
            head = f"name={name},weight={weight:g}:"
            for key in _SOURCE_KEYS:
                if key in item:
                    sources[key].append(f"{name}={_text_of(item, key, table)}")
            if option == "query":
                texts.append(head + _text_of(item, "sql", table))
                continue
            request = f"{_text_of(item, 'method', table)} {_text_of(item, 'path', table)}"
            body = item.get("body")
            if body is not None:
                request += " " + (body if isinstance(body, str) else _json(body))
            texts.append(head + request)
            given = item.get("headers", {})
            if not isinstance(given, dict):
                raise UsageError(f'{table}: headers must be a table of Name = "value"')
            headers += [f"{name}={header}: {value}" for header, value in given.items()]
        out[option] = texts
    if headers:
        out["request_header"] = [*_as_list(keys.get("request_header")), *headers]
    for key, option in (("params", "query_params"), ("params_synthetic", "query_synthetic")):
        if sources[key]:
            out[option] = [*_as_list(keys.get(option)), *sources[key]]
    return out


def _text_of(item: dict[str, Any], key: str, table: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{table}: {key} must be a non-empty string")
    return value


def _json(value: Any) -> str:
    """A body written as a TOML table or array: sent as JSON."""
    import json

    return json.dumps(value, separators=(", ", ": "))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _refuse_unknown(
    path: Path, keys: Mapping[str, Any], command: str | None, declared: Declared
) -> None:
    """Top level (``command`` None): keys some command takes; ``[command]``: its own."""
    if command is None:
        known = declared.profile_keys(IMPORT) | declared.profile_keys(BENCH)
    else:
        known = declared.profile_keys(command)
    unknown = sorted(set(keys) - known)
    if unknown and declared.add_installed_options():  # an installed backend's options?
        return _refuse_unknown(path, keys, command, declared)
    if not unknown:
        return
    where = "" if command is None else f" in [{command}]"
    described = [_with_owner(key, declared) for key in unknown]
    raise UsageError(f"{path}: unknown option(s){where}: {', '.join(described)}")


def _with_owner(key: str, declared: Declared) -> str:
    """``sweep (a bench option)`` when another command takes the key."""
    owners = sorted(declared.commands_of(key))
    return f"{key} (a {'/'.join(owners)} option)" if owners else key


def merge_options(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Later layers win; a value of None means "not set here"."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update({k: v for k, v in layer.items() if v is not None})
    return merged
