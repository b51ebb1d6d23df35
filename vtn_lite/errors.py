"""Errors the API reports as RFC 7807 problem objects (Definition "General Usage")."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


class ApiError(Exception):
    """An error with the HTTP status the Definition's status list prescribes."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "about:blank",
            "title": HTTPStatus(self.status).phrase,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        return body


def bad_request(detail: str) -> ApiError:
    return ApiError(400, detail)


def not_found(kind: str, object_id: str) -> ApiError:
    return ApiError(404, f"no {kind.lower()} with id {object_id!r}")


def conflict(detail: str) -> ApiError:
    return ApiError(409, detail)


def forbidden(detail: str) -> ApiError:
    return ApiError(403, detail)


class MissingReference(ApiError):
    """A body naming an object that does not exist (or that the caller cannot see).

    409 on 3.1.0, whose conflict response is "a violation of a foreign key constraint or of a
    unique constraint"; the 3.0.1 API answers 400, since its 409 names only duplicates.
    """

    def __init__(self, detail: str) -> None:
        super().__init__(409, detail)


def missing_reference(detail: str) -> MissingReference:
    return MissingReference(detail)
