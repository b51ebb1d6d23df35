"""The planning LP in sparse form, solved by scipy's HiGHS: the oracle for the exact scheduler.

Variables: heat[s][t] (S·n), soc[t+1] (n), unserved u[t] (n), end shortfall w (1).
soc[t+1] − soc[t] − Σ_s heat[s][t] − u[t] = −load[t]; soc_min ≤ soc[t+1] ≤ soc_max;
soc[n] + w ≥ soc_end_min. Phase 1 minimises Σu + w; phase 2 minimises cost with the
phase-1 optimum as a bound (lexicographic "least unserved, then least cost").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_matrix

from ven_edge.plan.problem import Problem


@dataclass(frozen=True)
class LpResult:
    solvable: bool  # False when even with unserved energy no plan exists (min heat overflows)
    unserved_kwh: float
    cost: float
    heat: np.ndarray  # shape (S, n)


def _model(p: Problem) -> tuple[coo_matrix, np.ndarray, list[tuple[float, float]], np.ndarray]:
    n, ns = p.n, len(p.sources)
    nh = ns * n
    i_soc, i_u, i_w = nh, nh + n, nh + 2 * n
    nv = i_w + 1
    rows, cols, vals = [], [], []
    for t in range(n):
        rows += [t, t]
        cols += [i_soc + t, i_u + t]
        vals += [1.0, -1.0]
        if t > 0:
            rows.append(t)
            cols.append(i_soc + t - 1)
            vals.append(-1.0)
        for s in range(ns):
            rows.append(t)
            cols.append(s * n + t)
            vals.append(-1.0)
    a_eq = coo_matrix((vals, (rows, cols)), shape=(n, nv))
    b_eq = -np.asarray(p.load_kwh, dtype=float)
    b_eq[0] += p.soc_kwh
    bounds: list[tuple[float, float]] = []
    for src in p.sources:
        bounds += list(zip(src.min_kwh, src.max_kwh, strict=True))
    bounds += [(p.soc_min_kwh, p.soc_max_kwh)] * n
    bounds += [(0.0, np.inf)] * (n + 1)
    cost = np.zeros(nv)
    for s, src in enumerate(p.sources):
        cost[s * n : (s + 1) * n] = np.asarray(p.price) / np.asarray(src.cop)
    return a_eq, b_eq, bounds, cost


def solve_lp(p: Problem) -> LpResult:
    n, ns = p.n, len(p.sources)
    nh = ns * n
    a_eq, b_eq, bounds, cost = _model(p)
    nv = len(cost)
    # soc[n] + w >= end target  ->  -soc[n] - w <= -target
    a_ub_row = np.zeros((1, nv))
    a_ub_row[0, nh + n - 1] = -1.0
    a_ub_row[0, nv - 1] = -1.0
    b_ub = np.array([-p.soc_end_min_kwh])
    slack = np.zeros(nv)
    slack[nh + n :] = 1.0
    one = linprog(slack, A_ub=a_ub_row, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds)
    if one.status == 2:
        return LpResult(False, float("nan"), float("nan"), np.zeros((ns, n)))
    assert one.status == 0, one.message
    unserved = float(one.fun)
    bound = unserved + 1e-9 * max(1.0, unserved)
    a_ub = np.vstack([a_ub_row, slack])
    two = linprog(
        cost,
        A_ub=a_ub,
        b_ub=np.array([b_ub[0], bound]),
        A_eq=a_eq,
        b_eq=b_eq,
        bounds=bounds,
    )
    assert two.status == 0, two.message
    return LpResult(True, unserved, float(two.fun), two.x[:nh].reshape(ns, n))


def plain_model(p: Problem) -> dict[str, Any]:
    """linprog keyword arguments for the plain LP (no slack variables): heat and soc only."""
    n = p.n
    a_eq, b_eq, bounds, cost = _model(p)
    nh = len(p.sources) * n
    bnds = bounds[: nh + n]
    bnds[nh + n - 1] = (max(p.soc_min_kwh, p.soc_end_min_kwh), p.soc_max_kwh)
    return {
        "c": cost[: nh + n],
        "A_eq": a_eq.tocsc()[:, : nh + n],
        "b_eq": b_eq,
        "bounds": bnds,
        "method": "highs",
    }


def solve_plain(p: Problem, model: dict[str, Any] | None = None) -> tuple[bool, float]:
    """The plain LP: (feasible, optimal cost). ``model`` from :func:`plain_model` lets a
    benchmark time the solver alone."""
    res = linprog(**(model if model is not None else plain_model(p)))
    return res.status == 0, float(res.fun) if res.status == 0 else float("nan")
