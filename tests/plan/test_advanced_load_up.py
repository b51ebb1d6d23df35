"""Storage above the set point: planned only with a mixing valve and a heater that takes
Advanced Load Up (docs/planner.md, "Storing above the set point")."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from ven_edge.config import parse_config
from ven_edge.control import ControlPlan, PlanInputs
from ven_edge.cta2045.command_kind import CommandKind
from ven_edge.cta2045.device import DeviceInformationReply, DeviceSnapshot, LinkHealth
from ven_edge.cta2045.encodings import Capability
from ven_edge.cta2045.frames import MessageType
from ven_edge.plan.builder import PlannerConfig
from ven_edge.plan.exact_planner import ExactPlanner
from ven_edge.plan.fleet_follow import FleetAwarePlanner
from ven_edge.plan.rule_planner import RuleSettings
from ven_edge.run import planner_for
from ven_edge.signals import SignalInterval, SignalTimeline

T0 = datetime(2026, 2, 17, 0, 0, tzinfo=UTC)
#: Cheap nights, a dear evening: storing extra heat before it pays.
PRICES = [0.05] * 6 + [0.10] * 10 + [0.60] * 5 + [0.10] * 3
SET_POINT_C = 50.0
MAX_C = 60.0
CAPACITY_KWH = 3.0
PLAIN = PlannerConfig(
    step=timedelta(hours=1),
    capacity_kwh=CAPACITY_KWH,
    setpoint_c=SET_POINT_C,
    hp_max_kw=1.0,
    hp_cop=3.0,
    element_kw=None,
    draw_kwh_by_hour=(0.1,) * 16 + (0.8,) * 5 + (0.1,) * 3,
)
VALVE = replace(PLAIN, advanced_load_up_c=MAX_C)
#: What the heater may hold above the normal capacity (the builder's ratio without a model).
ROOM_KWH = CAPACITY_KWH * (MAX_C - SET_POINT_C) / (SET_POINT_C - PLAIN.min_useful_c)


def heater(*, alu: bool, intermediate: bool = True) -> DeviceSnapshot:
    caps = Capability.TEMPERATURE_OFFSET | (Capability.ADVANCED_LOAD_UP if alu else 0)
    types = {MessageType.BASIC_DR} | ({MessageType.INTERMEDIATE_DR} if intermediate else set())
    return DeviceSnapshot(
        operational_state=0,
        stored_energy_wh=round(1000 * CAPACITY_KWH * 0.6),
        energy_capacity_wh=round(1000 * CAPACITY_KWH),
        present_temperature_c=SET_POINT_C,
        supported_types=frozenset(types),
        device_info=DeviceInformationReply("B", 0x1234, 3, 1, int(caps)),
        commissioned=True,
        link=LinkHealth(connected=True),
    )


def plan(config: PlannerConfig, device: DeviceSnapshot) -> ControlPlan:
    signals = SignalTimeline(
        tuple(
            SignalInterval(T0 + timedelta(hours=h), T0 + timedelta(hours=h + 1), "PRICE", (p,))
            for h, p in enumerate(PRICES)
        )
    )
    return ExactPlanner(config)(PlanInputs(T0, signals, device))


def test_a_valve_and_a_capable_heater_store_above_the_set_point() -> None:
    made = plan(VALVE, heater(alu=True))
    alu = [c for c in made.commands if c.kind is CommandKind.ADVANCED_LOAD_UP]
    assert alu, [(c.kind, c.start) for c in made.commands]
    for command in alu:
        assert command.end is not None
        assert command.end > command.start
        # The energy is what the plan holds above normal, within what the tank may take.
        assert command.wh is not None
        assert 0 < command.wh <= round(1000 * ROOM_KWH)
        assert "storing extra heat" in command.reason
    # Before the dear evening, the plan holds more than the thermostat's own capacity.
    assert max(s.soc_kwh or 0.0 for s in made.steps) > CAPACITY_KWH + 0.1


@pytest.mark.parametrize(
    ("config", "device"),
    [
        (PLAIN, heater(alu=True)),  # no valve: the set point is the ceiling
        (VALVE, heater(alu=False)),  # the heater does not report the capability
        (VALVE, heater(alu=True, intermediate=False)),  # Basic DR messages only
    ],
)
def test_without_a_valve_or_the_capability_only_basic_load_up(
    config: PlannerConfig, device: DeviceSnapshot
) -> None:
    made = plan(config, device)
    assert CommandKind.ADVANCED_LOAD_UP not in {c.kind for c in made.commands}
    assert all(c.wh is None for c in made.commands)
    # Nothing stored above the thermostat's capacity.
    assert max(s.soc_kwh or 0.0 for s in made.steps) <= CAPACITY_KWH + 1e-6


def test_storage_never_goes_above_the_highest_set_point() -> None:
    made = plan(VALVE, heater(alu=True))
    assert max(s.soc_kwh or 0.0 for s in made.steps) <= CAPACITY_KWH + ROOM_KWH + 1e-6


def test_the_gateway_plans_above_the_set_point_only_with_a_valve() -> None:
    valve = parse_config({"heater": {"mixing_valve": True, "max_set_point_c": 58.0}})
    plain = parse_config({"heater": {"max_set_point_c": 58.0}})
    assert planner_for(valve).exact.config.advanced_load_up_c == 58.0
    assert planner_for(plain).exact.config.advanced_load_up_c is None


def test_a_valve_without_a_known_set_point_plans_and_reports_as_before() -> None:
    # No model file and no set point: nothing to count storage above, so nothing changes.
    valve = parse_config({"heater": {"mixing_valve": True}, "plan": {"tank_capacity_kwh": 3.0}})
    planner = planner_for(valve)
    device = heater(alu=True)
    assert planner.exact.config_for(device).advanced_load_up_c is None
    inputs = planner.planning_inputs(SignalTimeline(()), device, None, T0)
    assert inputs.capacity_kwh == pytest.approx(3.0)


def test_the_fleet_is_told_the_capacity_above_the_set_point_only_from_a_capable_heater() -> None:
    fleet = FleetAwarePlanner(ExactPlanner(VALVE), RuleSettings())
    capable = fleet.planning_inputs(SignalTimeline(()), heater(alu=True), None, T0)
    plain = fleet.planning_inputs(SignalTimeline(()), heater(alu=False), None, T0)
    assert plain.capacity_kwh == pytest.approx(CAPACITY_KWH)
    assert capable.capacity_kwh == pytest.approx(CAPACITY_KWH + ROOM_KWH)
