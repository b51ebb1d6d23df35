"""The cheapest hour-by-hour command schedule for a simulated day, with perfect foresight.

:func:`hil.dayrun.lp_optimum` is a reference on the planner's own linear model: the heat normal
mode put into the water, moved freely within the tank's usable capacity at one efficiency. It is
not a bound for the stratified tank, where a set-point raise or a load up changes the COP and the
standby loss. This reference is searched on the same simulated heater as the day itself
(:mod:`hil.dayrun`: HPWHsim model file, stratified tank behind the mixing valve, the heater's own
thermostat under each CTA-2045 command), knowing the day's draws and prices in advance.

How it is solved (docs/planner.md, "The tank optimum"): dynamic programming over the hours of the
day with the simulator as the transition. At the start of every hour each kept state is run
through the hour under each command of :data:`COMMANDS` (normal, shed, load up, Advanced Load Up
at its largest boost, and a set-point raise to the heater's maximum when a mixing valve is fitted,
the user's set point restored in every other hour). The states reached are discretised by stored
energy (:data:`BUCKET_KWH`): of the states in one bucket only the cheapest so far is kept, the
usual approximation of dynamic programming on a continuous state. A state whose valve outlet went
below the comfort floor (min(43 °C, normal mode's lowest that day)) or whose delivered heat fell
more than 1 % of the day's below normal mode's so far is dropped. At the end, each state is
charged (or credited) for the heat it leaves in the tank against normal mode's, at normal mode's
effective COP and the day's mean price (the bench's "fair" cost), and the cheapest state that
delivered at least 99 % of normal mode's heat is the optimum.

Limits: it is exact only up to the discretisation (two states with the same stored energy but a
different stratification are merged into the cheaper), it commands on the hour (the planner may
command at any step), the comfort and delivery rules are enforced hour by hour as they are
checked on the day, and Advanced Load Up is tried at one energy only. It is a reference to compare
against, not a schedule a gateway can follow: it knows the draws to the minute.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Sequence
from dataclasses import dataclass

from hil.dayrun import COMFORT_FLOOR_C, DayResult, HourPrice
from hil.heater import DrEvent, SimulatedHeater
from hil.scenarios import TankThermalModel, build_thermal_model, heater_config_for
from hil.tank import DEFAULT_VALVE_C, StratifiedTank
from ven_edge.units import c_to_f

#: Width of a stored-energy bucket: states closer than this are merged into the cheaper.
BUCKET_KWH = 0.2
STEP_S = 60.0  # as hil.dayrun steps the day
HOUR_S = 3600.0
#: Set point a raise goes to: ``heater.max_set_point_c``'s default, 60 °C.
RAISE_TO_C = 60.0
#: Delivered heat kept against normal mode's (the bench's comfort rule).
MIN_DELIVERED = 0.99


class Command(enum.Enum):
    NORMAL = "normal"
    SHED = "shed"
    LOAD_UP = "load up"
    ADVANCED_LOAD_UP = "advanced load up"
    SET_POINT = "set point"


COMMANDS = tuple(Command)


@dataclass(frozen=True, slots=True)
class TankOptimum:
    cost: float  # $ of electricity over the day
    fair_cost: float  # with the heat left in the tank valued against normal mode's
    commands: tuple[Command, ...]  # one per hour
    delivered_kwh: float
    min_outlet_c: float
    states: int  # states simulated through an hour (the work done)


@dataclass(slots=True)
class _State:
    heater: SimulatedHeater
    cost: float
    min_outlet_c: float
    commands: tuple[Command, ...]


def _copy(heater: SimulatedHeater) -> SimulatedHeater:
    """An independent heater: the tank's temperatures and accounts copied, its model and draw
    profile (never changed by a run) shared."""
    tank = copy.copy(_tank(heater))
    tank.t = list(tank.t)
    twin = copy.copy(heater)
    twin.thermal = TankThermalModel(tank)
    twin.log = []
    return twin


def _command(heater: SimulatedHeater, command: Command, user_f: int, now: float) -> None:
    """Put the heater under ``command`` for the hour from ``now`` (as the gateway's frames do)."""
    heater.set_point_f = user_f
    heater.event, heater.event_ends_at, heater.alu_extra_wh = DrEvent.NONE, None, 0
    heater.last_comm_at = now
    if command is Command.SET_POINT:
        heater.set_point_f = min(round(c_to_f(RAISE_TO_C)), heater.config.max_set_point_f)
    elif command is not Command.NORMAL:
        heater.event = {
            Command.SHED: DrEvent.SHED,
            Command.LOAD_UP: DrEvent.LOAD_UP,
            Command.ADVANCED_LOAD_UP: DrEvent.ADVANCED_LOAD_UP,
        }[command]
        heater.event_ends_at = now + HOUR_S
        if command is Command.ADVANCED_LOAD_UP:
            heater.alu_extra_wh = round(heater.state.capacity_wh)  # the largest boost


def tank_optimum(
    prices: Sequence[HourPrice],
    normal: DayResult,
    *,
    model: str = "Rheem2020Prem50",
    draws: str = "doe-medium",
    mixing_valve_c: float | None = DEFAULT_VALVE_C,
    bucket_kwh: float = BUCKET_KWH,
    commands: Sequence[Command] | None = None,
) -> TankOptimum | None:
    """The cheapest schedule (module docstring); None when no schedule keeps comfort (normal
    mode's own is always one of them, so only a discretisation too coarse gives None)."""
    thermal = build_thermal_model(model, draws, mixing_valve_c=mixing_valve_c)
    start = SimulatedHeater(heater_config_for(thermal.tank.model), thermal, now=0.0)
    user_f = start.set_point_f
    floor_c = min(COMFORT_FLOOR_C, normal.min_outlet_c)
    if commands is None:
        commands = COMMANDS if mixing_valve_c is not None else COMMANDS[:-1]
    hours = len(prices)
    delivered_normal = normal.delivered_kwh
    delivered_slack = (1.0 - MIN_DELIVERED) * delivered_normal
    hourly_delivered = normal.hourly_delivered_kwh or [delivered_normal / hours] * hours
    frontier = [_State(start, 0.0, 100.0, ())]
    work = 0
    delivered0 = _delivered_kwh(start)
    owed = 0.0
    for hour in range(hours):
        price = prices[hour].price
        owed += hourly_delivered[hour]
        kept: dict[int, _State] = {}
        for state in frontier:
            for command in commands:
                heater = _copy(state.heater)
                tank = _tank(heater)
                t = hour * HOUR_S
                _command(heater, command, user_f, t)
                used = tank.totals().electric_wh
                lowest = state.min_outlet_c
                while t < (hour + 1) * HOUR_S - 1e-6:
                    t += STEP_S
                    heater.last_comm_at = t  # the UCM's heartbeat
                    heater.tick(t)
                    lowest = min(lowest, tank.outlet_c)
                work += 1
                if lowest < floor_c - 1e-9:
                    continue
                if _delivered_kwh(heater) - delivered0 < owed - delivered_slack:
                    continue
                cost = state.cost + (tank.totals().electric_wh - used) / 1000.0 * price
                key = round(heater.state.stored_wh / 1000.0 / bucket_kwh)
                best = kept.get(key)
                if best is None or cost < best.cost:
                    kept[key] = _State(heater, cost, lowest, (*state.commands, command))
        frontier = list(kept.values())
        if not frontier:
            return None
    heat = sum(normal.hourly_heat_kwh)
    cop = heat / normal.energy_kwh if normal.energy_kwh > 0 and heat > 0 else 1.0
    mean_price = sum(p.price for p in prices) / hours
    best_state: _State | None = None
    best_fair = 0.0
    for state in frontier:
        if _delivered_kwh(state.heater) - delivered0 < MIN_DELIVERED * delivered_normal:
            continue
        end = state.heater.state.stored_wh / 1000.0
        fair = state.cost - (end - normal.end_stored_kwh) / cop * mean_price
        if best_state is None or fair < best_fair:
            best_state, best_fair = state, fair
    if best_state is None:
        return None
    return TankOptimum(
        cost=best_state.cost,
        fair_cost=best_fair,
        commands=best_state.commands,
        delivered_kwh=_delivered_kwh(best_state.heater) - delivered0,
        min_outlet_c=best_state.min_outlet_c,
        states=work,
    )


def _tank(heater: SimulatedHeater) -> StratifiedTank:
    thermal = heater.thermal
    assert isinstance(thermal, TankThermalModel)
    return thermal.tank


def _delivered_kwh(heater: SimulatedHeater) -> float:
    return _tank(heater).totals().delivered_wh / 1000.0
