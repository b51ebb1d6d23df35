"""reportDescriptor timing (UG 3.1.0 §7.5 examples) and the scheduler with an injected clock."""

from __future__ import annotations

import itertools
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ven_edge.oadr3.eventparse import Event, parse_event
from ven_edge.oadr3.reports import ReportScheduler
from ven_edge.oadr3.reporttiming import (
    ReportWindow,
    is_ad_hoc,
    report_intervals,
    report_window,
)
from ven_edge.oadr3.timeline import TimelineBuilder
from ven_edge.signals import SignalTimeline

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
EMPTY = SignalTimeline(())


def event(n: int, descriptor: dict[str, Any], **extra: Any) -> Event:
    """``n`` one-minute intervals from T0 with ids 10, 11, ... (ids are not indices)."""
    return parse_event(
        {
            "id": "e1",
            "programID": "p1",
            "intervalPeriod": {"start": "2030-01-01T12:00:00Z", "duration": "PT1M"},
            "intervals": [
                {"id": 10 + i, "payloads": [{"type": "PRICE", "values": [0.1]}]} for i in range(n)
            ],
            "reportDescriptors": [{"payloadType": "USAGE", **descriptor}],
            **extra,
        }
    )


def windows(ev: Event) -> list[ReportWindow]:
    descriptor = ev.report_descriptors[0]
    intervals = report_intervals(ev, T0, T0)
    out: list[ReportWindow] = []
    while (window := report_window(descriptor, intervals, len(out))) is not None:
        out.append(window)
        assert len(out) < 1000
    return out


def covered(window: ReportWindow) -> list[int]:
    return [span.id - 10 for span in window.spans]


def test_defaults_one_report_after_the_last_interval_covering_all() -> None:
    (only,) = windows(event(4, {}))
    assert only.due_at == T0 + 4 * MIN
    assert covered(only) == [0, 1, 2, 3]
    assert only.historical
    assert (only.spans[0].start, only.spans[0].end) == (T0, T0 + MIN)


def test_forecast_defaults_one_report_before_the_first_interval() -> None:
    (only,) = windows(event(4, {"historical": False}))
    assert only.due_at == T0
    assert covered(only) == [0, 1, 2, 3]


def test_periodic_reports_ug_example() -> None:
    # UG §7.5 "Report on a subset of intervals at a regular period".
    got = windows(event(6, {"startInterval": 1, "numIntervals": 2, "frequency": 2, "repeat": 3}))
    assert [covered(w) for w in got] == [[0, 1], [2, 3], [4, 5]]
    assert [w.due_at for w in got] == [T0 + 2 * MIN, T0 + 4 * MIN, T0 + 6 * MIN]


def test_rolling_forecast_ug_example() -> None:
    # UG §7.5 "Rolling reports": startInterval 0, numIntervals 3, frequency 1, repeat 3.
    descriptor = {
        "startInterval": 0,
        "numIntervals": 3,
        "frequency": 1,
        "repeat": 3,
        "historical": False,
    }
    got = windows(event(5, descriptor))
    assert [covered(w) for w in got] == [[0, 1, 2], [1, 2, 3], [2, 3, 4]]
    assert [w.due_at for w in got] == [T0, T0 + MIN, T0 + 2 * MIN]


def test_rolling_historical_window_repeat_forever_stops_with_the_intervals() -> None:
    descriptor = {"startInterval": 3, "numIntervals": 4, "frequency": 1, "repeat": -1}
    got = windows(event(6, descriptor))
    assert [covered(w) for w in got] == [[0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5]]
    assert [w.due_at for w in got] == [T0 + 4 * MIN, T0 + 5 * MIN, T0 + 6 * MIN]


def test_default_start_interval_puts_even_a_rolling_request_after_the_last_interval() -> None:
    # startInterval -1 is "generate report at end of last interval" (3.1.0 YAML), so without a
    # startInterval a frequency/numIntervals request yields one report of the last N intervals.
    (only,) = windows(event(6, {"numIntervals": 4, "frequency": 1, "repeat": -1}))
    assert only.due_at == T0 + 6 * MIN
    assert covered(only) == [2, 3, 4, 5]


def test_looping_event_reports_once_per_loop() -> None:
    # event.duration longer than the intervals repeats them (UG §7.5 "Looping intervals").
    got = windows(event(2, {"repeat": -1}, duration="PT6M"))
    assert [covered(w) for w in got] == [[0, 1], [0, 1], [0, 1]]
    assert [w.due_at for w in got] == [T0 + 2 * MIN, T0 + 4 * MIN, T0 + 6 * MIN]
    assert got[1].spans[0].start == T0 + 2 * MIN


