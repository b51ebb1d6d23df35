"""A rule-based planner: grid events map straight to CTA-2045 commands, price peaks to shed.

Events that are instructions (``SIMPLE`` levels, grid alerts) are obeyed as they come, whatever
the price: docs/openadr3.md §6 maps SIMPLE 0 → End Shed, 1 → Shed, 2 → Critical Peak, 3 → Grid
Emergency, and the alerts that ask to minimise use to Grid Emergency (FLEX_ALERT to Shed).

Prices are planned on a fixed step: steps in the top quarter of the known prices (and clearly
above the median, so a flat tariff triggers nothing) are shed, and the ``preheat`` window before
each such peak is a load-up when it is cheaper than the peak. A tank below its reserve is never
shed for price, only for an instruction. This is the fallback when the exact scheduler is not
used; both produce the same :class:`~ven_edge.control.ControlPlan`.
"""

from __future__ import annotations

import statistics
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from ven_edge.control import (
    CommandKind,
    ControlPlan,
    PlanInputs,
    PlannedCommand,
    PlanStep,
    merge_commands,
)
from ven_edge.signal_profile import Profile, priority_rank, profile, winner_profile
from ven_edge.signals import SignalInterval, SignalTimeline, Value

# docs/openadr3.md §6: SIMPLE levels (normal, moderate, high, emergency).
SIMPLE_COMMANDS: Final[dict[int, CommandKind]] = {
    0: CommandKind.NORMAL,
    1: CommandKind.SHED,
    2: CommandKind.CRITICAL_PEAK,
    3: CommandKind.GRID_EMERGENCY,
}
ALERT_COMMANDS: Final[dict[str, CommandKind]] = {
    "ALERT_GRID_EMERGENCY": CommandKind.GRID_EMERGENCY,
    "ALERT_BLACK_START": CommandKind.GRID_EMERGENCY,
    "ALERT_FLEX_ALERT": CommandKind.SHED,
}
_SIMPLE_WORDS: Final = {1: "moderate", 2: "high", 3: "emergency"}

# A step boundary this close to an instruction's start or end is dropped, not cut at: the
# instruction and the plan are both made from "now", a few hundred milliseconds apart, and a
# sliver between them would be a command of a second ("20:13–20:13") and a needless message.
MIN_SEGMENT: Final = timedelta(minutes=1)

# A price step is a peak when it is in the top quarter and this much above the median.
PEAK_QUANTILE: Final = 0.75
PEAK_OVER_MEDIAN: Final = 1.2


@dataclass(frozen=True, slots=True)
class RuleSettings:
    step: timedelta = timedelta(minutes=15)
    horizon: timedelta = timedelta(hours=24)
    preheat: timedelta = timedelta(hours=2)
    reserve_fraction: float = 0.3  # never shed for price below this share of capacity
    nominal_kw: float = 1.0  # display estimate of normal heating power
    load_up_kw: float = 4.5  # display estimate of load-up heating power

    def __post_init__(self) -> None:
        if self.step <= timedelta(0) or self.horizon < self.step:
            raise ValueError("step must be positive and horizon at least one step")
        if not 0.0 <= self.reserve_fraction <= 1.0:
            raise ValueError("reserve_fraction must be between 0 and 1")


def _instruction(interval: SignalInterval) -> tuple[CommandKind, str] | None:
    """The command an instruction interval asks for and why, or None when it asks for none
    (a price, an unknown SIMPLE level). SIMPLE is not a packed kind: its value holds throughout."""
    if interval.kind == "SIMPLE":
        try:
            level = int(interval.values[0])
        except (TypeError, ValueError, OverflowError):
            return None
        kind = SIMPLE_COMMANDS.get(level)
        if kind is None:
            return None
        reason = (
            "utility event ended early"
            if level == 0
            else f"utility event ({_SIMPLE_WORDS.get(level, str(level))} level)"
        )
        return kind, reason
    if interval.kind in ALERT_COMMANDS:
        name = interval.kind.removeprefix("ALERT_").replace("_", " ")
        return ALERT_COMMANDS[interval.kind], f"utility alert: {name}"
    return None


def instruction_profile(timeline: SignalTimeline) -> Profile:
    """Which instruction is in force when: the highest priority (lowest number, none last),
    among equals the later start, then the larger event id, as
    :func:`ven_edge.signals.winner` decides within one kind (so the plan obeys the event the
    page shows)."""
    candidates = [i for i in timeline.intervals if _instruction(i) is not None]
    newest = [(i.start, i.event_id) for i in candidates]
    order = sorted(range(len(candidates)), key=newest.__getitem__, reverse=True)  # stable
    order.sort(key=lambda k: priority_rank(candidates[k]))
    return profile(candidates, order, lambda i: (i.start, i.end))


def instruction_at(
    timeline: SignalTimeline, t: datetime, instructions: Profile | None = None
) -> PlannedCommand | None:
    """The instruction in force at ``t`` (as a one-step command), if any; pass
    :func:`instruction_profile` of ``timeline`` when asking more than once."""
    if instructions is None:
        instructions = instruction_profile(timeline)
    interval = instructions.at(t)
    if interval is None:
        return None
    asked = _instruction(interval)
    assert asked is not None  # the profile holds only instructions
    kind, reason = asked
    return PlannedCommand(
        start=t,
        end=interval.end,
        kind=kind,
        reason=f"{reason} until {interval.end:%H:%M}",
        event_id=interval.event_id or None,
    )


