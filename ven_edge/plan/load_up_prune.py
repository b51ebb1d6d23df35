"""Drop the load ups that, as the heater plays them, make the day dearer.

The scheduler stores heat in kWh at the steps' COPs; the heater answers Load Up by heating the
whole tank above its set point with a narrow dead band (:mod:`ven_edge.plan.thermostat`), at the
COP of a hotter tank, whether or not its own thermostat would have needed that heat before the
horizon ends. A load up before a price the heater would never have heated in buys heat the day
does not use (docs/planner.md, "What the heater does with a command"). So each run of load-up
steps is played through the thermostat with and without it (Normal in its place), the heat left
at the end valued as the planner values it, and the run that costs most is turned to Normal,
until no run left costs more than it saves. Sheds are kept as the scheduler planned them: the
thermostat model prices a shed's cooler tank less well than the stratified tank, measured
(docs/planner.md, "Load ups the heater would not pay for").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from ven_edge.cta2045.command_kind import CommandKind
from ven_edge.plan.commands import load_up_runs, with_kind
from ven_edge.plan.problem import Problem
from ven_edge.plan.thermostat import Run, Thermostat, run

#: A removal must save more than this ($): float noise never flips a command.
_EPS: Final = 1e-9


def prune_load_ups(
    problem: Problem,
    thermostat: Thermostat,
    kinds: Sequence[CommandKind],
    worth: Callable[[Run], float],
    cop_at: Callable[[float], float] | None = None,
) -> list[CommandKind]:
    """``kinds`` with the load-up runs that do not pay, as the thermostat plays them, turned to
    Normal (``worth``: a run's cost with the heat left at the end valued; lower is better)."""
    best = list(kinds)
    best_worth = worth(run(problem, thermostat, best, cop_at))
    while True:
        pick: tuple[float, list[CommandKind]] | None = None
        for first, last in load_up_runs(best):
            without = with_kind(best, first, last, CommandKind.NORMAL)
            value = worth(run(problem, thermostat, without, cop_at))
            if value < best_worth - _EPS and (pick is None or value < pick[0]):
                pick = (value, without)
        if pick is None:
            return best
        best_worth, best = pick
