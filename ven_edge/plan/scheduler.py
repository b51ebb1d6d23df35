"""The exact scheduler: a "refundable tank" greedy for the storage LP.

The LP of :mod:`ven_edge.plan.problem` is a minimum-cost flow on a path: a supply arc per
interval and source (cost price/COP, capacity [min, max]), a storage arc from each interval to
the next (capacity soc_max − soc_min) and a demand per interval (the draw), plus the end target as
a demand after the last interval. Interval networks are totally unimodular and serving demands in
time order along shortest paths is exact; for a path this is the fixed-route gas-station problem.

The greedy walks forward keeping the tank's contents as *lots*, each tagged with the cost per kWh
at which it was tentatively bought. Forced energy (the starting charge, ``min_kwh``) is *sunk*.
In each interval every source buys as much as the tank can take; when the tank is full, lots
dearer than the source are handed back (refunded), dearest first, to make room. The draw is served
from sunk energy first, then from the cheapest lots. At the end the target is served the same way
and every lot left is refunded unless it cost less than nothing. Every purchase can still be undone
when a cheaper interval appears, so the result is the LP optimum (tests compare with HiGHS).

Infeasible problems: the tank always holds the most energy any plan could have at that moment
(every refund is matched by a purchase), so the draw the greedy cannot serve is the least possible
unserved energy, and spending it on the cheapest lots keeps the cost least among such plans.

Runtime is O(n·k) for k lots in the tank: pure Python, no numpy in the loop (scalar numpy is
slower than floats for this size).
"""

from __future__ import annotations

import math
from bisect import insort
from collections.abc import Sequence
from itertools import accumulate
from operator import add, itemgetter
from typing import Any

from ven_edge.plan.problem import Plan, Problem

#: Amounts below this (kWh) are rounding dust, not energy.
EPS_KWH = 1e-12
#: Unserved or cut energy above this (kWh) makes the plan infeasible.
INFEASIBLE_KWH = 1e-9

_cost_of = itemgetter(0)


def schedule(problem: Problem) -> Plan:
    """Plan the heat of every source in every interval at least cost (see module docstring)."""
    n = problem.n
    sources = problem.sources
    loads = problem.load_kwh
    width = problem.soc_max_kwh - problem.soc_min_kwh
    start = problem.soc_kwh - problem.soc_min_kwh
    deficit = -start if start < 0 else 0.0
    sunk = start if start > 0 else 0.0

    heat = [list(s.min_kwh) for s in sources]
    costs = [[problem.price[t] / s.cop[t] for t in range(n)] for s in sources]
    spans = [[hi - lo for lo, hi in zip(s.min_kwh, s.max_kwh, strict=True)] for s in sources]
    forced = [sum(vals) for vals in zip(*(s.min_kwh for s in sources), strict=True)]
    source_ids = range(len(sources))
    # Per interval, the sources in order of cost (cheapest buys first).
    if len(sources) == 2:
        orders: list[Sequence[int]] = [
            (0, 1) if a <= b else (1, 0) for a, b in zip(*costs, strict=True)
        ]
    elif len(sources) > 2:
        orders = [sorted(source_ids, key=[c[t] for c in costs].__getitem__) for t in range(n)]
    else:
        orders = [source_ids] * n

    # Each lot is [cost, amount, heat row of its source, interval], sorted by cost; holding the
    # row lets a refund reduce the purchase without a lookup.
    lots: list[list[Any]] = []
    held = 0.0  # total amount in lots
    unserved = 0.0
    unserved_draw = [0.0] * n
    cut = 0.0

    for t in range(n):
        draw = loads[t]
        demand = draw + deficit if t == 0 else draw
        room = width + demand  # most the tank may hold before this interval's draw

        # Forced heat is sunk; tentative lots make way for it whatever they cost.
        sunk += forced[t]
        excess = sunk + held - room
        if excess > EPS_KWH:
            held -= _refund(lots, excess, -math.inf)
        if sunk - room > EPS_KWH:
            # The tank cannot hold the forced heat: cut it, dearest source first.
            over = sunk - room
            cut += over
            sunk = room
            for s in sorted(source_ids, key=lambda i: -costs[i][t]):
                take = min(over, heat[s][t])
                heat[s][t] -= take
                over -= take

        for s in orders[t]:
            cap = spans[s][t]
            if cap <= EPS_KWH:
                continue
            cost = costs[s][t]
            free = room - sunk - held
            buy = cap if cap < free else (free if free > 0 else 0.0)
            rest = cap - buy
            if rest > EPS_KWH and lots and lots[-1][0] > cost:
                given = _refund(lots, rest, cost)
                held -= given
                buy += given
            if buy > EPS_KWH:
                insort(lots, [cost, buy, heat[s], t], key=_cost_of)
                heat[s][t] += buy
                held += buy

        need, sunk, held = _consume(lots, demand, sunk, held)
        if need > EPS_KWH:
            unserved += need
            # The draw is served before the reserve is refilled (only t = 0 has a deficit), so
            # the unmet part is the reserve first.
            unserved_draw[t] = max(0.0, need - deficit) if t == 0 else need

    target = problem.soc_end_min_kwh - problem.soc_min_kwh
    need, sunk, held = _consume(lots, target, sunk, held)
    if need > EPS_KWH:
        unserved += need
    for lot in lots:
        if lot[0] >= 0:  # energy that costs nothing or more is not worth keeping
            lot[2][lot[3]] -= lot[1]

    return _finish(problem, heat, unserved, unserved_draw, cut)


