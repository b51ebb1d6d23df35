"""What a plan and normal mode cost on the planner's tank, and the COP the plan's own tank
temperatures give.

The scheduler's problem is linear because each step's COP is fixed in advance. The heat pump's
COP falls as the water around its condenser warms (the model file's performance map,
docs/hpwh.md §5.1), so a plan that stores more heats at a worse COP than the first problem assumed.
:func:`cop_fixed_point` solves the problem again with each step's COP taken at the mean tank
temperature the previous plan reaches in that step, a fixed point that settles in two or three
rounds (docs/planner.md, "A planner that knows the tank").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta

from ven_edge.cta2045.command_kind import CommandKind
from ven_edge.plan.hpwh_model import HpwhModel
from ven_edge.plan.problem import Plan, Problem
from ven_edge.plan.scheduler import schedule
from ven_edge.plan.thermostat import Thermostat, run

#: Rounds of the COP fixed point; measured: the plan's cost moves by less than 0.1 % after two.
COP_ROUNDS = 2


def cop_fixed_point(
    problem: Problem,
    hold: float,
    model: HpwhModel | None,
    air_c: float,
    mains_c: float | None,
    *,
    keep_input: bool = False,
) -> tuple[Problem, Plan]:
    """``(problem, plan)`` with the heat pump's COP and output in each step taken at the tank
    temperature the plan itself gives there. ``hold`` is the standby-loss share per hour
    (:func:`with_holding_cost`); without a model or a mains temperature the problem is kept.
    ``keep_input`` keeps each step's electric input within the problem's as given (an import
    limit is on electricity: a lower COP must not let the plan draw more)."""
    plan = schedule(with_holding_cost(problem, hold))
    if model is None or mains_c is None or model.heat_capacity_kwh_per_k <= 0:
        return problem, plan
    mass = model.heat_capacity_kwh_per_k
    pump = given = problem.sources[0]
    base_cop = pump.cop[0]
    base_kw = [m / problem.step_hours for m in pump.max_kwh]
    for _ in range(COP_ROUNDS):
        cops = []
        tops = []
        for t in range(problem.n):
            water = mains_c + 0.5 * (plan.soc_kwh[t] + plan.soc_kwh[t + 1]) / mass
            cop = model.cop(air_c, water)
            cops.append(cop if cop > 0 else base_cop)
            rated = model.capacity_kw(air_c, water)
            # Keep any limit the problem already had (an import capacity limit).
            scale = rated / max(model.capacity_kw(air_c, mains_c + problem.soc_kwh / mass), 1e-9)
            top = min(pump.max_kwh[t], base_kw[t] * problem.step_hours * scale)
            if keep_input:
                top = min(top, given.max_kwh[t] / given.cop[t] * cops[-1])
            tops.append(top)
        moved = replace(pump, cop=tuple(cops), max_kwh=tuple(max(x, 0.0) for x in tops))
        problem = replace(problem, sources=(moved, *problem.sources[1:]))
        plan = schedule(with_holding_cost(problem, hold))
    return problem, plan


def with_holding_cost(problem: Problem, loss_per_hour: float) -> Problem:
    """``problem`` with each step's price raised by the standby loss of heat held to the end.

    The scheduler's tank is lossless, so between equal prices it is indifferent to when it
    pre-heats and may fill the tank hours early; a real tank then loses heat all that time (and a
    heater under Load Up holds it above the set point). A kWh more in the tank raises its
    temperature by 1/C and its loss by UA/C per hour, so heat made in step t is worth
    (1 - loss)^(hours to the end) of heat made at the end and its price is divided by that:
    equal prices pre-heat as late as possible, and storing must pay for its loss. Prices at or
    below zero are left as they are (heating then is never worse).
    """
    n = problem.n
    keep = max(0.0, 1.0 - loss_per_hour * problem.step_hours)
    if keep >= 1.0 or keep <= 0.0:
        return problem
    price = tuple(p / keep ** (n - t) if p > 0 else p for t, p in enumerate(problem.price))
    return replace(problem, price=price)


def energy_cost(problem: Problem, plan: Plan) -> float:
    """What the plan's electricity costs at the problem's own prices and COPs."""
    total = 0.0
    for source in problem.sources:
        heat = plan.heat_kwh[source.name]
        total += sum(p * h / c for p, h, c in zip(problem.price, heat, source.cop, strict=True))
    return total


def normal_mode(
    problem: Problem,
    thermostat: Thermostat,
    cop_at: Callable[[float], float] | None = None,
) -> tuple[float, float, tuple[float, ...], tuple[float, ...]]:
    """``(cost, stored at the end, heat per step, stored at each step's start and the end)`` of
    the heater's own thermostat over the problem with no command (:func:`thermostat.run`
    with Normal throughout): the heat pump starts once the tank has fallen by its dead band and
    runs to the set point; the element holds the reserve. ``cop_at(stored)`` is the heat pump's
    COP with that much stored (the thermostat keeps the tank warmer than a plan that sheds, so
    it heats at its own COP); default: the problem's."""
    normal = run(problem, thermostat, [CommandKind.NORMAL] * problem.n, cop_at)
    return normal.cost, normal.end, normal.heat, normal.soc


def cop_by_storage(
    model: HpwhModel | None, air_c: float, mains_c: float | None
) -> Callable[[float], float] | None:
    """The heat pump's COP as a function of the stored heat (mean tank temperature above the
    mains), or None without a model or a mains temperature."""
    if model is None or mains_c is None or model.heat_capacity_kwh_per_k <= 0:
        return None
    mass = model.heat_capacity_kwh_per_k
    return lambda stored: model.cop(air_c, mains_c + max(stored, 0.0) / mass)


def end_value(problem: Problem, kwh: float) -> float:
    """What ``kwh`` of heat left in the tank at the end is worth: the horizon's mean price over
    the heat pump's mean COP (a day is cut out of a continuing life)."""
    pump = problem.sources[0]
    price = sum(problem.price) / problem.n
    cop = sum(pump.cop) / problem.n
    return kwh * price / cop


#: The draw forecast's error a plan must save against normal mode also with: every draw scaled
#: by ±30 %, or the whole profile an hour early or late (docs/planner.md, "Comfort first").
DRAW_SCALES = (0.7, 1.3)
DRAW_SHIFT = timedelta(hours=1)


def saves_with_draw_error(
    problem: Problem,
    thermostat: Thermostat,
    kinds: Sequence[CommandKind],
    cop_at: Callable[[float], float] | None,
    step: timedelta,
) -> bool:
    """Whether the commands ``kinds`` cost no more than normal mode, the heat left at the end
    valued (:func:`end_value`), also when the draws differ from the forecast by its usual error
    (:data:`DRAW_SCALES`, :data:`DRAW_SHIFT`; ``step`` is the problem's nominal step)."""
    shift = max(1, round(DRAW_SHIFT / step))
    load = problem.load_kwh
    others = [tuple(x * k for x in load) for k in DRAW_SCALES]
    if shift < problem.n:
        others.append(load[shift:] + load[-shift:])
        others.append(load[:shift] + load[:-shift])
    for drawn in others:
        other = replace(problem, load_kwh=drawn)
        normal = run(other, thermostat, [CommandKind.NORMAL] * other.n, cop_at)
        commanded = run(other, thermostat, kinds, cop_at)
        if commanded.cost + end_value(other, normal.end - commanded.end) > normal.cost + 1e-9:
            return False
    return True
