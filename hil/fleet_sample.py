"""Sample fleets for the fleet planner: HPWHsim model files × DOE draw patterns × seeded states.

Each heater's :class:`~ven_edge.plan.problem.Problem` is built the way the gateway's builder
does (ven_edge/plan/builder.py): storage is the heat above the minimum useful temperature up to
60 °C (advanced load up), the reserve a fifth of the heat at the set point, the end target the
starting charge (at least the reserve), the heat pump's capacity and COP from the model's
performance map at the air and a mid-tank water temperature, the element as the model gives
it, standby loss added to the draw.
The draw is the DOE 24-hour pattern's heat behind a 49 °C mixing valve, shifted by a seeded
number of minutes per heater (households do not all shower at the test's minute). Used by
bench/fleet.py and the fleet planner's tests.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from hil.dayrun import load_hoep_days
from hil.draws import DAY_S, DrawProfile, doe_profile
from ven_edge.plan.builder import MIN_USEFUL_C
from ven_edge.plan.hpwh_model import WATER_KWH_PER_L_K, HpwhModel
from ven_edge.plan.problem import Problem, Source
from ven_edge.plan.scheduler import schedule
from vtn_lite.fleet.model import FleetHeater, FleetProblem

MODELS_DIR = Path(__file__).resolve().parent.parent / "sample_data"
MODEL_NAMES = ("AOSmithHPTU50", "AOSmithHPTU80", "Rheem2020Prem50", "Rheem2020Prem80")
DRAW_NAMES = ("doe-low", "doe-medium", "doe-high")
MAINS_C = 14.4
VALVE_C = 49.0
WATER_C = 50.0
#: The most a heater may store (advanced load up, behind the mixing valve; the FSEC/PNNL
#: prototype went to 62.8 °C): a tank held at its 51.7 °C set point has too little heat above
#: 43.3 °C to carry a DOE high-use morning.
STORE_C = 60.0
STEPS = 96
STEP_HOURS = 0.25


@cache
def _model(name: str) -> HpwhModel:
    return HpwhModel.load(MODELS_DIR / "hpwh_models" / f"{name}.json")


@cache
def _draw_kwh(name: str, shift_steps: int) -> tuple[float, ...]:
    profile: DrawProfile = doe_profile(name)
    per_litre = WATER_KWH_PER_L_K * (VALVE_C - MAINS_C)
    step_s = STEP_HOURS * 3600.0
    out = []
    for k in range(STEPS):
        t0 = ((k - shift_steps) * step_s) % DAY_S
        out.append(profile.litres_between(t0, t0 + step_s) * per_litre)
    return tuple(out)


def heater_problem(
    model_name: str, draws: str, *, shift_steps: int, soc_share: float, air_c: float
) -> Problem:
    """One heater's problem (prices zero: the program's replace them)."""
    model = _model(model_name)
    mass = model.heat_capacity_kwh_per_k
    normal = mass * (model.setpoint_c - MIN_USEFUL_C)
    capacity = mass * (max(STORE_C, model.setpoint_c) - MIN_USEFUL_C)
    reserve = 0.2 * normal
    soc = soc_share * normal
    loss = max(0.0, model.ua_w_per_k * (model.setpoint_c - air_c) / 1000.0) * STEP_HOURS
    load = tuple(x + loss for x in _draw_kwh(draws, shift_steps))
    hp = model.capacity_kw(air_c, WATER_C) * STEP_HOURS
    cop = model.cop(air_c, WATER_C)
    n = STEPS
    sources = [Source("heat_pump", (cop,) * n, (hp,) * n, (0.0,) * n)]
    if model.element_kw > 0:
        sources.append(
            Source("element", (1.0,) * n, (model.element_kw * STEP_HOURS,) * n, (0.0,) * n)
        )
    return Problem(
        step_hours=STEP_HOURS,
        price=(0.0,) * n,
        load_kwh=load,
        soc_kwh=soc,
        soc_min_kwh=reserve,
        soc_max_kwh=capacity,
        soc_end_min_kwh=min(max(soc, reserve), capacity),
        sources=tuple(sources),
    )


def sample_heaters(count: int, *, groups: int = 1, seed: int = 1) -> list[FleetHeater]:
    """``count`` heaters dealt round-robin into ``groups`` groups named g00, g01, ...

    A household whose draw its tank cannot carry even alone (a big morning draw on a nearly
    cold tank: about one in a thousand) is drawn again, so the fleet's limits are what decides
    feasibility."""
    rng = random.Random(seed)
    out: list[FleetHeater] = []
    while len(out) < count:
        model = rng.choice(MODEL_NAMES)
        draws = rng.choice(DRAW_NAMES)
        if draws == "doe-high" and not model.endswith("80"):
            # A 50-gallon tank cannot carry the high-use pattern's morning (4 kWh of heat in a
            # quarter hour) even at 60 °C: such a household has the 80-gallon tank.
            model = model[:-2] + "80"
        problem = heater_problem(
            model,
            draws,
            # The DOE test day starts with its morning draws; households start theirs near 6:00.
            shift_steps=24 + rng.randrange(-8, 9),
            soc_share=rng.uniform(0.35, 1.0),
            air_c=rng.uniform(15.0, 24.0),
        )
        if schedule(problem).feasible:
            i = len(out)
            out.append(FleetHeater(f"ven-{i:05d}", f"g{i % groups:02d}", problem))
    return out


#: The price drop of :func:`price_with_drop`: 13:00, as a step index.
DROP_HOUR = 13
DROP_STEP = DROP_HOUR * 4


def price_with_drop(
    day: int = 100, drop_hour: int = DROP_HOUR, hours: int = 2, share: float = 0.3
) -> tuple[float, ...]:
    """A HOEP day (+ retail adder) at 15-minute steps, its price cut to ``share`` of itself for
    ``hours`` from ``drop_hour``: the cheap window every heater alone pre-heats in."""
    hourly = [p.price for p in load_hoep_days([day])[0]]
    for h in range(drop_hour, drop_hour + hours):
        hourly[h] *= share
    per_step = STEPS // 24
    return tuple(p for p in hourly for _ in range(per_step))


def fleet_problem(
    heaters: Sequence[FleetHeater], price: tuple[float, ...], limits_kw: dict[str, float]
) -> FleetProblem:
    """The problem with a flat limit per group."""
    return FleetProblem(
        step_hours=STEP_HOURS,
        price=price,
        heaters=tuple(heaters),
        limits_kw={g: (kw,) * len(price) for g, kw in limits_kw.items()},
    )
