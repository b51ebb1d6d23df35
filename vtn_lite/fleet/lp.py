"""The group LP in sparse form, solved by scipy's HiGHS (docs/fleet-planner.md, "The LP").

Variables, heater h, source s, step t: heat x[h,s,t] in [min, max] (thermal kWh) and the stored
energy after the step y[h,t] in [soc_min, soc_max] (the last one at least the end target).
Rows: the tank balance y[h,t] - y[h,t-1] - sum_s x[h,s,t] = -load[h,t] (y[h,-1] is the starting
charge) and, per step, the group's electrical import sum_{h,s} x[h,s,t] / cop[h,s,t] <= limit[t]
(kWh in the step). Cost: sum price[t] x[h,s,t] / cop[h,s,t]. Every matrix is built from index
arrays in one go, so 10,000 heaters x 96 steps take no Python loop per variable.

The limit row is tightened by :data:`LIMIT_MARGIN` so that the solver's feasibility tolerance
never shows up as a planned aggregate a hair above the limit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from vtn_lite.fleet.arrays import Array, HeaterArrays

#: Relative and absolute (kWh) margin taken off the limit row (HiGHS's primal feasibility
#: tolerance is 1e-7).
LIMIT_MARGIN = 1e-6


class LpFailed(RuntimeError):
    """HiGHS stopped without an answer (iteration limit, numerical trouble)."""


@dataclass(frozen=True)
class GroupLp:
    """The LP's parts for one group (or sub-group) of heaters."""

    arrays: HeaterArrays
    step_hours: float
    cost: Array  # objective over the heat and stored-energy variables
    a_eq: sp.csr_matrix
    b_eq: Array
    bounds: Array  # (variables, 2)
    a_import: sp.csr_matrix  # (n, variables): electrical kWh imported per step

    @property
    def n_heat(self) -> int:
        h, s, n = self.arrays.shape
        return h * s * n


@dataclass(frozen=True)
class LpSolution:
    heat: Array  # (H, S, n)
    fun: float  # objective over the heat (the cost)
    dual: Array  # (n,) price of one more kWh of import per step (>= 0), zeros without a limit


def build(arrays: HeaterArrays, price: Array, step_hours: float) -> GroupLp:
    count, width, n = arrays.shape
    n_heat = count * width * n
    n_soc = count * n
    rows_soc = np.arange(n_soc)
    t_of_row = rows_soc % n
    # Heat columns (h, s, t) -> balance row h*n + t.
    h_idx, _, t_idx = np.indices((count, width, n)).reshape(3, -1)
    heat_rows = h_idx * n + t_idx
    prev = rows_soc[t_of_row > 0]
    rows = np.concatenate([rows_soc, prev, heat_rows])
    cols = np.concatenate([n_heat + rows_soc, n_heat + prev - 1, np.arange(n_heat)])
    vals = np.concatenate([np.ones(n_soc), -np.ones(prev.size), -np.ones(n_heat)])
    a_eq = sp.csr_matrix((vals, (rows, cols)), shape=(n_soc, n_heat + n_soc))
    b_eq = -arrays.load.reshape(-1).copy()
    b_eq[rows_soc[t_of_row == 0]] += arrays.soc0

    inv_cop = 1.0 / arrays.cop.reshape(-1)
    a_import = sp.csr_matrix((inv_cop, (t_idx, np.arange(n_heat))), shape=(n, n_heat + n_soc))
    lo_soc = np.repeat(arrays.soc_min, n).reshape(count, n)
    lo_soc[:, -1] = arrays.soc_end
    hi_soc = np.repeat(arrays.soc_max, n)
    bounds = np.column_stack(
        [
            np.concatenate([arrays.heat_lo.reshape(-1), lo_soc.reshape(-1)]),
            np.concatenate([arrays.heat_hi.reshape(-1), hi_soc]),
        ]
    )
    cost = np.concatenate([price[t_idx] * inv_cop, np.zeros(n_soc)])
    return GroupLp(arrays, step_hours, cost, a_eq, b_eq, bounds, a_import)


def tightened(limit_kwh: Array) -> Array:
    """The limit less the margin, never below zero when it was not: a limit of zero is kept by
    importing nothing, which the solver meets exactly (variables at their bounds)."""
    lower = limit_kwh - LIMIT_MARGIN * (1.0 + np.abs(limit_kwh))
    return np.where(limit_kwh >= 0, np.maximum(lower, 0.0), lower)


def solve_cost(lp: GroupLp, limit_kwh: Array | None) -> LpSolution | None:
    """Least cost within ``limit_kwh`` (per step, electrical kWh; None: no limit). None when
    infeasible."""
    kwargs = {}
    if limit_kwh is not None:
        kwargs = {"A_ub": lp.a_import, "b_ub": tightened(limit_kwh)}
    res = linprog(lp.cost, A_eq=lp.a_eq, b_eq=lp.b_eq, bounds=lp.bounds, method="highs", **kwargs)
    if res.status == 2:
        return None
    if res.status != 0:
        raise LpFailed(res.message)
    n = lp.arrays.shape[2]
    dual = np.zeros(n) if limit_kwh is None else np.maximum(0.0, -res.ineqlin.marginals)
    heat = np.clip(res.x[: lp.n_heat], lp.bounds[: lp.n_heat, 0], lp.bounds[: lp.n_heat, 1])
    return LpSolution(heat.reshape(lp.arrays.shape), float(res.fun), dual)


def solve_min_excess(lp: GroupLp, limit_kwh: Array) -> float | None:
    """min r such that the import is at most limit + r in every step (electrical kWh; r may be
    below zero: the headroom the group keeps). None when some heater is infeasible alone."""
    n = lp.arrays.shape[2]
    column = sp.csr_matrix(-np.ones((n, 1)))
    a_ub = sp.hstack([lp.a_import, column], format="csr")
    a_eq = sp.hstack([lp.a_eq, sp.csr_matrix((lp.a_eq.shape[0], 1))], format="csr")
    cost = np.zeros(a_ub.shape[1])
    cost[-1] = 1.0
    bounds = np.vstack([lp.bounds, [[-np.inf, np.inf]]])
    res = linprog(
        cost, A_ub=a_ub, b_ub=limit_kwh, A_eq=a_eq, b_eq=lp.b_eq, bounds=bounds, method="highs"
    )
    if res.status == 2:
        return None
    if res.status != 0:
        raise LpFailed(res.message)
    return float(res.fun)
