"""Keep secrets out of everything bulkload prints or writes."""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit, urlunsplit

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


def redact_text(text: str, secrets: list[str]) -> str:
    """Replace every occurrence of each non-empty secret in free text."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
