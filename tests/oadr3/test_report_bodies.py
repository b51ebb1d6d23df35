"""Interval report bodies from the reading history, validated against the 3.1.0 and 3.0.1 YAML."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.vtn_lite.schema import validate_component
from ven_edge.oadr3.eventparse import parse_event
from ven_edge.oadr3.readinglog import ReadingLog
from ven_edge.oadr3.readings import DeviceReadings
from ven_edge.oadr3.reports import DueReport, ReportScheduler, build_due_report
from ven_edge.signals import SignalTimeline

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def due_for(descriptor: dict[str, Any], at: datetime, n: int = 4) -> DueReport:
    ev = parse_event(
        {
            "id": "e1",
            "programID": "p1",
            "intervalPeriod": {"start": "2030-01-01T12:00:00Z", "duration": "PT1M"},
            "intervals": [
                {"id": 7 + i, "payloads": [{"type": "SIMPLE", "values": [1]}]} for i in range(n)
            ],
            "reportDescriptors": [descriptor],
        }
    )
    (due,) = ReportScheduler("ven-1").due([ev], SignalTimeline(()), at)
    return due


def history() -> ReadingLog:
    log = ReadingLog()
    states = ["RUNNING_NORMAL", "IDLE_CURTAILED", "IDLE_CURTAILED", "RUNNING_CURTAILED"]
    for i, state in enumerate(states):
        at = T0 + i * MIN + timedelta(seconds=10)
        log.record(at, DeviceReadings(operating_state=state, charge_percent=50.0 + 10 * i))
        log.record(at + timedelta(seconds=20), DeviceReadings(charge_percent=52.0 + 10 * i))
    # 0.2 kWh per minute for the first two minutes, then 30-second readings of 0.05 kWh.
    for i in range(2):
        log.record(
            T0 + (i + 1) * MIN,
            DeviceReadings(usage_kwh=0.2, usage_start=T0 + i * MIN, usage_duration=MIN),
        )
    for half in range(4, 8):
        start = T0 + half * timedelta(seconds=30)
        log.record(
            start + timedelta(seconds=30),
            DeviceReadings(usage_kwh=0.05, usage_start=start, usage_duration=timedelta(seconds=30)),
        )
    return log


def values(body: dict[str, Any]) -> list[list[Any]]:
    return [i["payloads"][0]["values"] for i in body["resources"][0]["intervals"]]


def check_yaml(body: dict[str, Any], version: str) -> None:
    validate_component(version, "reportRequest" if version == "3.1.0" else "report", body)


@pytest.mark.parametrize("version", ["3.1.0", "3.0.1"])
def test_historical_interval_reports(version: str) -> None:
    log = history()
    program = "p1" if version == "3.0.1" else None
    at = T0 + 4 * MIN
    bodies = {
        kind: build_due_report(
            due_for({"payloadType": kind, **extra}, at),
            DeviceReadings(),
            resource_name="heater-1",
            now=at,
            program_id=program,
            history=log,
        )
        for kind, extra in (
            ("OPERATING_STATE", {}),
            ("STORAGE_CHARGE_LEVEL", {"readingType": "MEAN"}),
            ("USAGE", {"aggregate": True}),
        )
    }
    for body in bodies.values():
        assert body is not None
        check_yaml(body, version)
        assert ("programID" in body) == (version == "3.0.1")
    state, level, usage = (
        bodies[k] or {} for k in ("OPERATING_STATE", "STORAGE_CHARGE_LEVEL", "USAGE")
    )
    assert values(state) == [
        ["RUNNING_NORMAL"],
        ["IDLE_CURTAILED"],
        ["IDLE_CURTAILED"],
        ["RUNNING_CURTAILED"],
    ]
    first = state["resources"][0]["intervals"][0]
    assert first["id"] == 7
    assert first["intervalPeriod"] == {"start": "2030-01-01T12:00:00Z", "duration": "PT1M"}
    assert values(level) == [[51.0], [61.0], [71.0], [81.0]]
    assert level["payloadDescriptors"] == [
        {
            "objectType": "REPORT_PAYLOAD_DESCRIPTOR",
            "payloadType": "STORAGE_CHARGE_LEVEL",
            "readingType": "MEAN",
            "units": "PERCENT",
        }
    ]
    assert usage["resources"][0]["resourceName"] == "AGGREGATED_REPORT"
    assert values(usage) == [[0.2], [0.2], [0.1], [0.1]]
    assert usage["payloadDescriptors"][0]["units"] == "KWH"
    assert usage["payloadDescriptors"][0]["readingType"] == "DIRECT_READ"


def test_missing_readings_are_marked_and_forecasts_persist() -> None:
    log = ReadingLog()
    log.record(T0 + 150 * timedelta(seconds=1), DeviceReadings(charge_percent=40.0))
    at = T0 + 4 * MIN
    body = build_due_report(
        due_for({"payloadType": "STORAGE_CHARGE_LEVEL"}, at),
        DeviceReadings(),
        resource_name="r",
        now=at,
        history=log,
    )
    assert body is not None
    check_yaml(body, "3.1.0")
    payloads = [i["payloads"] for i in body["resources"][0]["intervals"]]
    assert payloads[0] == [
        {"type": "STORAGE_CHARGE_LEVEL", "values": []},
        {"type": "DATA_QUALITY", "values": ["MISSING"]},
    ]
    assert payloads[2] == [{"type": "STORAGE_CHARGE_LEVEL", "values": [40.0]}]
    forecast = build_due_report(
        due_for({"payloadType": "OPERATING_STATE", "historical": False}, T0),
        DeviceReadings(operating_state="IDLE_NORMAL"),
        resource_name="r",
        now=T0,
    )
    assert forecast is not None
    check_yaml(forecast, "3.1.0")
    assert values(forecast) == [["IDLE_NORMAL"]] * 4
    assert forecast["payloadDescriptors"][0]["readingType"] == "FORECAST"


def test_usage_forecast_from_the_last_days_rate() -> None:
    log = ReadingLog()
    for hour in range(24):
        start = T0 - timedelta(hours=24 - hour)
        log.record(
            start + timedelta(hours=1),
            DeviceReadings(usage_kwh=0.6, usage_start=start, usage_duration=timedelta(hours=1)),
        )
    body = build_due_report(
        due_for({"payloadType": "USAGE", "historical": False}, T0, n=2),
        DeviceReadings(),
        resource_name="r",
        now=T0,
        history=log,
    )
    assert body is not None
    assert values(body) == [[0.01], [0.01]]  # 0.6 kWh per hour = 0.01 kWh per minute


@pytest.mark.parametrize("version", ["3.1.0", "3.0.1"])
def test_ad_hoc_reports_fit_the_yaml(version: str) -> None:
    readings = DeviceReadings("IDLE_OPTED_OUT", 64.5, 0.25, T0, MIN)
    for kind in ("OPERATING_STATE", "STORAGE_CHARGE_LEVEL", "USAGE"):
        due = due_for({"payloadType": kind, "frequency": 0, "aggregate": True}, T0)
        assert due.window is None
        program = "p1" if version == "3.0.1" else None
        body = build_due_report(due, readings, resource_name="r", now=T0, program_id=program)
        assert body is not None
        check_yaml(body, version)
        assert body["resources"][0]["resourceName"] == "AGGREGATED_REPORT"


def test_bad_device_values_are_left_out_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    log = ReadingLog()
    bad = DeviceReadings("SLEEPING", 140.0, -1.0, T0, MIN)
    with caplog.at_level(logging.WARNING, logger="ven_edge.oadr3.readinglog"):
        log.record(T0, bad)
        log.record(T0 + MIN, bad)
    assert len(caplog.records) == 3  # one per bad value, not per reading
    assert len(log) == 0
    assert log.state(T0, T0 + 2 * MIN) is None
    assert log.energy(T0, T0 + 2 * MIN) is None


def test_reading_history_survives_persistence_and_stays_bounded() -> None:
    log = history()
    copy = ReadingLog()
    copy.restore_state(log.export_state())
    assert copy.export_state() == log.export_state()
    assert copy.energy(T0, T0 + 4 * MIN) == log.energy(T0, T0 + 4 * MIN) == 0.6
    unchanged = ReadingLog()
    for second in range(0, 3600, 10):
        unchanged.record(T0 + timedelta(seconds=second), DeviceReadings(operating_state="NORMAL"))
    assert len(unchanged) == 12  # unchanged values are resampled every five minutes only
    later = T0 + timedelta(days=4)
    unchanged.record(later, DeviceReadings(operating_state="ERROR"))
    assert len(unchanged) == 2  # older than three days: only the sample still in force is kept
    assert unchanged.state(later - MIN, later) == "NORMAL"
    broken = ReadingLog()
    broken.restore_state({"samples": [["not a date", None, None]]})
    assert len(broken) == 0


def test_energy_since_the_previous_reading_when_no_window_is_given() -> None:
    log = ReadingLog()
    log.record(T0, DeviceReadings(operating_state="IDLE_NORMAL"))
    for second, kwh in ((30, 0.05), (60, 0.05), (120, 0.3)):  # meter differences per call
        log.record(T0 + timedelta(seconds=second), DeviceReadings(usage_kwh=kwh))
    assert log.energy(T0, T0 + MIN) == 0.1
    assert log.energy(T0 + MIN, T0 + 2 * MIN) == 0.3
    assert log.energy(T0 + 90 * timedelta(seconds=1), T0 + 2 * MIN) == 0.15  # pro rata


@given(
    st.lists(
        st.tuples(st.integers(0, 600), st.integers(0, 120), st.floats(0, 5)),
        max_size=30,
    )
)
def test_energy_is_conserved_across_a_partition(readings: list[tuple[int, int, float]]) -> None:
    log = ReadingLog()
    for offset, length, kwh in readings:
        start = T0 + timedelta(seconds=offset)
        log.record(
            start,
            DeviceReadings(
                usage_kwh=kwh, usage_start=start, usage_duration=timedelta(seconds=length)
            ),
        )
    whole = log.energy(T0, T0 + timedelta(hours=1)) or 0.0
    parts = sum(log.energy(T0 + i * MIN, T0 + (i + 1) * MIN) or 0.0 for i in range(60))
    assert parts == pytest.approx(whole, abs=1e-3)


descriptor_fields = st.fixed_dictionaries(
    {
        "payloadType": st.sampled_from(["USAGE", "OPERATING_STATE", "STORAGE_CHARGE_LEVEL"]),
        "startInterval": st.integers(-3, 9),
        "numIntervals": st.integers(-3, 9),
        "frequency": st.integers(-3, 4),
        "repeat": st.integers(-3, 5),
        "historical": st.booleans(),
        "aggregate": st.booleans(),
    }
)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 6),
    descriptors=st.lists(descriptor_fields, min_size=1, max_size=3),
    steps=st.lists(st.integers(1, 200), min_size=1, max_size=12),
)
def test_any_descriptor_yields_unique_on_time_yaml_valid_reports(
    n: int, descriptors: list[dict[str, Any]], steps: list[int]
) -> None:
    ev = parse_event(
        {
            "id": "e1",
            "programID": "p1",
            "intervalPeriod": {"start": "2030-01-01T12:00:00Z", "duration": "PT1M"},
            "intervals": [
                {"id": i, "payloads": [{"type": "SIMPLE", "values": [1]}]} for i in range(n)
            ],
            "reportDescriptors": descriptors,
        }
    )
    scheduler = ReportScheduler("ven-1", cadence=2 * MIN)
    log = ReadingLog()
    now, names = T0 - MIN, set()
    for step in steps:
        now += timedelta(seconds=step)
        readings = DeviceReadings("IDLE_NORMAL", 50.0, 0.01, now - MIN, MIN)
        log.record(now, readings)
        for due in scheduler.due([ev], SignalTimeline(()), now):
            assert due.name not in names
            names.add(due.name)
            if due.window is not None:
                assert due.window.due_at <= now
            body = build_due_report(due, readings, resource_name="r", now=now, history=log)
            assert body is not None
            check_yaml(body, "3.1.0")
