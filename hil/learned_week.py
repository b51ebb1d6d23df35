"""The week before a simulated day, lived in normal mode, as the gateway's learner saw it.

The benchmark (bench/grid_value.py) plans each day with the draw profile learned from the
preceding simulated week of the same household, the first week from the default (docs/planner.md,
"Planned with the week before"). This module lives that week: the same heater (HPWHsim model file,
stratified tank behind the 49 °C mixing valve, the product's own thermostat, no command) runs
``days`` days before the planned day's start, and every ``poll_s`` seconds its readings (stored
energy, energy used, tank temperature rounded to the whole °F the heater reports, docs/cta2045.md
§9.3) go to the gateway's own learner, :func:`ven_edge.run.household_for`.

A real household does not repeat the DOE pattern to the minute: each simulated day moves every
draw by up to :data:`SHIFT_S` either way and scales its volume by up to :data:`SCALE` either way,
from a generator seeded with the household and the date, so a run is reproducible and the
planned day (which the bench runs on the exact pattern) is not a copy of the week learned from.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hil.draws import DAY_S, Draw, DrawProfile, load_draw_profile
from hil.heater import SimulatedHeater
from hil.hpwh_model import MODELS_DIR
from hil.scenarios import build_thermal_model, heater_config_for
from hil.tank import DEFAULT_VALVE_C
from ven_edge.config import parse_config
from ven_edge.control import ControlPlan, PlanInputs, Planner
from ven_edge.household import DrawForecast, Household
from ven_edge.run import household_for
from ven_edge.units import c_to_f, f_to_c

#: Largest move of a draw's start from the pattern's, either way (seconds).
SHIFT_S = 20 * 60.0
#: Largest relative change of a draw's volume, either way.
SCALE = 0.15
#: How often the UCM reads the heater (docs/cta2045.md §14: the gateway polls every minute).
POLL_S = 60.0


@dataclass(frozen=True, slots=True)
class LearnedWeek:
    forecast: DrawForecast
    observations: int  # hours of the week the learner counted
    learned_kwh: float  # the draws it counted over the week (before any blend with the default)
    delivered_kwh: float  # heat the household actually took over the week (the truth)


def varied_week(draws: str, seed: str, days: int = 7) -> DrawProfile:
    """``days`` days of the pattern ``draws``, each draw moved and scaled (module docstring)."""
    pattern = load_draw_profile(draws)
    rng = random.Random(seed)
    varied: list[Draw] = []
    for day in range(days):
        for draw in pattern.draws:
            start = day * DAY_S + draw.start_s + rng.uniform(-SHIFT_S, SHIFT_S)
            volume = draw.volume_l * (1.0 + rng.uniform(-SCALE, SCALE))
            varied.append(Draw(max(0.0, start), volume, draw.flow_l_per_min))
    return DrawProfile(name=f"{draws} varied", draws=tuple(varied), period_s=days * DAY_S)


def learn_week(
    model: str,
    draws: str,
    before: datetime,
    *,
    days: int = 7,
    poll_s: float = POLL_S,
    vary: bool = True,
    household: Household | None = None,
) -> LearnedWeek:
    """Live ``days`` days ending at ``before`` (the planned day's start, when the day's draw
    pattern begins) in normal mode and learn them; ``vary=False`` repeats the pattern exactly."""
    profile = (
        varied_week(draws, f"{model}/{draws}/{before:%Y-%m-%d}", days)
        if vary
        else load_draw_profile(draws)
    )
    thermal = build_thermal_model(model, profile, mixing_valve_c=DEFAULT_VALVE_C)
    heater = SimulatedHeater(heater_config_for(thermal.tank.model), thermal, now=0.0)
    config = parse_config({"heater": {"model": str(Path(MODELS_DIR) / f"{model}.json")}})
    if household is None:
        household = household_for(config)
    household.tz = UTC
    start = before - timedelta(days=days)
    delivered0 = thermal.reading.totals.delivered_wh
    t = 0.0
    while True:  # the first reading at the week's start, then one every poll_s
        state = heater.state
        household.observe(
            start + timedelta(seconds=t),
            stored_kwh=state.stored_wh / 1000.0,
            used_kwh=state.energy_used_wh / 1000.0,
            capacity_kwh=state.capacity_wh / 1000.0,
            serial=heater.config.serial,
            tank_c=f_to_c(round(c_to_f(state.tank_temp_c))),
        )
        if t >= days * DAY_S:
            break
        t += poll_s
        heater.tick(t)
    return LearnedWeek(
        forecast=household.forecast(),
        observations=household.observations,
        learned_kwh=sum(household.to_json()["means_kwh"]),
        delivered_kwh=(thermal.reading.totals.delivered_wh - delivered0) / 1000.0,
    )


def planning_with(planner: Planner, forecast: DrawForecast) -> Planner:
    """``planner`` given ``forecast`` as the household's draws, as the daemon gives it the
    learner's (:meth:`ven_edge.daemon.Daemon.replan`)."""

    def plan(inputs: PlanInputs) -> ControlPlan:
        return planner(replace(inputs, draw=forecast))

    return plan
