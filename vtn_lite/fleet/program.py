"""A heater on its own at the program's prices: its problem and its exact-scheduler schedule."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

from ven_edge.plan.problem import Plan, Problem
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
        heat_kwh=MappingProxyType(dict(plan.heat_kwh)),
        soc_kwh=tuple(plan.soc_kwh),
        cost=float(plan.cost),
        unserved_kwh=float(plan.unserved_kwh),
    )
