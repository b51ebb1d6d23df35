"""Move a shed's recovery out of the dear steps.

A shed is not "off": the heat pump still starts once the tank has fallen by the shed dead band
(:mod:`ven_edge.plan.thermostat`), and then runs back to the set point whatever command follows.
The scheduler plans heat, not the thermostat, so its commands can leave the heater to recover
at a dear price (docs/planner.md, "What the heater does with a command") in two ways:

* **In the shed**: the stored heat falls to the shed's start in a dear step. The commands are
  tried with the shed ended at one of the cheapest earlier steps of the shed (Normal from
  there), with a Load Up at one of the cheapest earlier steps (in the shed or before it), or
  with no shed at all.
* **Released into it**: the shed ends where the scheduler wants a step of heat, but the tank is
  far enough down that the recovery, once started, runs on through the dear steps the plan sheds
  after it. The same earlier ends are tried, and the shed kept on through those dear steps (the
  recovery then comes after them).

The cheapest of the tries as the thermostat plays them is kept, until no recovery can be moved.
Only recoveries that pay a price in the horizon's dear steps are moved (``dear_share``): the
stored-heat thermostat places a recovery only roughly where the stratified tank does, and moving
recoveries at every price cost more on the simulated heater than it returned (docs/planner.md,
"Sheds cut short in the dear quarter, measured", and "Recoveries released into the dear steps,
measured").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from ven_edge.cta2045.command_kind import CommandKind
from ven_edge.plan.commands import with_kind
from ven_edge.plan.problem import Problem
from ven_edge.plan.thermostat import Run, Thermostat, run

#: Earlier steps of a shed tried as its end, cheapest first: bounds the work of a re-plan.
TRIED_ENDS: Final = 3
#: Rounds of trimming: each round settles one shed recovery.
MAX_ROUNDS: Final = 12
#: By default the recoveries moved are those in the dearest quarter of the horizon's steps.
DEAR_SHARE: Final = 0.25

SHED, NORMAL = CommandKind.SHED, CommandKind.NORMAL


@dataclass(frozen=True, slots=True)
class _Recovery:
    """A recovery to move. ``last_shed`` is the last step of the shed the tries end sooner: the
    step the recovery starts in under the shed, or the one before the step that released it (-1
    when that is the horizon's first step). ``price`` is the dearest price it pays,
    ``through`` the last dear step a released recovery runs into (None: it starts in the
    shed), ``settles`` how far recoveries count as settled when no try moves it."""

    last_shed: int
    price: float
    through: int | None
    settles: int


def trim_sheds(
    problem: Problem,
    thermostat: Thermostat,
    kinds: Sequence[CommandKind],
    worth: Callable[[Run], float],
    cop_at: Callable[[float], float] | None = None,
    dear_share: float = 1.0,
) -> tuple[list[CommandKind], Run]:
    """``kinds`` with the shed recoveries moved out of dear steps where that makes ``worth``
    (the cost of a run, the heat left at the end valued) lower, and the thermostat's run of the
    result. Only the recoveries in the ``dear_share`` of the steps with the highest prices are
    moved (1: all)."""
    best = list(kinds)
    best_run = run(problem, thermostat, best, cop_at)
    best_worth = worth(best_run)
    settled = -1  # shed recoveries up to this step are as cheap as they get
    price = problem.price
    dear = dear_price(price, dear_share)
    for _ in range(MAX_ROUNDS):
        recovery = _next_recovery(best, best_run, price, dear, settled)
        if recovery is None:
            break
        tries = _tries(best, recovery, price, settled)
        improved = False
        for kinds_try in tries:
            tried = run(problem, thermostat, kinds_try, cop_at)
            value = worth(tried)
            if value < best_worth - 1e-9:
                best, best_run, best_worth, improved = kinds_try, tried, value, True
        if not improved:
            settled = recovery.settles
    return best, best_run


def _next_recovery(
    kinds: Sequence[CommandKind],
    played: Run,
    price: Sequence[float],
    dear: float,
    settled: int,
) -> _Recovery | None:
    """The first recovery after ``settled`` that starts in a dear shed step, or that a shed
    released just before (or at the horizon's start) lets run on into dear shed steps."""
    for t in played.starts:
        if t <= settled:
            continue
        if kinds[t] is SHED and price[t] >= dear:
            return _Recovery(t, price[t], None, t)
        if kinds[t] is not NORMAL or (t > 0 and (t - 1 <= settled or kinds[t - 1] is not SHED)):
            continue
        # The heat pump keeps running once started (thermostat.run): find the dear steps the
        # plan sheds while it still runs.
        dearest, through = -math.inf, None
        u = t
        while u < len(kinds) and played.heat[u] > 1e-9:
            if kinds[u] is SHED and price[u] >= dear:
                dearest, through = max(dearest, price[u]), u
            u += 1
        if through is not None:
            return _Recovery(t - 1, dearest, through, max(t - 1, 0))
    return None


def _tries(
    kinds: list[CommandKind], recovery: _Recovery, price: Sequence[float], settled: int
) -> list[list[CommandKind]]:
    """The command sequences tried in place of ``kinds`` to move ``recovery`` (module
    docstring)."""
    tries: list[list[CommandKind]] = []
    last = recovery.last_shed
    if recovery.through is not None:
        # The shed kept on through the dear steps the released recovery would run into.
        tries.append(with_kind(kinds, last + 1, recovery.through, SHED))
    if last < 0:
        return tries
    first = last
    while first > 0 and kinds[first - 1] is SHED:
        first -= 1
    # The shed's own steps, and the steps before it back to the last settled recovery (a load
    # up there stores what the shed draws).
    cheaper = sorted(
        (s for s in range(settled + 1, last) if price[s] < recovery.price),
        key=price.__getitem__,
    )[:TRIED_ENDS]
    if not cheaper and not tries:
        return []
    for s in cheaper:
        if s >= first:
            tries.append(with_kind(kinds, s, last, NORMAL))
        tries.append(with_kind(kinds, s, s, CommandKind.LOAD_UP))
    tries.append(with_kind(kinds, first, last, NORMAL))
    return tries


def dear_price(prices: Sequence[float], share: float) -> float:
    """The lowest price among the ``share`` of ``prices`` that are highest (at least one)."""
    ranked = sorted(prices, reverse=True)
    if not ranked:
        return math.inf
    keep = min(len(ranked), max(1, math.ceil(share * len(ranked) - 1e-9)))
    return ranked[keep - 1]
