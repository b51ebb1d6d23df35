"""Unforeseen errors logged with their traceback once each, then in one line.

A loop that survives an unexpected exception (the VTN link, the grid supervisor, the report
queue) meets the same one again at every retry; a traceback per retry would bury the journal, no
traceback at all would hide the bug. Errors are told apart by type and redacted message.
"""

from __future__ import annotations

import logging

from ven_edge.redact import redact_text

#: Distinct errors remembered; the oldest is forgotten first (and may be logged in full again).
REMEMBERED = 32


class ErrorOnce:
    """Log ``exc`` with its traceback the first time, as one line after that."""

    def __init__(
        self, logger: logging.Logger, *, repeats: int = logging.WARNING, limit: int = REMEMBERED
    ) -> None:
        self._logger = logger
        self._repeats = repeats  # the level of the one-line repeats
        self._limit = limit
        self._seen: dict[str, None] = {}  # insertion-ordered set

    @staticmethod
    def describe(exc: BaseException) -> str:
        """``Type: message``, without secrets."""
        return redact_text(f"{type(exc).__name__}: {exc}") or type(exc).__name__

    def log(self, exc: BaseException, what: str) -> str:
        """Log ``what`` (with ``%s`` for the error) at ERROR; returns the error's description."""
        text = self.describe(exc)
        if text in self._seen:
            self._logger.log(self._repeats, what, text)
            return text
        self._seen[text] = None
        while len(self._seen) > self._limit:
            del self._seen[next(iter(self._seen))]
        self._logger.error(what, text, exc_info=exc)
        return text
