"""A heater on its own at the program's prices: its problem and its exact-scheduler schedule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from ven_edge.plan.problem import Plan, Problem
from ven_edge.plan.scheduler import schedule
from vtn_lite.fleet.model import FleetHeater, HeaterSchedule


def with_program_price(heater: FleetHeater, price: tuple[float, ...]) -> Problem:
    """The heater's problem at the program's prices (its own price series is not used)."""
    if heater.problem.price == price:
        return heater.problem
    return replace(heater.problem, price=price)


def alone_schedule(heater: FleetHeater, plan: Plan, step_hours: float) -> HeaterSchedule:
    """The schedule of ``plan``, the exact scheduler's answer to the heater's own problem."""
    problem = heater.problem
    power = [0.0] * problem.n
    for source in problem.sources:
        for t, (h, c) in enumerate(zip(plan.heat_kwh[source.name], source.cop, strict=True)):
            power[t] += h / c / step_hours
    return HeaterSchedule(
        ven_name=heater.ven_name,
        group=heater.group,
        power_kw=tuple(power),
        heat_kwh=dict(plan.heat_kwh),
        soc_kwh=tuple(plan.soc_kwh),
        cost=float(plan.cost),
        unserved_kwh=float(plan.unserved_kwh),
    )


@dataclass
class AloneSplit:
    """A group's heaters split by whether each can keep its own bounds alone."""

    #: Schedules of the heaters that cannot (least unserved energy), planned alone.
    alone: list[HeaterSchedule] = field(default_factory=list)
    rest: list[FleetHeater] = field(default_factory=list)
    rest_problems: list[Problem] = field(default_factory=list)
    rest_plans: list[Plan] = field(default_factory=list)
    #: The alone heaters' electrical import per step (kWh): a fixed load on the group's limit.
    background_kwh: list[float] = field(default_factory=list)


def split_alone(
    heaters: Sequence[FleetHeater], price: tuple[float, ...], step_hours: float
) -> AloneSplit:
    """Each heater's own optimum at the program's prices, and the split it gives."""
    out = AloneSplit(background_kwh=[0.0] * len(price))
    for heater in heaters:
        problem = with_program_price(heater, price)
        plan = schedule(problem)
        if plan.feasible:
            out.rest.append(heater)
            out.rest_problems.append(problem)
            out.rest_plans.append(plan)
        else:
            item = alone_schedule(heater, plan, step_hours)
            out.alone.append(item)
            for t, kw in enumerate(item.power_kw):
                out.background_kwh[t] += kw * step_hours
    return out
