"""A calm price plan: what a re-plan may change in the price-plan commands (docs/planner.md,
"A calm plan").

* The step in force keeps the previous plan's price command to its end: a price-plan command
  changes only at a step boundary, so it never flips back within one step. Utility
  instructions are laid over the price plan afterwards and act at once.
* Beyond that step, the new plan's commands replace the previous plan's only when the change is
  worth it: the new plan moves at least ``min_shift_kwh`` of heat between steps and saves at
  least ``min_saving`` on the previous plan's heat at the new prices and COPs. A change is always
  taken when the previous plan would now leave the tank below its reserve (comfort first), or
  when the new plan is normal mode.
* Adjacent commands of the same kind merge into one, whichever plan they came from.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from ven_edge.control import PlannedCommand, PlanStep

_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class PricePlan:
    """The price commands of one plan and what they came from (one entry per step between
    ``bounds``; ``soc`` has one more)."""

    commands: tuple[PlannedCommand, ...]
    steps: tuple[PlanStep, ...]
    expected_cost: float | None
    normal_cost: float | None
    bounds: tuple[datetime, ...] = ()
    heat: tuple[float, ...] = ()
    soc: tuple[float, ...] = ()
    price: tuple[float, ...] = ()
    cop: tuple[float, ...] = ()
    reserve_kwh: float = 0.0

    @property
    def normal_mode(self) -> bool:
        """The plan follows normal mode (it did not save enough to be followed)."""
        return not self.commands


def kind_at(commands: tuple[PlannedCommand, ...], t: datetime) -> object:
    """The kind of the command covering ``t`` (None: normal mode)."""
    return next((c.kind for c in commands if c.covers(t)), None)


def settle(
    previous: PricePlan | None,
    fresh: PricePlan | None,
    now: datetime,
    bounds: list[datetime],
    min_saving: float,
    min_shift_kwh: float,
) -> PricePlan | None:
    """The price plan to follow after a re-plan at ``now`` (module docstring)."""
    if fresh is None or previous is None or len(bounds) < 2:
        return fresh
    boundary = bounds[1]
    kept: list[PlannedCommand] = []
    # On a step boundary the new plan decides the step; inside a step, the step's command
    # stays as the previous plan had it.
    inside = previous.bounds != () and previous.bounds[0] <= now < previous.bounds[-1]
    if inside and now not in previous.bounds:
        held = next((c for c in previous.commands if c.covers(now)), None)
        if held is not None:
            kept.append(replace(held, start=now, end=boundary))
    else:
        kept += _clip(fresh.commands, now, boundary)
    overlap_end = previous.bounds[-1] if previous.bounds else boundary
    steps = [k for k in range(1, len(bounds) - 1) if bounds[k] < overlap_end]
    changed = any(
        kind_at(previous.commands, bounds[k]) != kind_at(fresh.commands, bounds[k]) for k in steps
    )
    if (
        changed
        and not fresh.normal_mode
        and not _worth(previous, fresh, steps, min_saving, min_shift_kwh)
    ):
        # The previous plan stays the one followed (and the one the next re-plan is weighed
        # against) where it reaches; the new one only extends it.
        kept += _clip(previous.commands, boundary, overlap_end)
        kept += _clip(fresh.commands, overlap_end, bounds[-1])
        return replace(
            previous,
            commands=merge_same_kind(kept),
            steps=fresh.steps,
            expected_cost=fresh.expected_cost,
            normal_cost=fresh.normal_cost,
        )
    else:
        kept += _clip(fresh.commands, boundary, bounds[-1])
    return replace(fresh, commands=merge_same_kind(kept))


def _clip(
    commands: tuple[PlannedCommand, ...], start: datetime, end: datetime
) -> list[PlannedCommand]:
    out = []
    for c in commands:
        a = max(c.start, start)
        b = end if c.end is None else min(c.end, end)
        if a < b:
            out.append(replace(c, start=a, end=b))
    return out


def merge_same_kind(commands: list[PlannedCommand]) -> tuple[PlannedCommand, ...]:
    """Adjacent price commands of the same kind as one command (the first's reason). An
    advanced load up's energy is the heat to hold above normal by the end of its run
    (:func:`ven_edge.plan.commands.plan_to_commands`), so the merged one takes the later's."""
    merged: list[PlannedCommand] = []
    for c in sorted(commands, key=lambda c: c.start):
        last = merged[-1] if merged else None
        if last is not None and last.end == c.start and last.kind == c.kind:
            wh = c.wh if c.wh is not None else last.wh
            merged[-1] = replace(last, end=c.end, wh=wh)
        else:
            merged.append(c)
    return tuple(merged)


def _previous_heat(previous: PricePlan, a: datetime, b: datetime) -> float:
    """The heat the previous plan put into [a, b), prorated by time over its steps."""
    total = 0.0
    for k, heat in enumerate(previous.heat):
        lo, hi = max(previous.bounds[k], a), min(previous.bounds[k + 1], b)
        if lo < hi:
            total += heat * ((hi - lo) / (previous.bounds[k + 1] - previous.bounds[k]))
    return total


def _worth(
    previous: PricePlan, fresh: PricePlan, steps: list[int], min_saving: float, min_kwh: float
) -> bool:
    """Whether the fresh plan's commands are worth taking over the previous plan's."""
    if not previous.heat or not fresh.heat or len(fresh.soc) != len(fresh.heat) + 1:
        return True
    moved = 0.0
    gain = 0.0
    soc = fresh.soc[steps[0]] if steps else 0.0
    for k in steps:
        old = _previous_heat(previous, fresh.bounds[k], fresh.bounds[k + 1])
        new = fresh.heat[k]
        moved += abs(old - new) / 2
        gain += fresh.price[k] * (old - new) / fresh.cop[k]
        load = fresh.soc[k] + new - fresh.soc[k + 1]
        soc += old - load
        if soc < fresh.reserve_kwh - _EPS:
            return True  # the previous plan would now run the tank below its reserve
    return moved >= min_kwh and gain >= min_saving