def segments(
    timeline: SignalTimeline, step_starts: list[datetime], end: datetime
) -> list[tuple[datetime, datetime]]:
    """The plan steps cut at every instruction start and end, so that a utility event's
    command begins and ends when the event does, not at the next step boundary.

    A step boundary less than :data:`MIN_SEGMENT` from an instruction's edge is dropped (the
    first step's start is kept): no segment is shorter than that unless instructions make it so.
    Look the price plan up at :func:`probe` of a segment, which lies in the step it mostly
    covers."""
    first = step_starts[0]
    edges = [t for t in instruction_edges(timeline) if first < t < end]
    steps = {t for t in step_starts if t == first or _clear_of(edges, t)}
    ordered = sorted(steps.union(edges))
    return [(a, b) for a, b in zip(ordered, [*ordered[1:], end], strict=True) if a < b]


def instruction_edges(timeline: SignalTimeline) -> list[datetime]:
    """Every start and end of a utility instruction (SIMPLE levels and grid alerts), sorted."""
    return sorted(
        {
            t
            for interval in timeline.intervals
            if interval.kind == "SIMPLE" or interval.kind in ALERT_COMMANDS
            for t in (interval.start, interval.end)
        }
    )


def _clear_of(edges: list[datetime], t: datetime) -> bool:
    """Whether every one of the sorted ``edges`` is at least :data:`MIN_SEGMENT` from ``t``:
    the nearest ones are either side of where ``t`` would be inserted."""
    i = bisect_left(edges, t)
    return (i == len(edges) or edges[i] - t >= MIN_SEGMENT) and (
        i == 0 or t - edges[i - 1] >= MIN_SEGMENT
    )


def probe(start: datetime, end: datetime) -> datetime:
    """The middle of a segment: the instant whose plan step the segment takes its price
    command from (a segment widened by a dropped boundary lies mostly in the later step)."""
    return start + (end - start) / 2


def overlay_instructions(
    timeline: SignalTimeline,
    step_starts: list[datetime],
    end: datetime,
    price_command: Callable[[datetime], PlannedCommand | None],
) -> tuple[PlannedCommand, ...]:
    """The command timeline over :func:`segments`: the instruction in force where there is one
    (a utility's request is obeyed whatever the price), elsewhere the kind, reason and energy of
    ``price_command`` at the segment's :func:`probe` (None: no command there)."""
    instructions = instruction_profile(timeline)
    chosen: list[PlannedCommand] = []
    for start, seg_end in segments(timeline, step_starts, end):
        command = instruction_at(timeline, start, instructions) or price_command(
            probe(start, seg_end)
        )
        if command is not None:
            chosen.append(replace(command, start=start, end=seg_end))
    return merge_commands(chosen)


def prices_at(timeline: SignalTimeline, times: Sequence[datetime]) -> list[float | None]:
    """The numeric PRICE in force (priority resolved) at each of ``times``, or None; from one
    sweep of the timeline."""
    prices = winner_profile(timeline, "PRICE")
    return [numeric(prices.value_at(t)) for t in times]


def numeric(value: Value | None) -> float | None:
    """A price as a float; None for none or a value that is not a number."""
    if value is None or isinstance(value, (bool, str)):
        return None
    return float(value)


def plan_by_rules(inputs: PlanInputs, settings: RuleSettings | None = None) -> ControlPlan:
    """The command timeline for the next ``horizon`` from ``inputs.now``."""
    cfg = settings or RuleSettings()
    now = inputs.now
    step_s = cfg.step.total_seconds()
    first = now - timedelta(seconds=(now.timestamp() % step_s))
    count = int(cfg.horizon / cfg.step)
    starts = [first + cfg.step * i for i in range(count)]
    prices = prices_at(inputs.signals, [max(s, now) for s in starts])
    known = [p for p in prices if p is not None]

    peak = [False] * count
    if len(known) >= 4:
        median = statistics.median(known)
        threshold = statistics.quantiles(known, n=4, method="inclusive")[2]
        bar = max(threshold, median * PEAK_OVER_MEDIAN) if median > 0 else threshold
        peak = [p is not None and p >= bar and p > median for p in prices]
    stored, capacity = inputs.device.stored_energy_wh, inputs.device.energy_capacity_wh
    low_tank = (
        stored is not None
        and capacity is not None
        and capacity > 0
        and stored < cfg.reserve_fraction * capacity
    )

    preheat_steps = int(cfg.preheat / cfg.step)
    by_price: list[PlannedCommand] = []
    steps: list[PlanStep] = []
    step_h = step_s / 3600.0
    for i, start in enumerate(starts):
        kind, reason = CommandKind.NORMAL, "normal operation"
        if peak[i] and not low_tank:
            kind, reason = CommandKind.SHED, f"price peak ({prices[i]:.3g}/kWh)"
        elif not peak[i]:
            upcoming = next(
                (j for j in range(i + 1, min(count, i + 1 + preheat_steps)) if peak[j]), None
            )
            if upcoming is not None:
                kind = CommandKind.LOAD_UP
                reason = f"pre-heating before the {starts[upcoming]:%H:%M} price peak"
        by_price.append(PlannedCommand(start, start + cfg.step, kind, reason))
        heat = {CommandKind.LOAD_UP: cfg.load_up_kw, CommandKind.NORMAL: cfg.nominal_kw}
        steps.append(PlanStep(start, prices[i], heat.get(kind, 0.0) * step_h, None))
    commands = overlay_instructions(
        inputs.signals,
        [now, *starts[1:]],
        starts[-1] + cfg.step,
        lambda at: by_price[min(count - 1, int((at - first) / cfg.step))],
    )
    return ControlPlan(
        made_at=now,
        commands=commands,
        steps=tuple(steps),
        step_minutes=int(step_s // 60),
    )
