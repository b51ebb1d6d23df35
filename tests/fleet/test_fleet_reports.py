"""Planning inputs on the wire: the gateway's report, the VTN's strict reading of it, and the
report scheduler answering a planning request with one report (docs/fleet-planner.md)."""

from __future__ import annotations

import copy
import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ven_edge.oadr3.eventparse import parse_event
from ven_edge.oadr3.planning import (
    MAX_INTERVALS,
    PLANNING_INPUTS,
    PlanningInputs,
    PlanningReportError,
    parse_planning_report,
    planning_report,
)
from ven_edge.oadr3.readings import DeviceReadings
from ven_edge.oadr3.reports import ReportScheduler, build_due_report
from ven_edge.signals import SignalTimeline

T0 = datetime(2026, 2, 17, 12, 0, tzinfo=UTC)
N = 96


def inputs(**changes: Any) -> PlanningInputs:
    values: dict[str, Any] = {
        "start": T0,
        "stored_kwh": 6.0,
        "capacity_kwh": 10.0,
        "reserve_kwh": 2.0,
        "end_min_kwh": 5.0,
        "draw_kwh": tuple(0.1 + 0.01 * (k % 7) for k in range(N)),
        "hp_kw": (0.5,) * N,
        "hp_cop": tuple(3.0 + 0.001 * k for k in range(N)),
        "element_kw": (4.5,) * N,
    }
    values.update(changes)
    return PlanningInputs(**values)


def body(p: PlanningInputs | None = None) -> dict[str, Any]:
    return planning_report(
        p or inputs(), event_id="req", client_name="ven-1", resource_name="heater", name="n"
    )


def test_the_report_round_trips() -> None:
    original = inputs()
    back = parse_planning_report(json.loads(json.dumps(body(original))))
    assert back.start == T0
    assert back.stored_kwh == pytest.approx(6.0)
    assert back.capacity_kwh == 10.0
    assert (back.reserve_kwh, back.end_min_kwh) == (2.0, 5.0)
    assert back.draw_kwh == pytest.approx(original.draw_kwh)
    assert back.hp_cop == pytest.approx(original.hp_cop)
    assert back.element_kw == original.element_kw


def test_the_report_uses_the_standard_payload_types_and_units() -> None:
    report = body()
    types = {d["payloadType"]: d.get("units") for d in report["payloadDescriptors"]}
    assert types["STORAGE_CHARGE_LEVEL"] == "PERCENT"
    assert types["STORAGE_USABLE_CAPACITY"] == "KWH"
    assert types["STORAGE_MAX_CHARGE_POWER"] == "KW"
    assert types["USAGE_FORECAST"] == "KWH"
    first = report["resources"][0]["intervals"][0]
    assert first["intervalPeriod"] == {"start": "2026-02-17T12:00:00Z", "duration": "PT15M"}
    payloads = {p["type"]: p["values"] for p in first["payloads"]}
    assert payloads["STORAGE_CHARGE_LEVEL"] == [60.0]
    assert payloads["STORAGE_MAX_CHARGE_POWER"] == [5.0]  # heat pump and element together
    assert len(json.dumps(report)) < 40_000  # bounded


def test_standard_payloads_alone_still_plan() -> None:
    report = body()
    for interval in report["resources"][0]["intervals"]:
        interval["payloads"] = [
            p for p in interval["payloads"] if not p["type"].startswith("HPWH_")
        ]
    back = parse_planning_report(report)
    assert back.hp_kw == (5.0,) * N
    assert back.hp_cop == (1.0,) * N
    assert back.element_kw == (0.0,) * N
    assert back.reserve_kwh == 0.0
    assert back.end_min_kwh == pytest.approx(6.0)


def _set(report: dict[str, Any], k: int, kind: str, values: list[Any]) -> dict[str, Any]:
    out = copy.deepcopy(report)
    for payload in out["resources"][0]["intervals"][k]["payloads"]:
        if payload["type"] == kind:
            payload["values"] = values
    return out