def test_implied_intervals_of_a_report_only_event() -> None:
    # UG example 8.7-1: no intervals, an event-level intervalPeriod and rolling descriptors.
    ev = parse_event(
        {
            "id": "e2",
            "programID": "p1",
            "intervalPeriod": {"start": "2030-01-01T12:00:00Z", "duration": "PT1H"},
            "duration": "PT4H",
            "reportDescriptors": [
                {
                    "payloadType": "USAGE",
                    "startInterval": 0,
                    "numIntervals": 2,
                    "historical": False,
                    "frequency": 1,
                    "repeat": -1,
                }
            ],
        }
    )
    got = windows(ev)
    assert [[s.id for s in w.spans] for w in got] == [[0, 1], [1, 2], [2, 3], [3]]
    assert [w.due_at for w in got] == [T0 + timedelta(hours=h) for h in range(4)]


def test_open_ended_interval_is_never_reported_historically() -> None:
    ev = event(1, {}, intervalPeriod={"start": "2030-01-01T12:00:00Z", "duration": "P9999Y"})
    assert windows(ev) == []


def test_ad_hoc_descriptors_and_intervalless_events() -> None:
    ad_hoc = event(3, {"frequency": 0})
    assert is_ad_hoc(ad_hoc.report_descriptors[0], report_intervals(ad_hoc, T0, T0))
    # UG example 8.6-1: start "now", duration PT0H, no intervals: the VEN picks the timing.
    soc = parse_event(
        {
            "id": "e3",
            "programID": "p1",
            "intervalPeriod": {"start": "0001-01-01", "duration": "PT0H"},
            "reportDescriptors": [{"payloadType": "STORAGE_CHARGE_LEVEL", "frequency": 4}],
        }
    )
    assert is_ad_hoc(soc.report_descriptors[0], report_intervals(soc, T0, T0))


def test_start_interval_zero_is_read_as_zero() -> None:
    ev = event(2, {"startInterval": 0, "numIntervals": 0, "frequency": 1})
    descriptor = ev.report_descriptors[0]
    assert (descriptor.start_interval, descriptor.num_intervals) == (0, 0)


@given(
    n=st.integers(1, 12),
    start=st.integers(-1, 13),
    num=st.integers(-1, 6),
    freq=st.integers(-1, 5).filter(lambda f: f != 0),
    repeat=st.integers(-1, 8),
    historical=st.booleans(),
)
def test_windows_are_ordered_and_within_the_event(
    n: int, start: int, num: int, freq: int, repeat: int, historical: bool
) -> None:
    descriptor = {
        "startInterval": start,
        "numIntervals": num,
        "frequency": freq,
        "repeat": repeat,
        "historical": historical,
    }
    got = windows(event(n, descriptor))
    size = num if num > 0 else n
    if repeat > 0:
        assert len(got) <= repeat
    for before, after in itertools.pairwise(got):
        assert before.due_at <= after.due_at
    for window in got:
        assert 1 <= len(window.spans) <= size
        ends = [s.end for s in window.spans]
        assert all(end is not None and T0 < end <= T0 + n * MIN for end in ends)
        if historical:
            assert window.due_at == window.spans[-1].end  # after the last covered interval
        else:
            assert window.due_at == window.spans[0].start  # before the first one


def names(due: list[Any]) -> list[str]:
    return [d.name for d in due]


def test_scheduler_rolling_historical_reports_at_the_right_times() -> None:
    """frequency=1, numIntervals=4, historical: a report after each interval from the 4th on."""
    ev = event(6, {"numIntervals": 4, "frequency": 1, "repeat": -1, "startInterval": 3})
    scheduler = ReportScheduler("ven-1")
    sent: list[tuple[datetime, str, list[int]]] = []
    now = T0
    while now <= T0 + 8 * MIN:
        for due in scheduler.due([ev], EMPTY, now):
            assert due.window is not None
            sent.append((now, due.name, covered(due.window)))
        now += timedelta(seconds=15)
    assert sent == [
        (T0 + 4 * MIN, "ven-1/e1/USAGE/1", [0, 1, 2, 3]),
        (T0 + 5 * MIN, "ven-1/e1/USAGE/2", [1, 2, 3, 4]),
        (T0 + 6 * MIN, "ven-1/e1/USAGE/3", [2, 3, 4, 5]),
    ]


