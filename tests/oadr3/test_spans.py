"""Intervals laid end to end (User Guide 3.1.0 §7.3-§7.4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ven_edge.oadr3.spans import follow_on_spans
from ven_edge.oadr3.timefmt import INFINITE_DURATION, IsoDuration

T0 = datetime(2030, 1, 1, tzinfo=UTC)
HOUR = IsoDuration(hours=1)


def test_intervals_follow_on_and_an_own_start_jumps() -> None:
    later = T0 + timedelta(hours=5)
    spans = follow_on_spans(T0, [(None, HOUR), (None, HOUR), (later, HOUR), (None, HOUR)])
    assert spans == [
        (T0, T0 + timedelta(hours=1)),
        (T0 + timedelta(hours=1), T0 + timedelta(hours=2)),
        (later, later + timedelta(hours=1)),
        (later + timedelta(hours=1), later + timedelta(hours=2)),
    ]


def test_nothing_follows_an_interval_that_never_ends() -> None:
    for never in (None, INFINITE_DURATION):
        spans = follow_on_spans(T0, [(None, HOUR), (None, never), (None, HOUR)])
        assert spans == [(T0, T0 + timedelta(hours=1)), (T0 + timedelta(hours=1), None)]


def test_a_zero_duration_interval_is_an_instant() -> None:
    assert follow_on_spans(T0, [(None, IsoDuration()), (None, HOUR)]) == [
        (T0, T0),
        (T0, T0 + timedelta(hours=1)),
    ]
