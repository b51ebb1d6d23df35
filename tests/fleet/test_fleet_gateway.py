"""The gateway in a planned fleet: which event is its schedule, following it, and falling back
to its own plan (docs/fleet-planner.md, "The gateway follows")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.devices import answering
from ven_edge.control import PlanInputs, PlanSource
from ven_edge.daemon import plan_for_page
from ven_edge.oadr3.eventparse import parse_event
from ven_edge.oadr3.planning import fleet_schedules
from ven_edge.plan.builder import PlannerConfig
from ven_edge.plan.exact_planner import ExactPlanner
from ven_edge.plan.fleet_follow import FleetAwarePlanner
from ven_edge.plan.hpwh_model import HpwhModel
from ven_edge.signals import SignalInterval, SignalTimeline

T0 = datetime(2026, 2, 17, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
Q = timedelta(minutes=15)
MODEL = HpwhModel.load(
    Path(__file__).resolve().parents[2] / "sample_data" / "hpwh_models" / "Rheem2020Prem50.json"
)
TANK = answering(
    operational_state=0, stored_energy_wh=5000, energy_capacity_wh=10000, present_temperature_c=50
)
REQUEST: dict[str, Any] = {
    "id": "req",
    "programID": "fleet",
    "intervalPeriod": {"start": "2026-02-17T00:00:00Z", "duration": "PT0S"},
    "intervals": [],
    "reportDescriptors": [{"payloadType": "USAGE_FORECAST", "frequency": 0}],
}


def schedule_event(ident: str, targets: list[str], program: str = "fleet") -> dict[str, Any]:
    return {
        "id": ident,
        "programID": program,
        "modificationDateTime": "2026-02-17T11:00:00Z",
        "intervalPeriod": {"start": "2026-02-17T12:00:00Z", "duration": "PT15M"},
        "intervals": [
            {"id": k, "payloads": [{"type": "IMPORT_CAPACITY_LIMIT", "values": [0.0]}]}
            for k in range(4)
        ],
        "targets": targets,
    }


def test_the_schedule_is_the_planning_program_event_naming_this_ven() -> None:
    events = [
        parse_event(REQUEST),
        parse_event(schedule_event("mine", ["ven-1"])),
        parse_event(schedule_event("theirs", ["ven-2"])),
        parse_event(schedule_event("untargeted", [])),
        # An IMPORT_CAPACITY_LIMIT in another program is a site envelope, not a schedule.
        parse_event(schedule_event("envelope", ["ven-1"], program="doe")),
    ]
    mine, others = fleet_schedules(events, "ven-1")
    assert mine == "mine"
    assert others == {"theirs", "untargeted"}
    # Without a planning request there is no planning program, hence no schedule.
    assert fleet_schedules(events[1:], "ven-1") == (None, frozenset())


def test_of_two_schedules_for_this_ven_the_newest_wins() -> None:
    old = {**schedule_event("old", ["ven-1"]), "modificationDateTime": "2026-02-16T11:00:00Z"}
    events = [parse_event(REQUEST), parse_event(old), parse_event(schedule_event("new", ["ven-1"]))]
    assert fleet_schedules(events, "ven-1") == ("new", frozenset({"old"}))


def prices(values: list[float]) -> tuple[SignalInterval, ...]:
    return tuple(
        SignalInterval(T0 + h * H, T0 + (h + 1) * H, "PRICE", (p,), None, "t")
        for h, p in enumerate(values)
    )


def limits(kw: list[float], start: datetime = T0) -> tuple[SignalInterval, ...]:
    return tuple(
        SignalInterval(
            start + k * Q, start + (k + 1) * Q, "IMPORT_CAPACITY_LIMIT", (v,), None, "sched"
        )
        for k, v in enumerate(kw)
    )


def planner() -> FleetAwarePlanner:
    return FleetAwarePlanner(ExactPlanner(PlannerConfig(step=Q), MODEL))


# Cheap for the first four hours, dear in the evening: alone, the heater loads up at once.
PRICES = prices([0.05] * 4 + [0.30] * 4 + [0.12] * 16)


def test_following_the_schedule_keeps_heat_within_its_limits() -> None:
    # The schedule forbids the first two cheap hours and allows 0.4 kW after them.
    schedule = limits([0.0] * 8 + [0.4] * 88)
    timeline = SignalTimeline(PRICES + schedule)
    plan = planner()(PlanInputs(T0, timeline, TANK, fleet_event="sched"))
    assert plan.source is not None
    assert plan.source.fleet
    assert plan.source.until == T0 + 24 * H
    for step in plan.steps:
        limit = 0.0 if step.start < T0 + 2 * H else 0.4
        assert step.input_kwh is not None
        assert step.input_kwh <= limit * 0.25 + 1e-9  # both heat sources together
    # Alone, it heats in the first two hours.
    own = planner()(PlanInputs(T0, SignalTimeline(PRICES), TANK))
    assert own.source is None
    assert sum(s.heat_kwh for s in own.steps if s.start < T0 + 2 * H) > 0.1


def test_a_schedule_that_ended_is_stale_and_the_gateway_plans_alone() -> None:
    schedule = limits([0.0] * 8, start=T0 - 3 * H)
    timeline = SignalTimeline(PRICES + schedule)
    plan = planner()(PlanInputs(T0, timeline, TANK, fleet_event="sched"))
    assert plan.source is not None
    assert not plan.source.fleet
    assert plan.source.reason == "stale"
    assert plan.source.since == T0 - H
    page = plan_for_page(plan, T0).as_json(UTC)
    source = page["source"]
    assert isinstance(source, dict)
    assert source["text"] == "Own plan: fleet schedule stale since 11:00"


def test_a_schedule_that_is_gone_is_said_so() -> None:
    p = planner()
    timeline = SignalTimeline(PRICES + limits([0.4] * 8))
    assert p(PlanInputs(T0, timeline, TANK, fleet_event="sched")).source == PlanSource(
        True, "following", until=T0 + 2 * H
    )
    # Withdrawn by the VTN before its end (the VEN's inputs went stale there) ...
    withdrawn = p(PlanInputs(T0 + H, SignalTimeline(PRICES), TANK))
    assert withdrawn.source == PlanSource(False, "no_schedule")
    # ... or over and no longer listed.
    over = p(PlanInputs(T0 + 3 * H, SignalTimeline(PRICES), TANK))
    assert over.source == PlanSource(False, "stale", since=T0 + 2 * H)


def test_a_schedule_not_yet_begun_is_not_followed() -> None:
    timeline = SignalTimeline(PRICES + limits([0.0] * 8, start=T0 + 2 * H))
    plan = planner()(PlanInputs(T0, timeline, TANK, fleet_event="sched"))
    assert plan.source is not None
    assert plan.source.reason == "not_started"


def test_the_comfort_floor_wins_over_the_schedule() -> None:
    # No power at all for a day: the tank would run below its reserve.
    timeline = SignalTimeline(PRICES + limits([0.0] * 96))
    plan = planner()(PlanInputs(T0, timeline, TANK, fleet_event="sched"))
    assert plan.source is not None
    assert not plan.source.fleet
    assert plan.source.reason == "comfort"
    assert sum(s.heat_kwh for s in plan.steps) > 1.0  # it heats as its own plan says
    text = plan_for_page(plan, T0).as_json(UTC)["source"]
    assert isinstance(text, dict)
    assert "too little hot water" in str(text["text"])


def test_the_following_text_gives_the_end_of_the_schedule() -> None:
    timeline = SignalTimeline(PRICES + limits([0.4] * 8))
    plan = planner()(PlanInputs(T0, timeline, TANK, fleet_event="sched"))
    source = plan_for_page(plan, T0).as_json(UTC)["source"]
    assert isinstance(source, dict)
    assert source["text"] == "Following the utility's fleet schedule until 14:00"


def test_planning_inputs_leave_the_schedule_out() -> None:
    p = planner()
    timeline = SignalTimeline(PRICES + limits([0.0] * 96))
    now = T0 + timedelta(minutes=7)
    inputs = p.planning_inputs(timeline, TANK, None, now, "sched")
    assert inputs.start == T0  # the quarter hour in progress
    assert inputs.n == 96
    assert min(inputs.hp_kw) > 0.1  # the fleet's own zero limits are not what the heater can do
    assert inputs.capacity_kwh == pytest.approx(10.0)
    assert inputs.stored_kwh == pytest.approx(5.0)
    assert inputs.reserve_kwh > 0
    # Taken as a limit of its own (no fleet event named), the same interval caps the inputs.
    capped = p.planning_inputs(timeline, TANK, None, now, None)
    assert max(capped.hp_kw) == 0.0
    assert max(capped.element_kw) == 0.0


async def test_a_pushed_schedule_for_another_ven_never_reaches_the_planner(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from ven_edge.grid_port import VtnGridPort
    from ven_edge.oadr3.client import VtnClient
    from ven_edge.oadr3.vtnhttp import VtnSettings
    from ven_edge.store import StateStore

    now = datetime(2026, 2, 17, 12, 5, tzinfo=UTC)
    client = VtnClient(
        VtnSettings(base_url="http://127.0.0.1:9/openadr3/3.1.0", ven_name="ven-1"),
        wall_clock=lambda: now,
    )
    grid = VtnGridPort(client, StateStore(tmp_path), clock=lambda: now)
    seen: list[SignalTimeline] = []
    grid.set_listener(seen.append)
    client.apply_event_notification("CREATE", REQUEST)
    client.apply_event_notification("CREATE", schedule_event("theirs", ["ven-2"]))
    grid._timeline(client.timeline)
    assert grid.labels().fleet_event is None
    assert not [i for i in seen[-1].intervals if i.kind == "IMPORT_CAPACITY_LIMIT"]
    assert "ignoring fleet schedule events theirs: they are for other VENs" in caplog.text
    client.apply_event_notification("CREATE", schedule_event("mine", ["ven-1"]))
    grid._timeline(client.timeline)
    assert grid.labels().fleet_event == "mine"
    assert {i.event_id for i in seen[-1].intervals if i.kind == "IMPORT_CAPACITY_LIMIT"} == {"mine"}
    await client.close()
