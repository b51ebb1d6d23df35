"""Report builders and the due-report scheduler (sans-I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ven_edge.oadr3.eventparse import parse_event
from ven_edge.oadr3.readings import DeviceReadings
from ven_edge.oadr3.reportbodies import (
    ReportInterval,
    operating_state_report,
    storage_charge_level_report,
    usage_report,
)
from ven_edge.oadr3.reports import ReportScheduler, build_due_report
from ven_edge.oadr3.timeline import TimelineBuilder
from vtn_lite.wire import models

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
COMMON: dict[str, Any] = {
    "event_id": "e1",
    "client_name": "ven-1",
    "resource_name": "heater",
    "name": "ven-1/e1/X/1",
}


def test_builders_produce_valid_report_requests() -> None:
    state = operating_state_report(state="IDLE_CURTAILED", at=T0, **COMMON)
    level = storage_charge_level_report(percent=72.456, at=T0, **COMMON)
    usage = usage_report(
        readings=[
            ReportInterval(0, (0.5,), start=T0, duration=timedelta(minutes=15)),
            ReportInterval(1, (0.0,), start=T0 + timedelta(minutes=15), duration=timedelta(0)),
        ],
        **COMMON,
    )
    for body in (state, level, usage):
        parsed = models.ReportRequest.model_validate(body)
        assert parsed.report_name == "ven-1/e1/X/1"
    assert state["resources"][0]["intervals"][0]["payloads"] == [
        {"type": "OPERATING_STATE", "values": ["IDLE_CURTAILED"]}
    ]
    assert level["payloadDescriptors"][0]["units"] == "PERCENT"
    assert level["resources"][0]["intervals"][0]["payloads"][0]["values"] == [72.46]
    first = usage["resources"][0]["intervals"][0]
    assert first["intervalPeriod"] == {"start": "2026-07-01T12:00:00Z", "duration": "PT15M"}
    assert "programID" not in usage
    with_program = operating_state_report(state="NORMAL", at=T0, program_id="p1", **COMMON)
    assert with_program["programID"] == "p1"


@pytest.mark.parametrize(
    "call",
    [
        lambda: operating_state_report(state="SLEEPING", at=T0, **COMMON),
        lambda: storage_charge_level_report(percent=101, at=T0, **COMMON),
        lambda: usage_report(readings=[ReportInterval(0, (-1.0,), T0, timedelta(1))], **COMMON),
        lambda: usage_report(readings=[ReportInterval(0, (1.0,))], **COMMON),
        lambda: usage_report(readings=[], **COMMON),
    ],
)
def test_builders_refuse_bad_values(call: Any) -> None:
    with pytest.raises(ValueError, match=r".+"):
        call()


def _event(descriptors: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": "e1",
        "programID": "p1",
        "intervalPeriod": {"start": "2026-07-01T12:00:00Z", "duration": "PT1H"},
        "intervals": [{"id": 0, "payloads": [{"type": "SIMPLE", "values": [1]}]}],
        "reportDescriptors": descriptors,
    }


def test_scheduler_end_of_event_and_cadence() -> None:
    event = parse_event(
        _event(
            [
                {"payloadType": "USAGE"},  # defaults: once, after the last interval
                {"payloadType": "OPERATING_STATE", "frequency": 0},  # ad hoc: on the cadence
                {"payloadType": "BASELINE", "frequency": 0},  # not something we produce
            ]
        )
    )
    timeline = TimelineBuilder().build([event], T0)
    scheduler = ReportScheduler("ven-1", cadence=timedelta(minutes=15))
    first = scheduler.due([event], timeline, T0)
    assert [(d.payload_type, d.name) for d in first] == [
        ("OPERATING_STATE", "ven-1/e1/OPERATING_STATE/1")
    ]
    assert scheduler.due([event], timeline, T0 + timedelta(minutes=10)) == []
    later = scheduler.due([event], timeline, T0 + timedelta(minutes=61))
    assert sorted(d.name for d in later) == [
        "ven-1/e1/OPERATING_STATE/2",
        "ven-1/e1/USAGE/1",
    ]
    # The end-of-event report is sent once, also after a restart.
    restored = ReportScheduler("ven-1", cadence=timedelta(minutes=15))
    restored.restore_state(scheduler.export_state())
    again = restored.due([event], timeline, T0 + timedelta(minutes=62))
    assert again == []
    assert [d.name for d in restored.due([event], timeline, T0 + timedelta(minutes=80))] == [
        "ven-1/e1/OPERATING_STATE/3"
    ]


def test_build_due_report_needs_the_reading() -> None:
    event = parse_event(_event([{"payloadType": "STORAGE_CHARGE_LEVEL", "frequency": 0}]))
    (due,) = ReportScheduler("ven-1").due([event], TimelineBuilder().build([event], T0), T0)
    assert build_due_report(due, DeviceReadings(), resource_name="r", now=T0) is None
    body = build_due_report(due, DeviceReadings(charge_percent=40), resource_name="r", now=T0)
    assert body is not None
    assert body["reportName"] == due.name
    assert body["clientName"] == "ven-1"