def test_late_event_sends_the_latest_missed_report_then_all_and_survives_restart() -> None:
    ev = event(6, {"numIntervals": 1, "frequency": 1, "repeat": -1, "startInterval": 0})
    scheduler = ReportScheduler("ven-1")
    # First seen after three reports fell due: only the latest of them (UG 7.5 'do it now').
    (late,) = scheduler.due([ev], EMPTY, T0 + 3 * MIN + timedelta(seconds=5))
    assert late.name == "ven-1/e1/USAGE/3"
    restored = ReportScheduler("ven-1")
    restored.restore_state(scheduler.export_state())
    assert restored.due([ev], EMPTY, T0 + 3 * MIN + timedelta(seconds=30)) == []
    assert names(restored.due([ev], EMPTY, T0 + 4 * MIN)) == ["ven-1/e1/USAGE/4"]
    # Reports that fell due after the event arrived are all sent, however late.
    assert names(restored.due([ev], EMPTY, T0 + 60 * MIN)) == [
        "ven-1/e1/USAGE/5",
        "ven-1/e1/USAGE/6",
    ]
    assert restored.due([ev], EMPTY, T0 + 61 * MIN) == []


def test_scheduler_unknown_payload_types_are_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    ev = parse_event(
        {
            "id": "e9",
            "programID": "p1",
            "intervalPeriod": {"start": "2030-01-01T12:00:00Z", "duration": "PT1M"},
            "intervals": [{"id": 0, "payloads": [{"type": "PRICE", "values": [0.1]}]}],
            "reportDescriptors": [
                {"payloadType": "BASELINE"},
                {"payloadType": "USAGE"},
                {"payloadType": "USAGE", "historical": False},
            ],
        }
    )
    scheduler = ReportScheduler("ven-1")
    with caplog.at_level(logging.INFO, logger="ven_edge.oadr3.reports"):
        first = scheduler.due([ev], EMPTY, T0)
        scheduler.due([ev], EMPTY, T0 + timedelta(seconds=30))
        second = scheduler.due([ev], EMPTY, T0 + MIN)
    baseline = [r for r in caplog.records if "BASELINE" in r.getMessage()]
    assert len(baseline) == 1
    # Two USAGE descriptors: the forecast before, the historical report after; distinct names.
    assert names(first) == ["ven-1/e9/USAGE.2/1"]
    assert names(second) == ["ven-1/e9/USAGE/1"]


def test_now_start_events_are_timed_from_the_timelines_anchor() -> None:
    ev = event(2, {}, intervalPeriod={"start": "0001-01-01T00:00:00Z", "duration": "PT1M"})
    builder = TimelineBuilder()
    seen = T0 - timedelta(seconds=30)
    builder.build([ev], seen)  # the poll that first saw it
    scheduler = ReportScheduler("ven-1")
    anchors = builder.first_seen
    assert scheduler.due([ev], EMPTY, T0, first_seen=anchors) == []
    assert (
        scheduler.due([ev], EMPTY, seen + 2 * MIN - timedelta(seconds=1), first_seen=anchors) == []
    )
    (report,) = scheduler.due([ev], EMPTY, seen + 2 * MIN, first_seen=anchors)
    assert report.window is not None
    assert report.window.spans[0].start == seen
    # Without the timeline's anchor, the scheduler's own first sight (T0) is used.
    alone = ReportScheduler("ven-1")
    assert alone.due([ev], EMPTY, T0) == []
    assert alone.due([ev], EMPTY, seen + 2 * MIN) == []
    assert len(alone.due([ev], EMPTY, T0 + 2 * MIN)) == 1


def test_an_event_gone_before_its_end_gets_no_more_reports_one_gone_after_does() -> None:
    ev = event(4, {"startInterval": 1, "numIntervals": 2, "frequency": 2, "repeat": 2})
    cancelled = ReportScheduler("ven-1")
    assert cancelled.due([ev], EMPTY, T0) == []
    assert cancelled.due([], EMPTY, T0 + MIN) == []  # deleted (or cancelled) mid-event
    assert cancelled.due([], EMPTY, T0 + 10 * MIN) == []
    over = ReportScheduler("ven-1")
    assert names(over.due([ev], EMPTY, T0 + 2 * MIN)) == ["ven-1/e1/USAGE/1"]
    # No longer listed once over (a 3.1 VTN polled with active=true), even across a restart.
    restarted = ReportScheduler("ven-1")
    restarted.restore_state(over.export_state())
    assert names(restarted.due([], EMPTY, T0 + 4 * MIN)) == ["ven-1/e1/USAGE/2"]
    assert restarted.due([], EMPTY, T0 + 5 * MIN) == []