@pytest.mark.parametrize(
    ("k", "kind", "values", "where"),
    [
        (0, "STORAGE_CHARGE_LEVEL", [float("nan")], "values[0]"),
        (0, "STORAGE_CHARGE_LEVEL", [150.0], "STORAGE_CHARGE_LEVEL"),
        (3, "USAGE_FORECAST", [1e308 * 10], "values[0]"),
        (3, "USAGE_FORECAST", [10**400], "values[0]"),
        (3, "USAGE_FORECAST", [-1.0], "draw_kwh[3]"),
        (5, "HPWH_HEAT_SOURCES", [0.5, 0.0, 4.5], "hp_cop[5]"),
        (5, "HPWH_HEAT_SOURCES", [0.5, 3.0], "HPWH_HEAT_SOURCES"),
        (5, "HPWH_HEAT_SOURCES", [0.5, 3.0, "4.5"], "values[2]"),
        (7, "STORAGE_MAX_CHARGE_POWER", [True], "values[0]"),
        (0, "STORAGE_USABLE_CAPACITY", [1e9], "STORAGE_USABLE_CAPACITY"),
    ],
)
def test_bad_values_are_refused_with_their_path(
    k: int, kind: str, values: list[Any], where: str
) -> None:
    with pytest.raises(PlanningReportError, match=r"\S") as caught:
        parse_planning_report(_set(body(), k, kind, values))
    assert where in str(caught.value)


def test_bad_shapes_are_refused() -> None:
    report = body()
    too_many = copy.deepcopy(report)
    too_many["resources"][0]["intervals"] *= 3
    with pytest.raises(PlanningReportError, match=f"more than {MAX_INTERVALS}"):
        parse_planning_report(too_many)
    gap = copy.deepcopy(report)
    del gap["resources"][0]["intervals"][10]
    with pytest.raises(PlanningReportError, match="not contiguous"):
        parse_planning_report(gap)
    hourly = copy.deepcopy(report)
    hourly["resources"][0]["intervals"][0]["intervalPeriod"]["duration"] = "PT1H"
    with pytest.raises(PlanningReportError, match="duration"):
        parse_planning_report(hourly)
    for broken in ({}, {"resources": "x"}, {"resources": [{}, {}]}, [], None, "text"):
        with pytest.raises(PlanningReportError):
            parse_planning_report(broken)


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150)
@given(k=st.integers(0, N - 1), slot=st.integers(0, 5), value=_JSON)
def test_any_value_anywhere_parses_or_is_refused_cleanly(k: int, slot: int, value: Any) -> None:
    report = body()
    payloads = report["resources"][0]["intervals"][k]["payloads"]
    payload = payloads[slot % len(payloads)]
    payload["values"] = value if slot % 2 else [value]
    try:
        back = parse_planning_report(report)
    except PlanningReportError:
        return
    for series in (back.draw_kwh, back.hp_kw, back.hp_cop, back.element_kw):
        assert all(math.isfinite(v) and v >= 0 for v in series)
    assert 0 <= back.stored_kwh <= back.capacity_kwh


# -- the gateway's scheduler -----------------------------------------------------------------

REQUEST = {
    "id": "req",
    "programID": "fleet",
    "eventName": "fleet-planning-inputs",
    "intervalPeriod": {"start": "2026-02-17T00:00:00Z", "duration": "PT0S"},
    "intervals": [],
    "reportDescriptors": [
        {"payloadType": kind, "frequency": 0}
        for kind in (
            "STORAGE_CHARGE_LEVEL",
            "STORAGE_USABLE_CAPACITY",
            "STORAGE_MAX_CHARGE_POWER",
            "USAGE_FORECAST",
            "HPWH_HEAT_SOURCES",
            "HPWH_COMFORT_LIMITS",
        )
    ],
}


def test_a_planning_request_is_answered_by_one_report_per_cadence() -> None:
    event = parse_event(REQUEST)
    scheduler = ReportScheduler("ven-1", cadence=timedelta(minutes=15))
    due = scheduler.due([event], SignalTimeline(), T0)
    assert [d.payload_type for d in due] == [PLANNING_INPUTS]
    assert scheduler.due([event], SignalTimeline(), T0 + timedelta(minutes=5)) == []
    again = scheduler.due([event], SignalTimeline(), T0 + timedelta(minutes=15))
    assert [d.name for d in again] == ["ven-1/req/PLANNING_INPUTS/2"]
    report = build_due_report(
        due[0], DeviceReadings(), resource_name="heater", now=T0, planning=inputs()
    )
    assert report is not None
    assert report["reportName"] == "ven-1/req/PLANNING_INPUTS/1"
    assert parse_planning_report(report).capacity_kwh == 10.0
    # Without planning inputs (the planner cannot tell yet) the report waits.
    assert build_due_report(due[0], DeviceReadings(), resource_name="heater", now=T0) is None


def test_an_event_that_asks_only_the_charge_level_is_no_planning_request() -> None:
    event = parse_event(
        {**REQUEST, "reportDescriptors": [{"payloadType": "STORAGE_CHARGE_LEVEL", "frequency": 0}]}
    )
    due = ReportScheduler("ven-1").due([event], SignalTimeline(), T0)
    assert [d.payload_type for d in due] == ["STORAGE_CHARGE_LEVEL"]
