"""URLs and error texts made safe to show: in the log, on the status page, in ``ven-edge check``.

A VTN URL can carry a user and password (``https://user:pw@host/...``), and a query or fragment
can carry an API key; a bearer token can end up in an error text. None of these may leave the
gateway (OpenADR 3.1.0 Definition, "Security": credentials are secrets), so everything that shows
a URL or a network error goes through :func:`redact_url` or :func:`redact_text`.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

# A URL inside free text: a scheme, then everything up to a space, a quote or a bracket.
_URL_IN_TEXT = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s'\"<>()\[\]]+")
_BEARER = re.compile(r"(?i)\b(bearer)(\s+)[^\s,;]+")
_SECRET_PARAM = re.compile(r"(?i)(token|secret|password|passwd|key)(=)[^\s&,;]+")


def redact_url(url: str | None) -> str | None:
    """The URL without user, password, query or fragment (where tokens hide)."""
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(invalid URL)"
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def redact_text(text: str | None) -> str | None:
    """A message without URL credentials, URL queries, secret parameters or bearer tokens."""
    if text is None:
        return None
    text = _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)) or "", text)
    # Secret parameters before bearer tokens: a secret whose value is the word "bearer" must
    # not make the next word of the message look like a token.
    text = _SECRET_PARAM.sub(r"\1\2[redacted]", text)
    return _BEARER.sub(r"\1\2[redacted]", text)
