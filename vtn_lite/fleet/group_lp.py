"""One group planned by the monolithic LP, infeasible limits included.

When the limit cannot be kept, two more LPs give the least raise of the limit (the same kW in
every step) and the least flat limit (the group's least possible peak); the schedules are then
the cheapest within the raised limit, so the group exceeds its limit as little as it can. A
heater that cannot keep its own comfort bounds even alone (its tank cannot serve its draw) makes
every limit infeasible: such heaters are planned alone by the exact scheduler (least unserved
energy), their import is taken off the limit and the rest of the group is planned within what
is left.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vtn_lite.fleet import lp as lp_model
from vtn_lite.fleet.arrays import Array, HeaterArrays
from vtn_lite.fleet.model import FleetHeater
from vtn_lite.fleet.outcome import GroupOutcome, schedules_from_heat
from vtn_lite.fleet.program import split_alone


def solve(
    heaters: Sequence[FleetHeater],
    price: tuple[float, ...],
    step_hours: float,
    limit_kw: tuple[float, ...],
) -> GroupOutcome:
    price_arr = np.asarray(price, dtype=np.float64)
    limit = np.asarray(limit_kw, dtype=np.float64) * step_hours
    arrays = HeaterArrays.of(heaters)
    lp = lp_model.build(arrays, price_arr, step_hours)
    solution = lp_model.solve_cost(lp, limit)
    if solution is not None:
        return GroupOutcome(
            schedules_from_heat(heaters, arrays, solution.heat, price_arr, step_hours),
            feasible=True,
            lower_bound=solution.fun,
        )
    return _infeasible(heaters, price, price_arr, step_hours, limit, np.zeros(len(price)))


def _infeasible(
    heaters: Sequence[FleetHeater],
    price: tuple[float, ...],
    price_arr: Array,
    step_hours: float,
    limit: Array,
    background: Array,
) -> GroupOutcome:
    arrays = HeaterArrays.of(heaters)
    lp = lp_model.build(arrays, price_arr, step_hours)
    excess = lp_model.solve_min_excess(lp, limit - background)
    if excess is None:
        return _split_alone_infeasible(heaters, price, price_arr, step_hours, limit)
    peak = lp_model.solve_min_excess(lp, -background)
    assert peak is not None  # the same rows as the excess LP, shifted
    raise_kwh = max(excess, 0.0)
    raised = limit - background + raise_kwh
    solution = lp_model.solve_cost(lp, raised + 2 * lp_model.LIMIT_MARGIN * (1 + np.abs(raised)))
    assert solution is not None  # the excess LP found a schedule within it
    return GroupOutcome(
        schedules_from_heat(heaters, arrays, solution.heat, price_arr, step_hours),
        feasible=False,
        min_flat_kw=_round_up(peak) / step_hours,
        min_raise_kw=_round_up(raise_kwh) / step_hours if excess > 0 else 0.0,
    )


def _round_up(kwh: float) -> float:
    """Up by twice the LP's margin, so that the figure reported is itself a feasible limit."""
    return kwh + 2 * lp_model.LIMIT_MARGIN * (1 + abs(kwh))


def _split_alone_infeasible(
    heaters: Sequence[FleetHeater],
    price: tuple[float, ...],
    price_arr: Array,
    step_hours: float,
    limit: Array,
) -> GroupOutcome:
    split = split_alone(heaters, price, step_hours)
    if not split.rest:
        return GroupOutcome(split.alone, feasible=False)
    background = np.asarray(split.background_kwh)
    outcome = _infeasible(split.rest, price, price_arr, step_hours, limit, background)
    return GroupOutcome(
        split.alone + outcome.schedules,
        feasible=False,
        min_flat_kw=outcome.min_flat_kw,
        min_raise_kw=outcome.min_raise_kw,
    )
