"""Small fleets for the planner's tests: sample households (hil.fleet_sample) on fewer steps."""

from __future__ import annotations

from dataclasses import replace

from hil.fleet_sample import price_with_drop, sample_heaters
from ven_edge.plan.problem import Problem
from vtn_lite.fleet.model import FleetHeater, FleetProblem

STEP_HOURS = 0.25


def cut(problem: Problem, start: int, n: int) -> Problem:
    """``n`` steps of ``problem`` from ``start`` (the end target stays the starting charge, so
    the heaters must buy back what they draw)."""
    return replace(
        problem,
        price=problem.price[start : start + n],
        load_kwh=problem.load_kwh[start : start + n],
        sources=tuple(
            replace(
                s,
                cop=s.cop[start : start + n],
                max_kwh=s.max_kwh[start : start + n],
                min_kwh=s.min_kwh[start : start + n],
            )
            for s in problem.sources
        ),
    )


def small_fleet(
    count: int, *, groups: int = 1, n: int = 24, start: int = 40, seed: int = 7
) -> tuple[list[FleetHeater], tuple[float, ...]]:
    """``count`` households over ``n`` steps around the sample's price drop (13:00)."""
    heaters = [
        replace(h, problem=cut(h.problem, start, n))
        for h in sample_heaters(count, groups=groups, seed=seed)
    ]
    return heaters, price_with_drop()[start : start + n]


def flat(
    heaters: list[FleetHeater], price: tuple[float, ...], limits: dict[str, float]
) -> FleetProblem:
    return FleetProblem(
        step_hours=STEP_HOURS,
        price=price,
        heaters=tuple(heaters),
        limits_kw={g: (kw,) * len(price) for g, kw in limits.items()},
    )
