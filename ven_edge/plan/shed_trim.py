"""Cut a shed short where the heater would recover from it at a dear price.

A shed is not "off": the heat pump still starts once the tank has fallen by the shed dead band
(:mod:`ven_edge.plan.thermostat`), and then runs back to the set point. The scheduler's plan may
let the stored heat fall that far, so the heater recovers in the middle of the shed, at whatever
the price is there (docs/planner.md, "What the heater does with a command"). Where the
thermostat would start under a shed and an earlier step is cheaper, the commands are tried with
the shed ended at one of the cheapest earlier steps of the shed (Normal from there), with a Load
Up at one of the cheapest earlier steps (in the shed or before it), or with no shed at all; the
cheapest of these as the thermostat plays them is kept, until no shed recovery can be moved to a
cheaper step.

Only recoveries in the horizon's dear steps are moved (``dear_share``): the stored-heat
thermostat places a shed's recovery only roughly where the stratified tank does, and moving
recoveries at every price cost more on the simulated heater than it returned (docs/planner.md,
"Sheds cut short in the dear quarter, measured").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Final

from ven_edge.cta2045.command_kind import CommandKind
from ven_edge.plan.problem import Problem
from ven_edge.plan.thermostat import Run, Thermostat, run

#: Earlier steps of a shed tried as its end, cheapest first: bounds the work of a re-plan.
TRIED_ENDS: Final = 3
#: Rounds of trimming: each round settles one shed recovery.
MAX_ROUNDS: Final = 12
#: By default the recoveries moved are those in the dearest quarter of the horizon's steps.
DEAR_SHARE: Final = 0.25


def trim_sheds(
    problem: Problem,
    thermostat: Thermostat,
    kinds: Sequence[CommandKind],
    worth: Callable[[Run], float],
    cop_at: Callable[[float], float] | None = None,
    dear_share: float = 1.0,
) -> tuple[list[CommandKind], Run]:
    """``kinds`` with the sheds cut short where that makes ``worth`` (the cost of a run, the
    heat left at the end valued) lower, and the thermostat's run of the result. Only the
    recoveries in the ``dear_share`` of the steps with the highest prices are moved (1: all)."""
    best = list(kinds)
    best_run = run(problem, thermostat, best, cop_at)
    best_worth = worth(best_run)
    settled = -1  # shed recoveries up to this step are as cheap as they get
    price = problem.price
    dear = dear_price(price, dear_share)
    for _ in range(MAX_ROUNDS):
        trigger = next(
            (
                t
                for t in best_run.starts
                if t > settled and best[t] is CommandKind.SHED and price[t] >= dear
            ),
            None,
        )
        if trigger is None:
            break
        first = trigger
        while first > 0 and best[first - 1] is CommandKind.SHED:
            first -= 1
        # The shed's own steps, and the steps before it back to the last settled recovery (a
        # load up there stores what the shed draws).
        cheaper = sorted(
            (s for s in range(settled + 1, trigger) if price[s] < price[trigger]),
            key=price.__getitem__,
        )[:TRIED_ENDS]
        if not cheaper:
            settled = trigger
            continue
        normal = CommandKind.NORMAL
        tries = []
        for s in cheaper:
            if s >= first:
                tries.append([*best[:s], *[normal] * (trigger + 1 - s), *best[trigger + 1 :]])
            tries.append([*best[:s], CommandKind.LOAD_UP, *best[s + 1 :]])
        tries.append([*best[:first], *[normal] * (trigger + 1 - first), *best[trigger + 1 :]])
        improved = False
        for kinds_try in tries:
            tried = run(problem, thermostat, kinds_try, cop_at)
            value = worth(tried)
            if value < best_worth - 1e-9:
                best, best_run, best_worth, improved = kinds_try, tried, value, True
        if not improved:
            settled = trigger
    return best, best_run


def dear_price(prices: Sequence[float], share: float) -> float:
    """The lowest price among the ``share`` of ``prices`` that are highest (at least one)."""
    ranked = sorted(prices, reverse=True)
    if not ranked:
        return math.inf
    keep = min(len(ranked), max(1, math.ceil(share * len(ranked) - 1e-9)))
    return ranked[keep - 1]
