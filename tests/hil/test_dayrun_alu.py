"""The simulated day asks the heater for Advanced Load Up as the gateway would, and the planner
sees what commissioning learnt (docs/planner.md, "Storing above the set point")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hil.dayrun import HourPrice, _device, _send, commission, simulate_day
from hil.heater import SimulatedHeater
from hil.scenarios import build_thermal_model, heater_config_for
from ven_edge.command_policy import Outcome
from ven_edge.control import ControlPlan, PlanInputs, PlannedCommand, SendCommand
from ven_edge.cta2045.command_kind import CommandKind
from ven_edge.heater_commands import supports_advanced_load_up
from ven_edge.units import f_to_c

T0 = datetime(2026, 2, 17, tzinfo=UTC)
MODEL = "Rheem2020Prem50"


def heater() -> SimulatedHeater:
    thermal = build_thermal_model(MODEL, "doe-low")
    return SimulatedHeater(heater_config_for(thermal.tank.model), thermal, now=0.0)


def test_commissioning_finds_the_advanced_load_up_capability() -> None:
    sim = heater()
    assert supports_advanced_load_up(_device(sim, commission(sim, 0.0)))
    assert not supports_advanced_load_up(_device(sim, commission(sim, 0.0, basic_only=True)))


def test_the_heater_takes_advanced_load_up_and_stores_above_its_set_point() -> None:
    sim = heater()
    set_point_c = f_to_c(sim.set_point_f)
    command = SendCommand(CommandKind.ADVANCED_LOAD_UP, 3 * 3600, "store", None, 1500)
    assert _send(sim, command, 0.0) is Outcome.ACCEPTED
    hottest = sim.state.tank_temp_c
    for minute in range(1, 3 * 60):
        sim.tick(60.0 * minute)
        hottest = max(hottest, sim.state.tank_temp_c)
    assert hottest > set_point_c + 1.0


def test_an_advanced_load_up_without_energy_is_not_sent() -> None:
    sim = heater()
    command = SendCommand(CommandKind.ADVANCED_LOAD_UP, 3600, "store", None, None)
    assert _send(sim, command, 0.0) is Outcome.REJECTED
    assert sim.alu_extra_wh == 0


class StoreAll:
    """A planner that asks for Advanced Load Up over the whole day, with what it saw."""

    def __init__(self) -> None:
        self.capable: list[bool] = []

    def __call__(self, inputs: PlanInputs) -> ControlPlan:
        self.capable.append(supports_advanced_load_up(inputs.device))
        end = inputs.now + timedelta(hours=3)
        command = PlannedCommand(inputs.now, end, CommandKind.ADVANCED_LOAD_UP, "store", None, 1500)
        return ControlPlan(made_at=inputs.now, commands=(command,))


def test_the_day_sends_advanced_load_up_and_basic_only_hides_it() -> None:
    prices = [HourPrice(T0 + timedelta(hours=h), 0.1) for h in range(3)]
    planner = StoreAll()
    day = simulate_day(prices, planner, model=MODEL, draws="doe-low")
    sent = [(c.kind, c.wh, o) for _, c, o in day.commands]
    assert (CommandKind.ADVANCED_LOAD_UP, 1500, Outcome.ACCEPTED) in sent
    assert planner.capable
    assert all(planner.capable)
    basic = StoreAll()
    simulate_day(prices, basic, model=MODEL, draws="doe-low", basic_only=True)
    assert basic.capable
    assert not any(basic.capable)
