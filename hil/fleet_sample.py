"""Sample fleets for the fleet planner: HPWHsim model files × DOE draw patterns × seeded states.

Each heater's :class:`~ven_edge.plan.problem.Problem` is built the way the gateway's builder
does (ven_edge/plan/builder.py): storage is the heat above the minimum useful temperature up to
60 °C (advanced load up), the reserve a fifth of the heat at the set point, the end target the
starting charge (at least the reserve), the heat pump's capacity and COP from the model's
performance map at the air and a mid-tank water temperature, the element as the model gives
it, standby loss added to the draw. The draw is the DOE 24-hour pattern's heat behind a 49 °C
mixing valve, started near 6:00 and shifted by a seeded number of quarter hours (up to ±2 h:
households do not all shower at the test's minute). :func:`follow` runs a planned schedule on
the household's simulated stratified tank (hil.tank). Used by bench/fleet.py and the fleet
planner's tests.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from hil.dayrun import load_hoep_days
from hil.draws import DAY_S, HOUSEHOLD_PATTERNS, DrawProfile, doe_profile
from hil.hpwh_model import load_model
from hil.tank import Conditions, StratifiedTank
from ven_edge.plan.builder import MIN_USEFUL_C
from ven_edge.plan.hpwh_model import WATER_KWH_PER_L_K, HpwhModel
from ven_edge.plan.problem import Problem, Source
from ven_edge.plan.scheduler import schedule
from vtn_lite.fleet.model import FleetHeater, FleetProblem, HeaterSchedule

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_data"
MODEL_NAMES = ("AOSmithHPTU50", "AOSmithHPTU80", "Rheem2020Prem50", "Rheem2020Prem80")
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
    return HpwhModel.load(SAMPLE_DIR / "hpwh_models" / f"{name}.json")


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


@dataclass(frozen=True)
class Household:
    """What a sample heater was built from: enough to build its simulated tank too."""

    model: str
    draws: str
    shift_steps: int
    soc_share: float
    air_c: float

    def problem(self) -> Problem:
        return heater_problem(
            self.model,
            self.draws,
            shift_steps=self.shift_steps,
            soc_share=self.soc_share,
            air_c=self.air_c,
        )


def sample_households(
    count: int, *, groups: int = 1, seed: int = 1
) -> list[tuple[Household, FleetHeater]]:
    """``count`` households and their heaters, dealt round-robin into ``groups`` groups named
    g00, g01, ...

    A household whose draw its tank cannot carry even alone (a big morning draw on a nearly
    cold tank: about one in a thousand) is drawn again, so the fleet's limits are what decides
    feasibility."""
    rng = random.Random(seed)
    out: list[tuple[Household, FleetHeater]] = []
    while len(out) < count:
        model = rng.choice(MODEL_NAMES)
        draws = rng.choice(HOUSEHOLD_PATTERNS)
        if draws == "doe-high" and not model.endswith("80"):
            # A 50-gallon tank cannot carry the high-use pattern's morning (4 kWh of heat in a
            # quarter hour) even at 60 °C: such a household has the 80-gallon tank.
            model = model[:-2] + "80"
        household = Household(
            model,
            draws,
            # The DOE test day starts with its morning draws; households start theirs near 6:00.
            shift_steps=24 + rng.randrange(-8, 9),
            soc_share=rng.uniform(0.35, 1.0),
            air_c=rng.uniform(15.0, 24.0),
        )
        problem = household.problem()
        if schedule(problem).feasible:
            i = len(out)
            out.append((household, FleetHeater(f"ven-{i:05d}", f"g{i % groups:02d}", problem)))
    return out


def sample_heaters(count: int, *, groups: int = 1, seed: int = 1) -> list[FleetHeater]:
    """The heaters of :func:`sample_households`."""
    return [heater for _, heater in sample_households(count, groups=groups, seed=seed)]


@dataclass(frozen=True)
class _Controls:
    setpoint_c: float
    deadband_c: float
    element_allowed: bool
    heat_pump_allowed: bool


def follow(household: Household, plan: HeaterSchedule) -> tuple[list[float], float]:
    """Electrical kW per step, and the lowest outlet temperature at the valve at a step's end,
    of the household's simulated tank (hil.tank, stratified, behind the
    mixing valve) uses when it follows ``plan``: in each step each source runs for the share of
    the step its planned heat is of its most (thermostat at the storage ceiling, so a running
    source is not stopped early by it), then rests."""
    product = load_model(household.model)
    problem = household.problem()
    mass = _model(household.model).heat_capacity_kwh_per_k
    tank = StratifiedTank(
        product,
        doe_profile(household.draws),
        conditions=Conditions(ambient_c=household.air_c, inlet_c=MAINS_C),
        initial_temp_c=MIN_USEFUL_C + problem.soc_kwh / mass,
        start_s=(-household.shift_steps * STEP_HOURS * 3600.0) % DAY_S,
        mixing_valve_c=VALVE_C,
    )
    step_s = STEP_HOURS * 3600.0
    shares = []
    for source in problem.sources:
        planned = plan.heat_kwh[source.name]
        shares.append(
            [h / m if m > 0 else 0.0 for h, m in zip(planned, source.max_kwh, strict=True)]
        )
    if len(shares) == 1:
        shares.append([0.0] * problem.n)
    out = []
    coldest = tank.reading().outlet_c
    used = tank.reading().totals.electric_wh
    for hp, el in zip(*shares, strict=True):
        both = min(hp, el)
        phases = ((both, True, True), (hp - both, True, False), (el - both, False, True))
        rest = step_s
        for share, pump, element in phases:
            if share > 1e-9:
                seconds = min(share, 1.0) * step_s
                tank.advance(seconds, _Controls(STORE_C, 0.5, element, pump))
                rest -= seconds
        if rest > 1e-9:
            tank.advance(rest, _Controls(STORE_C, 0.5, False, False))
        reading = tank.reading()
        coldest = min(coldest, reading.outlet_c)
        out.append((reading.totals.electric_wh - used) / 1000.0 / STEP_HOURS)
        used = reading.totals.electric_wh
    return out, coldest


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
