"""Build the planning :class:`~ven_edge.plan.problem.Problem` from signals and device state.

Prices come from the :class:`~ven_edge.signals.SignalTimeline`: whatever intervals the VTN sent
(irregular, packed sub-intervals, gaps, overlapping events resolved by priority) are turned into a
piecewise-constant price and averaged over each plan step, weighted by time. Steps with no price
at all take ``PlannerConfig.gap_price`` or, when that is None, the time-weighted mean of the known
prices in the horizon (a neutral value: a gap neither attracts nor repels heating). An
``IMPORT_CAPACITY_LIMIT`` (kW) caps the electric input of the sources together in that step.

Stored energy is the heat above the minimum useful temperature. It comes from the device's
CTA-2045 commodity readings when present (present energy storage and total storage capacity, Wh)
and otherwise from the tank temperature and the tank's thermal mass.

Heat-pump capacity and COP come from an HPWHsim model file (:mod:`ven_edge.plan.hpwh_model`) at
the air and water temperatures; configuration may override every capacity. Standby loss
(UA × (tank − air)) is added to the draw, since the scheduler's tank is lossless.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ven_edge.plan.hpwh_model import HpwhModel
from ven_edge.plan.problem import Problem, Source
from ven_edge.signal_profile import Profile, winner_profile
from ven_edge.signals import SignalTimeline, Value

PRICE = "PRICE"
IMPORT_CAPACITY_LIMIT = "IMPORT_CAPACITY_LIMIT"
#: Lowest delivery temperature a shower accepts (110 °F), zero of stored energy (docs/hpwh.md §5.2).
MIN_USEFUL_C = 43.3
#: DOE 24-hour test conditions: 67.5 °F air (10 CFR 430 Subpart B, Appendix E).
DOE_AIR_C = 19.7
#: Water temperature at the condenser assumed when the tank temperature is unknown (°C).
DEFAULT_WATER_C = 45.0


#: Expected thermal draw (kWh) in ``[start, end)``: a household's learned profile
#: (:class:`ven_edge.household.DrawForecast`) replaces ``PlannerConfig.draw_kwh_by_hour``.
DrawProfile = Callable[[datetime, datetime], float]


class BuildError(ValueError):
    """The signals, device state and configuration do not give a plannable problem."""


@dataclass(frozen=True, slots=True)
class DeviceState:
    """What the planner reads from the water heater; every field is optional.

    ``stored_wh``/``capacity_wh`` are CTA-2045 commodity readings (present energy storage and
    total energy storage capacity, in Wh). ``tank_c`` is the tank (or upper-tank) temperature and
    ``air_c`` the air around the heat pump.
    """

    stored_wh: float | None = None
    capacity_wh: float | None = None
    tank_c: float | None = None
    air_c: float | None = None


@dataclass(frozen=True, slots=True)
class PlannerConfig:
    """Installer settings for the planner. Capacities given here win over the model file."""

    step: timedelta = timedelta(hours=1)
    horizon: timedelta = timedelta(hours=24)
    #: Thermal draw per hour of the day (24 values, kWh), in ``draw_utc_offset`` local time.
    draw_kwh_by_hour: tuple[float, ...] = (0.35,) * 24
    draw_utc_offset: timedelta = timedelta(0)
    #: Stored energy kept in reserve, as a fraction of the capacity.
    reserve_fraction: float = 0.2
    #: End-of-horizon target as a fraction of capacity; None = the starting stored energy.
    end_fraction: float | None = None
    capacity_kwh: float | None = None
    setpoint_c: float | None = None
    #: Tank temperature an advanced load up may reach (needs a mixing valve; the FSEC/PNNL
    #: prototype went to 62.8 °C). None: never plan storage above the set point.
    advanced_load_up_c: float | None = None
    min_useful_c: float = MIN_USEFUL_C
    air_c: float = DOE_AIR_C
    hp_max_kw: float | None = None
    hp_cop: float | None = None
    element_kw: float | None = None
    element_enabled: bool = True
    include_standby_loss: bool = True
    #: Keep the largest expected hour of draws in the tank above the reserve (docs/planner.md,
    #: "A planner that knows the tank": measured, it left almost nothing to shift, so it is off).
    reserve_peak_hour: bool = False
    #: Least share of the heat the thermostat holds at its set point (above the mains) the plan
    #: keeps in the tank, when the readings give the mains temperature: below it the heater's
    #: own controls bring in the resistance element. Measured (docs/planner.md): 0.48.
    min_stored_share: float = 0.48
    #: Count as storage only the heat up to the set point when the readings allow (the
    #: thermostat stops there); False keeps the heater's own capacity reading.
    clip_to_setpoint: bool = False
    gap_price: float | None = None


def _number(kind: str, value: Value, t: datetime) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BuildError(f"{kind} value {value!r} at {t.isoformat()} is not a number")
    if not math.isfinite(value):
        raise BuildError(f"{kind} value {value!r} at {t.isoformat()} is not finite")
    return float(value)


def _average(profile: Profile, kind: str, start: datetime, end: datetime) -> float | None:
    """Time-weighted mean of the winning numeric value of ``kind`` over [start, end), counting
    only the time covered by a value; None when nothing covers any of it."""
    covered = 0.0
    total = 0.0
    for t, seg_end, interval in profile.pieces(start, end):
        if interval is not None:
            value = _number(kind, interval.value_at(t), t)
            seconds = (seg_end - t).total_seconds()
            covered += seconds
            total += value * seconds
    return None if covered == 0 else total / covered


def average_price(prices: Profile, start: datetime, end: datetime) -> float | None:
    """The time-weighted mean price the utility sent over [start, end) (None: no price). Within
    a step the expected draw is spread evenly, so this is the energy-weighted mean too."""
    try:
        return _average(prices, PRICE, start, end)
    except BuildError:
        return None  # a price that is not a number is no price to show or cite


def _minimum(profile: Profile, start: datetime, end: datetime) -> float | None:
    """Smallest winning numeric value during [start, end) (limits bind at their tightest), or
    None."""
    best: float | None = None
    for t, _, interval in profile.pieces(start, end):
        value = None if interval is None else interval.value_at(t)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            best = float(value) if best is None else min(best, float(value))
    return best


def resample_prices(
    timeline: SignalTimeline | Profile,
    start: datetime,
    step: timedelta,
    n: int,
    gap: float | None,
) -> tuple[float, ...]:
    """Price per plan step (see the module docstring for gaps). Prices shorter than a step are
    averaged into it; one sweep of the timeline (or its PRICE profile, if given) serves every
    step."""
    prices = timeline if isinstance(timeline, Profile) else winner_profile(timeline, PRICE)
    return prices_between(prices, [start + k * step for k in range(n + 1)], gap)


def resample_draw(
    by_hour: Sequence[float], offset: timedelta, start: datetime, step: timedelta, n: int
) -> tuple[float, ...]:
    """Thermal draw per plan step from an hour-of-day profile, by overlap with each hour."""
    return draw_between(by_hour, offset, [start + k * step for k in range(n + 1)])


def prices_between(
    prices: Profile, bounds: Sequence[datetime], gap: float | None
) -> tuple[float, ...]:
    """Price per step between consecutive ``bounds``, as :func:`resample_prices` does."""
    raw = [_average(prices, PRICE, a, b) for a, b in itertools.pairwise(bounds)]
    known = [p for p in raw if p is not None]
    if gap is None:
        if not known:
            raise BuildError("no PRICE signal covers the planning horizon and no gap_price is set")
        gap = sum(known) / len(known)
    return tuple(gap if p is None else p for p in raw)


def draw_between(
    by_hour: Sequence[float], offset: timedelta, bounds: Sequence[datetime]
) -> tuple[float, ...]:
    """Thermal draw per step between consecutive ``bounds``, by overlap with each hour."""
    if len(by_hour) != 24:
        raise BuildError(f"draw_kwh_by_hour needs 24 values, got {len(by_hour)}")
    hour = timedelta(hours=1)
    out = []
    for a, b in itertools.pairwise(bounds):
        local = a + offset
        cursor = local.replace(minute=0, second=0, microsecond=0)
        energy = 0.0
        while cursor < b + offset:
            lo = max(cursor, local)
            hi = min(cursor + hour, b + offset)
            if hi > lo:
                energy += by_hour[cursor.hour] * ((hi - lo) / hour)
            cursor += hour
        out.append(energy)
    return tuple(out)


def _draw_kwh(draw: DrawProfile, start: datetime, step: timedelta) -> float:
    value = draw(start, start + step)
    if not math.isfinite(value) or value < 0:
        raise BuildError(f"draw profile gave {value!r} kWh at {start.isoformat()}")
    return value


def _tank_mass(model: HpwhModel | None) -> float | None:
    return None if model is None else model.heat_capacity_kwh_per_k


def set_point_c(config: PlannerConfig, model: HpwhModel | None) -> float | None:
    """The set point the plan counts from: the configuration's, else the model file's."""
    if config.setpoint_c is not None:
        return config.setpoint_c
    return None if model is None else model.setpoint_c


def stored_energy(
    state: DeviceState, config: PlannerConfig, model: HpwhModel | None
) -> tuple[float, float]:
    """(stored kWh, normal capacity kWh), both above the minimum useful temperature.

    The normal capacity is the energy at the set point; the stored energy may exceed it after an
    advanced load up (never below zero). Pass the capacity to
    :func:`~ven_edge.plan.commands.plan_to_commands` as ``normal_capacity_kwh``.
    """
    mass = _tank_mass(model)
    setpoint = set_point_c(config, model)
    capacity = config.capacity_kwh
    if capacity is None and state.capacity_wh is not None:
        capacity = state.capacity_wh / 1000.0
    if capacity is None and mass is not None and setpoint is not None:
        capacity = mass * (setpoint - config.min_useful_c)
    if capacity is None or not math.isfinite(capacity) or capacity <= 0:
        raise BuildError(
            "storage capacity unknown: set capacity_kwh, or give a model file, "
            "or let the device report its total energy storage capacity"
        )
    if state.stored_wh is not None:
        stored = state.stored_wh / 1000.0
    elif state.tank_c is not None and mass is not None:
        stored = mass * (state.tank_c - config.min_useful_c)
    elif state.tank_c is not None and setpoint is not None:
        stored = capacity * (state.tank_c - config.min_useful_c) / (setpoint - config.min_useful_c)
    else:
        raise BuildError("stored energy unknown: no commodity reading and no tank temperature")
    if not math.isfinite(stored):
        raise BuildError(f"stored energy {stored} is not finite")
    return max(stored, 0.0), capacity


def inlet_c(state: DeviceState, model: HpwhModel | None) -> float | None:
    """The mains temperature implied by a stored-energy reading counted from it (CTA-2045
    present energy storage, as the simulated heater reports it) and the mean tank temperature:
    T_mains = T_tank − stored / thermal mass. None when a reading is missing or the answer is
    not a plausible mains temperature (the reading then counts from something else)."""
    mass = _tank_mass(model)
    if state.stored_wh is None or state.tank_c is None or not mass:
        return None
    mains = state.tank_c - state.stored_wh / 1000.0 / mass
    return mains if 0.0 <= mains <= 30.0 else None


def storage_ceiling(capacity: float, config: PlannerConfig, model: HpwhModel | None) -> float:
    """The most the plan may store: the normal capacity, or more with advanced load up."""
    alu = config.advanced_load_up_c
    setpoint = set_point_c(config, model)
    if alu is None:
        return capacity
    if setpoint is None or alu <= setpoint:
        raise BuildError(f"advanced_load_up_c {alu} must be above the set point {setpoint}")
    mass = _tank_mass(model)
    if mass:
        # What the tank's water takes from the set point up to the advanced load up's
        # temperature: the capacity reading may count from the mains, not the useful minimum.
        return capacity + mass * (alu - setpoint)
    return capacity * (alu - config.min_useful_c) / (setpoint - config.min_useful_c)


def normal_capacity(ceiling: float, config: PlannerConfig, model: HpwhModel | None) -> float:
    """The normal capacity whose :func:`storage_ceiling` is ``ceiling``: what the heater's own
    thermostat stores, without an advanced load up."""
    alu = config.advanced_load_up_c
    setpoint = set_point_c(config, model)
    if alu is None or setpoint is None or alu <= setpoint:
        return ceiling
    mass = _tank_mass(model)
    if mass:
        return max(ceiling - mass * (alu - setpoint), 0.0)
    return ceiling * (setpoint - config.min_useful_c) / (alu - config.min_useful_c)


def build_problem(
    timeline: SignalTimeline,
    state: DeviceState,
    config: PlannerConfig,
    now: datetime,
    model: HpwhModel | None = None,
    prices: Profile | None = None,
    bounds: Sequence[datetime] | None = None,
    draw: DrawProfile | None = None,
) -> Problem:
    """The problem for the horizon starting at ``now`` (aware), one interval per ``config.step``
    or, when ``bounds`` is given, one per pair of consecutive bounds (``bounds[0]`` is ``now``;
    :func:`ven_edge.plan.grid.step_bounds`). Energies per interval scale with its length;
    ``step_hours`` stays the nominal step.

    ``prices`` is ``timeline``'s PRICE :func:`~ven_edge.signal_profile.winner_profile`, when the
    caller has it already; ``draw``, when given, is the expected draw per step instead of
    ``config.draw_kwh_by_hour``."""
    if now.tzinfo is None:
        raise BuildError("now must be timezone-aware")
    if config.step <= timedelta(0) or config.horizon < config.step:
        raise BuildError(f"step {config.step} must be positive and within horizon {config.horizon}")
    if bounds is None:
        bounds = [now + k * config.step for k in range(int(config.horizon / config.step) + 1)]
    elif len(bounds) < 2 or bounds[0] != now:
        raise BuildError("step bounds must start at now and hold at least one step")
    n = len(bounds) - 1
    step_h = config.step / timedelta(hours=1)
    hours = [(b - a) / timedelta(hours=1) for a, b in itertools.pairwise(bounds)]
    price = prices_between(
        winner_profile(timeline, PRICE) if prices is None else prices, bounds, config.gap_price
    )
    if draw is None:
        load = list(draw_between(config.draw_kwh_by_hour, config.draw_utc_offset, bounds))
    else:
        load = [_draw_kwh(draw, a, b - a) for a, b in itertools.pairwise(bounds)]

    stored, capacity = stored_energy(state, config, model)
    mains = inlet_c(state, model)
    setpoint = set_point_c(config, model)
    mass = _tank_mass(model)
    if (
        mains is not None
        and mass is not None
        and setpoint is not None
        and config.capacity_kwh is None
        and config.clip_to_setpoint
    ):
        # The thermostat stops at the set point: a reading of the whole tank up to its
        # highest temperature is storage only an advanced load up may use.
        capacity = min(capacity, mass * (setpoint - mains))
    ceiling = storage_ceiling(capacity, config, model)
    # A tank above what the plan may use (a sensor overshoot) plans from the ceiling.
    stored = min(stored, ceiling)
    air = state.air_c if state.air_c is not None else config.air_c
    water = state.tank_c if state.tank_c is not None else DEFAULT_WATER_C
    if config.include_standby_loss and model is not None:
        tank = model.setpoint_c if state.tank_c is None else state.tank_c
        loss_kw = max(0.0, model.ua_w_per_k * (tank - air) / 1000.0)
        load = [x + loss_kw * h for x, h in zip(load, hours, strict=True)]

    hp_kw = config.hp_max_kw
    cop = config.hp_cop
    if model is not None:
        hp_kw = model.capacity_kw(air, water) if hp_kw is None else hp_kw
        cop = model.cop(air, water) if cop is None else cop
    if hp_kw is None or cop is None:
        raise BuildError("heat-pump capacity and COP unknown: set hp_max_kw and hp_cop or a model")
    element_kw = config.element_kw
    if element_kw is None:
        element_kw = model.element_kw if model is not None else 0.0

    limits = winner_profile(timeline, IMPORT_CAPACITY_LIMIT)
    hp_max, el_max = [], []
    for k in range(n):
        limit = _minimum(limits, bounds[k], bounds[k + 1])
        hp = hp_kw if limit is None else min(hp_kw, max(limit, 0.0) * cop)
        # The limit is on both sources together: the element gets what the heat pump leaves
        # (the pump makes more heat per kWh, so a plan uses it first).
        el = element_kw if limit is None else min(element_kw, max(limit - hp / cop, 0.0))
        hp_max.append(hp * hours[k])
        el_max.append(el * hours[k] if config.element_enabled else 0.0)

    sources = [Source("heat_pump", (cop,) * n, tuple(hp_max), (0.0,) * n)]
    if config.element_enabled and element_kw > 0:
        sources.append(Source("element", (1.0,) * n, tuple(el_max), (0.0,) * n))
    # Optionally the largest hour of draws is always in the tank on top of the configured
    # reserve, so that hour is served from water above it.
    peak_hour = max(config.draw_kwh_by_hour) if config.reserve_peak_hour else 0.0
    reserve = min(config.reserve_fraction * capacity + peak_hour, 0.8 * capacity)
    if mains is not None and mass is not None and setpoint is not None:
        # The heater's own controls: a stratified tank with less than about half the heat its
        # thermostat holds has cold water up at the upper sensor, and the heater brings in its
        # resistance element to recover (docs/planner.md, "A planner that knows the tank").
        held = config.min_stored_share * mass * (setpoint - mains)
        reserve = max(reserve, min(held, 0.8 * capacity))
    if config.end_fraction is None:
        end = min(max(stored, reserve), capacity)
    else:
        end = min(max(config.end_fraction * capacity, reserve), capacity)
    return Problem(
        step_hours=step_h,
        price=price,
        load_kwh=tuple(load),
        soc_kwh=stored,
        soc_min_kwh=reserve,
        soc_max_kwh=ceiling,
        soc_end_min_kwh=end,
        sources=tuple(sources),
    )