def _refund(lots: list[list[Any]], amount: float, above: float) -> float:
    """Hand back up to ``amount`` from the dearest lots that cost more than ``above``; the
    purchases behind them shrink. Returns the amount handed back."""
    given = 0.0
    while lots and lots[-1][0] > above:
        lot = lots[-1]
        give = amount - given
        if lot[1] <= give + EPS_KWH:
            give = lot[1]
            lots.pop()
        else:
            lot[1] -= give
        lot[2][lot[3]] -= give
        given += give
        if amount - given <= EPS_KWH:
            break
    return given


def _consume(
    lots: list[list[Any]], demand: float, sunk: float, held: float
) -> tuple[float, float, float]:
    """Serve ``demand`` from sunk energy, then the cheapest lots; return (unmet, sunk, held)."""
    take = sunk if sunk < demand else demand
    sunk -= take
    need = demand - take
    used = 0
    while need > EPS_KWH and used < len(lots):
        lot = lots[used]
        if lot[1] <= need:
            need -= lot[1]
            held -= lot[1]
            used += 1
        else:
            lot[1] -= need
            held -= need
            need = 0.0
    if used:
        del lots[:used]
    return need, sunk, held


def _finish(
    problem: Problem,
    heat: list[list[float]],
    unserved: float,
    unserved_draw: list[float],
    cut: float,
) -> Plan:
    cost = 0.0
    rows = []
    for row, source in zip(heat, problem.sources, strict=True):
        # Clamp rounding dust back inside the source's bounds (a cut may go below min).
        clean = tuple(
            h if 0.0 <= h <= hi else (0.0 if h < 0.0 else hi)
            for h, hi in zip(row, source.max_kwh, strict=True)
        )
        rows.append(clean)
        cost += sum(map(_cost_term, problem.price, clean, source.cop))
    if len(rows) == 1:
        totals = rows[0]
    elif len(rows) == 2:
        totals = tuple(map(add, *rows))
    else:
        totals = tuple(map(_add, *rows))
    deltas = map(_delta, totals, problem.load_kwh, unserved_draw)
    soc = tuple(accumulate(deltas, initial=problem.soc_kwh))
    return Plan(
        feasible=unserved <= INFEASIBLE_KWH and cut <= INFEASIBLE_KWH,
        cost=cost,
        unserved_kwh=unserved,
        heat_kwh={s.name: rows[i] for i, s in enumerate(problem.sources)},
        soc_kwh=soc,
    )


def _cost_term(price: float, heat: float, cop: float) -> float:
    return price * heat / cop


def _add(*values: float) -> float:
    return sum(values)


def _delta(heat: float, load: float, unserved: float) -> float:
    return heat - load + unserved
