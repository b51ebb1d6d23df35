"""A group too large for one LP: dual-price decomposition with the exact scheduler per heater,
then a repair LP on the heaters that can move (docs/fleet-planner.md, "The decomposition").

Relaxing the group's limit row with a price adder lam[t] >= 0 per step splits the LP into the
heaters' own problems at the price ``price + lam``, each solved exactly by
:func:`ven_edge.plan.scheduler.schedule`; the sum of their optimal costs minus lam . limit is a
lower bound on the group's optimum (the Lagrangian bound) for every lam >= 0.

1. lam starts at the duals of the limit row of a small LP on a sample of the group with the
   limit scaled to the sample's share.
2. Projected subgradient steps raise lam where the aggregate exceeds the limit and lower it
   elsewhere. Each heater's schedules are averaged over the iterations (ergodic averaging: each
   average is a convex combination of feasible schedules, so it is feasible for the heater, and
   the averaged aggregate tends to the LP optimum's). Each heater's prices carry a tiny seeded
   perturbation, so that heaters facing equal prices in several steps (an hourly price on
   15-minute steps) do not all pick the same one.
3. Repair: the aggregate may still exceed the limit in some steps. The heaters drawing most in
   those steps (a few hundred) are planned again by one LP within what the others leave of the
   limit; the group is then within its limit in every step. If even that LP cannot be met, more
   heaters join it, up to the monolithic size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ven_edge.plan.problem import Problem
from vtn_lite.fleet import lp as lp_model
from vtn_lite.fleet.arrays import Array, HeaterArrays, Index
from vtn_lite.fleet.model import FleetHeater
from vtn_lite.fleet.outcome import GroupOutcome, schedules_from_heat
from vtn_lite.fleet.program import split_alone
from vtn_lite.fleet.shards import Shards, heat_of

#: Subgradient iterations (full passes of the exact scheduler over the group). Measured on the
#: sample fleets (docs/fleet-planner.md): 8 and 24 give the same cost to 0.01 %, the sample
#: LP's adder being close already; the repair LP takes what the average leaves over.
ITERATIONS = 8
#: Heaters in the LP that gives the starting price adder.
SAMPLE_HEATERS = 150
#: Heaters re-planned by the repair LP at first (doubled while it cannot meet the limit).
REPAIR_HEATERS = 300
#: Largest repair LP; beyond, the limit is reported as not kept.
REPAIR_MAX_HEATERS = 1000
#: Size of the tie-breaking perturbation, as a share of the price range.
PERTURBATION = 1e-4
SEED = 20_240_601
#: Subgradient step: the adder moves by this share of the price range when the aggregate
#: exceeds the limit by its mean (decreasing as 1/sqrt(k)).
STEP = 0.5


def solve(
    heaters: Sequence[FleetHeater],
    price: tuple[float, ...],
    step_hours: float,
    limit_kw: tuple[float, ...],
    *,
    workers: int = 1,
) -> GroupOutcome:
    """The group's plan; ``workers`` > 1 spreads the heaters' passes over that many processes."""
    price_arr = np.asarray(price, dtype=np.float64)
    limit = np.asarray(limit_kw, dtype=np.float64) * step_hours
    split = split_alone(heaters, price, step_hours)
    alone, rest = split.alone, split.rest
    if not rest:
        return GroupOutcome(alone, feasible=False)
    background = np.asarray(split.background_kwh)
    room = limit - background
    arrays = HeaterArrays.of(rest)
    first = heat_of(split.rest_plans, arrays.shape[1], arrays.shape[2])
    electric = (first / arrays.cop).sum(axis=1)
    if np.all(electric.sum(axis=0) <= lp_model.tightened(room)):
        # The limit does not bind: every heater's own optimum is the group's.
        cost = float((electric * price_arr).sum())
        return GroupOutcome(
            alone + schedules_from_heat(rest, arrays, first, price_arr, step_hours),
            feasible=not alone,
            lower_bound=cost,
        )
    heat, bound = _iterate(split.rest_problems, arrays, price_arr, room, workers)
    repaired = _repair(arrays, heat, price_arr, step_hours, room)
    if repaired is None:
        excess, least = _least_excess(arrays, heat, price_arr, step_hours, room)
        return GroupOutcome(
            alone + schedules_from_heat(rest, arrays, least, price_arr, step_hours),
            feasible=False,
            min_raise_kw=None if excess is None else excess / step_hours,
        )
    return GroupOutcome(
        alone + schedules_from_heat(rest, arrays, repaired, price_arr, step_hours),
        feasible=not alone,
        lower_bound=bound if math.isfinite(bound) else None,
    )


def _iterate(
    problems: Sequence[Problem], arrays: HeaterArrays, price: Array, room: Array, workers: int
) -> tuple[Array, float]:
    """Averaged heat (H, S, n) over the subgradient iterations, and the best Lagrangian bound."""
    count, width, n = arrays.shape
    spread = float(price.max() - price.min()) or max(float(np.abs(price).max()), 1e-3)
    rng = np.random.default_rng(SEED)
    eps = rng.uniform(0.0, PERTURBATION * spread, size=(count, n))
    # The most each heater could be charged for the perturbation: it bounds how far the
    # perturbed optimum can sit above the unperturbed one.
    eps_allowance = float((eps * (arrays.heat_hi / arrays.cop).sum(axis=1)).sum())
    lam = _sample_duals(problems, arrays, price, room)
    # A step of the adder moves it by a share of the price range per share of the limit
    # exceeded (the subgradient, in kWh, made dimensionless).
    scale = spread / max(float(np.abs(room).mean()), 1e-9)
    total = np.zeros(arrays.cop.shape)
    weight = 0.0
    best = -math.inf
    with Shards(problems, eps, width, workers) as shards:
        for k in range(ITERATIONS):
            heat = shards.run(price + lam)
            electric = (heat / arrays.cop).sum(axis=1)
            value = float((electric * (price + lam + eps)).sum())
            best = max(best, value - eps_allowance - float(lam @ room))
            # Later iterates sit nearer the optimum: weight them more.
            total += (1.0 + k) * heat
            weight += 1.0 + k
            over = electric.sum(axis=0) - room
            lam = np.maximum(0.0, lam + STEP / math.sqrt(k + 1) * scale * over)
    return total / weight, best


def _sample_duals(
    problems: Sequence[Problem], arrays: HeaterArrays, price: Array, room: Array
) -> Array:
    count, _, n = arrays.shape
    rng = np.random.default_rng(SEED)
    size = min(count, SAMPLE_HEATERS)
    picked = np.sort(rng.choice(count, size=size, replace=False))
    sample = _subset(arrays, picked)
    lp = lp_model.build(sample, price, problems[0].step_hours)
    solution = lp_model.solve_cost(lp, room * size / count)
    return np.zeros(n) if solution is None else solution.dual


def _subset(arrays: HeaterArrays, idx: Index) -> HeaterArrays:
    return HeaterArrays(
        load=arrays.load[idx],
        soc0=arrays.soc0[idx],
        soc_min=arrays.soc_min[idx],
        soc_max=arrays.soc_max[idx],
        soc_end=arrays.soc_end[idx],
        heat_lo=arrays.heat_lo[idx],
        heat_hi=arrays.heat_hi[idx],
        cop=arrays.cop[idx],
    )


def _movers(arrays: HeaterArrays, heat: Array, room: Array, size: int) -> Index:
    """The ``size`` heaters drawing most in the steps over the limit (all steps when none is)."""
    electric = (heat / arrays.cop).sum(axis=1)
    over = electric.sum(axis=0) > lp_model.tightened(room)
    weight = electric[:, over].sum(axis=1) if over.any() else electric.sum(axis=1)
    order = np.argsort(-weight, kind="stable")
    return np.sort(order[:size])


def _repair(
    arrays: HeaterArrays, heat: Array, price: Array, step_hours: float, room: Array
) -> Array | None:
    count = arrays.shape[0]
    size = min(count, REPAIR_HEATERS)
    electric = (heat / arrays.cop).sum(axis=1)
    while True:
        idx = _movers(arrays, heat, room, size)
        others = electric.sum(axis=0) - electric[idx].sum(axis=0)
        lp = lp_model.build(_subset(arrays, idx), price, step_hours)
        solution = lp_model.solve_cost(lp, room - others)
        if solution is not None:
            out = heat.copy()
            out[idx] = solution.heat
            return out
        if size >= min(count, REPAIR_MAX_HEATERS):
            return None
        size = min(count, REPAIR_MAX_HEATERS, size * 2)


def _least_excess(
    arrays: HeaterArrays, heat: Array, price: Array, step_hours: float, room: Array
) -> tuple[float | None, Array]:
    """The least raise (kWh per step) the largest repair LP can reach with the other heaters
    kept, and the cheapest heat within it: a raise that can be kept, not necessarily the least
    one (only the monolithic LP knows that)."""
    count = arrays.shape[0]
    idx = _movers(arrays, heat, room, min(count, REPAIR_MAX_HEATERS))
    electric = (heat / arrays.cop).sum(axis=1)
    others = electric.sum(axis=0) - electric[idx].sum(axis=0)
    lp = lp_model.build(_subset(arrays, idx), price, step_hours)
    excess = lp_model.solve_min_excess(lp, room - others)
    if excess is None:
        return None, heat
    raised = room - others + max(excess, 0.0)
    solution = lp_model.solve_cost(lp, raised + 2 * lp_model.LIMIT_MARGIN * (1 + np.abs(raised)))
    out = heat.copy()
    if solution is not None:
        out[idx] = solution.heat
    return max(excess, 0.0) + 2 * lp_model.LIMIT_MARGIN * (1 + float(np.abs(raised).max())), out
