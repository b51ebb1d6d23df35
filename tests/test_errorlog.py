"""Unforeseen errors: a traceback the first time, one line after, secrets redacted."""

from __future__ import annotations

import logging

import pytest

from ven_edge.errorlog import ErrorOnce


def test_traceback_once_per_distinct_error(caplog: pytest.LogCaptureFixture) -> None:
    errors = ErrorOnce(logging.getLogger("test.errorlog"), limit=2)
    for exc in (
        OverflowError("date value out of range"),
        OverflowError("date value out of range"),
        RecursionError("deep"),
        ValueError("GET https://u:pw@vtn.example/x?apikey=K failed"),
        OverflowError("date value out of range"),  # forgotten: the limit is 2
    ):
        errors.log(exc, "loop failed (%s)")
    lines = [(r.levelname, r.getMessage(), r.exc_info is not None) for r in caplog.records]
    assert lines == [
        ("ERROR", "loop failed (OverflowError: date value out of range)", True),
        ("WARNING", "loop failed (OverflowError: date value out of range)", False),
        ("ERROR", "loop failed (RecursionError: deep)", True),
        ("ERROR", "loop failed (ValueError: GET https://vtn.example/x failed)", True),
        ("ERROR", "loop failed (OverflowError: date value out of range)", True),
    ]
