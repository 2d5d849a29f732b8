"""Keep secrets out of everything bulkload prints or writes."""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit, urlunsplit

#: a header whose value is a secret, by its name (Authorization, X-Api-Key, Cookie...)
SECRET_HEADER = re.compile(
    r"(?i)auth|token|key|secret|password|passwd|cookie|session|sig|credential"
)
_HEADER_ITEM = re.compile(r"(\s*(?:[A-Za-z0-9_]+=)?\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*:).*", re.S)

_SECRET_QUERY_KEYS = re.compile(
    r"(?i)([?&][^=&#]*(?:password|passwd|pwd|token|key|secret|auth|sig|signature|"
    r"credential|session)[^=&#]*=)[^&#]*"
)


def redact_url(url: str) -> str:
    """The URL with any password (and password-like query parameter) replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is not None:
        user = parts.username or ""
        host = parts.netloc.rpartition("@")[2]
        netloc = f"{user}:***@{host}"
        # rebuilt only when needed: urlunsplit turns sqlite:///x into sqlite:/x
        url = urlunsplit(SplitResult(parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return _SECRET_QUERY_KEYS.sub(r"\1***", url)


def url_secrets(url: str) -> list[str]:
    """The password in ``url``, as a list for :func:`redact_text` (empty when none, or
    when the URL does not parse)."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return []
    return [password] if password else []


def redact_header_args(argv: list[str], flags: tuple[str, ...]) -> list[str]:
    """A command line with the value of each secret header given to one of ``flags``
    (``--http-header 'Authorization: Bearer x'``, ``--flag=Name: value``) as ***."""
    out = []
    for index, arg in enumerate(argv):
        flag, equals, value = arg.partition("=")
        if index and argv[index - 1] in flags:
            arg = _hidden_header(arg)
        elif equals and flag in flags:
            arg = f"{flag}={_hidden_header(value)}"
        out.append(arg)
    return out


def _hidden_header(item: str) -> str:
    match = _HEADER_ITEM.fullmatch(item)
    if match is None or not SECRET_HEADER.search(match.group(2)):
        return item
    return f"{match.group(1)} ***"


def redact_text(text: str, secrets: list[str]) -> str:
    """Replace every occurrence of each non-empty secret in free text."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
