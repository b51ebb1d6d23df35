"""Exceptions raised by the OpenADR 3 client.

Each carries enough context (HTTP method, path, status, problem detail, or the JSON path of a bad
field) to be logged as one precise line; none of them ever carries a credential.
"""

from __future__ import annotations


class Oadr3Error(Exception):
    """Base class for every OpenADR 3 client error."""


class VtnUnreachableError(Oadr3Error):
    """The VTN could not be reached (connection refused, DNS, TLS handshake, timeout)."""


class VtnHttpError(Oadr3Error):
    """The VTN answered with an unexpected HTTP status.

    ``title``/``detail`` come from the RFC 7807 problem object the VTN SHALL send with 40x/500
    responses (Definition 3.1.0, "General Usage"), or from an RFC 6749 ``authError`` on /auth/token.
    """

    def __init__(
        self, method: str, path: str, status: int, title: str = "", detail: str = ""
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.title = title
        self.detail = detail
        text = f"{method} {path} -> HTTP {status}"
        if title:
            text += f": {title}"
        if detail:
            text += f" ({detail})"
        super().__init__(text)


class VtnAuthError(VtnHttpError):
    """The VTN refused our credentials or token (401/403, or an /auth/token error)."""


class ResponseTooLargeError(Oadr3Error):
    """A response body exceeded the configured size limit; it was not parsed."""

    def __init__(self, path: str, limit: int) -> None:
        self.path = path
        self.limit = limit
        super().__init__(f"response to {path} exceeds the {limit}-byte limit")


class PayloadError(Oadr3Error):
    """A VTN object is malformed. ``where`` is a JSON path such as ``intervals[2].payloads[0]``."""

    def __init__(self, where: str, reason: str, object_id: str | None = None) -> None:
        self.where = where
        self.reason = reason
        self.object_id = object_id
        prefix = f"object {object_id!r}: " if object_id else ""
        super().__init__(f"{prefix}{where or '<root>'}: {reason}")
