"""The planners' one-sweep signal look-ups give exactly what asking the timeline each time gave.

The reference functions below are the planners' former look-ups, kept here as the slow oracle:
each asks the timeline afresh for every instant (SignalTimeline.value_at / next_change_after /
active_at scan every interval), so planning cost steps × intervals. The property tests compare
them with the sweep-based ones on random timelines made to collide: shared edges, equal
priorities and starts, packed prices, bad values.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.devices import answering
from ven_edge.control import PlanInputs, PlannedCommand
from ven_edge.plan.builder import BuildError, PlannerConfig, _minimum, resample_prices
from ven_edge.plan.exact_planner import ExactPlanner
from ven_edge.plan.rule_planner import (
    _SIMPLE_WORDS,
    ALERT_COMMANDS,
    MIN_SEGMENT,
    SIMPLE_COMMANDS,
    instruction_at,
    instruction_profile,
    plan_by_rules,
    segments,
)
from ven_edge.signal_profile import winner_profile
from ven_edge.signals import SignalInterval, SignalTimeline, Value
from ven_edge.units import f_to_c

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)

# -- the slow reference (the former implementation) -------------------------------------------


def reference_average(
    timeline: SignalTimeline, kind: str, start: datetime, end: datetime
) -> float | None:
    covered = 0.0
    total = 0.0
    t = start
    while t < end:
        nxt = timeline.next_change_after(t)
        seg_end = end if nxt is None or nxt > end else nxt
        value = timeline.value_at(kind, t)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise BuildError(f"{kind} value {value!r} at {t.isoformat()} is not a number")
            if not math.isfinite(value):
                raise BuildError(f"{kind} value {value!r} at {t.isoformat()} is not finite")
            seconds = (seg_end - t).total_seconds()
            covered += seconds
            total += float(value) * seconds
        t = seg_end
    return None if covered == 0 else total / covered


def reference_resample(
    timeline: SignalTimeline, start: datetime, step: timedelta, n: int, gap: float | None
) -> tuple[float, ...]:
    prices = timeline.of_kind("PRICE")
    raw = [
        reference_average(prices, "PRICE", start + k * step, start + (k + 1) * step)
        for k in range(n)
    ]
    known = [p for p in raw if p is not None]
    if gap is None:
        if not known:
            raise BuildError("no PRICE signal covers the planning horizon and no gap_price is set")
        gap = sum(known) / len(known)
    return tuple(gap if p is None else p for p in raw)


def reference_minimum(
    timeline: SignalTimeline, kind: str, start: datetime, end: datetime
) -> float | None:
    best: float | None = None
    t = start
    while t < end:
        value = timeline.value_at(kind, t)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            best = float(value) if best is None else min(best, float(value))
        nxt = timeline.next_change_after(t)
        t = end if nxt is None or nxt > end else nxt
    return best


def reference_instruction_at(timeline: SignalTimeline, t: datetime) -> PlannedCommand | None:
    """The highest priority; among equals the later start, then the larger event id (as
    ``signals.winner`` within one kind), then the first in timeline order."""
    best: tuple[tuple[bool, int], tuple[datetime, str], PlannedCommand] | None = None
    for interval in timeline.active_at(t):
        kind = None
        reason = ""
        if interval.kind == "SIMPLE":
            try:
                level = int(interval.value_at(t))
            except (TypeError, ValueError):
                continue
            kind = SIMPLE_COMMANDS.get(level)
            reason = (
                "utility event ended early"
                if level == 0
                else f"utility event ({_SIMPLE_WORDS.get(level, str(level))} level)"
            )
        elif interval.kind in ALERT_COMMANDS:
            kind = ALERT_COMMANDS[interval.kind]
            reason = f"utility alert: {interval.kind.removeprefix('ALERT_').replace('_', ' ')}"
        if kind is None:
            continue
        rank = (interval.priority is None, interval.priority or 0)
        command = PlannedCommand(
            start=t,
            end=interval.end,
            kind=kind,
            reason=f"{reason} until {interval.end:%H:%M}",
            event_id=interval.event_id or None,
        )
        newest = (interval.start, interval.event_id)
        if best is None or rank < best[0] or (rank == best[0] and newest > best[1]):
            best = (rank, newest, command)
    return None if best is None else best[2]


def reference_segments(
    timeline: SignalTimeline, step_starts: list[datetime], end: datetime
) -> list[tuple[datetime, datetime]]:
    first = step_starts[0]
    edges = {
        t
        for interval in timeline.intervals
        if interval.kind == "SIMPLE" or interval.kind in ALERT_COMMANDS
        for t in (interval.start, interval.end)
        if first < t < end
    }
    steps = {
        t for t in step_starts if t == first or all(abs(t - edge) >= MIN_SEGMENT for edge in edges)
    }
    ordered = sorted(steps | edges)
    return [(a, b) for a, b in zip(ordered, [*ordered[1:], end], strict=True) if a < b]


# -- random timelines made to collide ---------------------------------------------------------

KINDS = ("PRICE", "PRICE", "SIMPLE", "IMPORT_CAPACITY_LIMIT", "ALERT_FLEX_ALERT")
numbers = st.one_of(
    st.sampled_from([0.1, 0.2, 0.35, 1, 2, -0.05]),
    st.floats(-1.0, 1.0, allow_nan=False, allow_infinity=False),
)
rare_bad = st.sampled_from(["high", True, float("nan")])


@st.composite
def intervals(draw: st.DrawFn) -> SignalInterval:
    kind = draw(st.sampled_from(KINDS))
    # A coarse grid of minutes (shared edges) with an occasional odd second (slivers).
    start = T0 + MINUTE * 5 * draw(st.integers(-6, 60))
    start += timedelta(seconds=draw(st.sampled_from([0, 0, 0, 7])))
    end = start + MINUTE * draw(st.sampled_from([1, 5, 10, 15, 30, 60, 95]))
    if kind == "SIMPLE":
        values: tuple[Value, ...] = (draw(st.sampled_from([0, 1, 2, 3, 4, "2", "x"])),)
    elif kind == "PRICE":
        count = draw(st.integers(1, 4))
        values = tuple(draw(st.lists(numbers, min_size=count, max_size=count)))
        if draw(st.integers(0, 15)) == 0:
            values = (*values[:-1], draw(rare_bad))
    else:
        values = (draw(numbers),)
    return SignalInterval(
        start,
        end,
        kind,
        values,
        draw(st.sampled_from([None, 0, 1, 1, 2])),
        draw(st.sampled_from(["", "a", "b", "c"])),
    )


timelines = st.lists(intervals(), max_size=14).map(lambda items: SignalTimeline(tuple(items)))
steps = st.sampled_from([MINUTE * 5, MINUTE * 15, MINUTE * 60])
offsets = st.integers(-40, 200).map(lambda m: T0 + MINUTE * m + timedelta(seconds=m % 3 * 20))


def outcome(call: Callable[[], Any]) -> Any:
    """The result, or the error a call raises (type and message), for comparison."""
    try:
        return call()
    except BuildError as exc:
        return ("error", str(exc))


@settings(max_examples=300)
@given(timelines, offsets, steps, st.integers(1, 24), st.sampled_from([None, 0.5]))
def test_step_prices_are_those_of_the_reference(
    timeline: SignalTimeline, start: datetime, step: timedelta, n: int, gap: float | None
) -> None:
    expected = outcome(lambda: reference_resample(timeline, start, step, n, gap))
    assert outcome(lambda: resample_prices(timeline, start, step, n, gap)) == expected


@settings(max_examples=300)
@given(timelines, offsets, steps, st.integers(1, 12))
def test_limits_and_point_values_are_those_of_the_reference(
    timeline: SignalTimeline, start: datetime, step: timedelta, n: int
) -> None:
    limits = winner_profile(timeline, "IMPORT_CAPACITY_LIMIT")
    prices = winner_profile(timeline, "PRICE")
    only_limits = timeline.of_kind("IMPORT_CAPACITY_LIMIT")
    for k in range(n):
        a = start + k * step
        expected = reference_minimum(only_limits, "IMPORT_CAPACITY_LIMIT", a, a + step)
        assert _minimum(limits, a, a + step) == expected
        for t in (a, a + step / 3, a + timedelta(seconds=7)):
            assert repr(prices.value_at(t)) == repr(timeline.value_at("PRICE", t))
            assert prices.at(t) == timeline.winner_at("PRICE", t)


@settings(max_examples=300)
@given(timelines, offsets, steps, st.integers(1, 24))
def test_instructions_and_segments_are_those_of_the_reference(
    timeline: SignalTimeline, start: datetime, step: timedelta, n: int
) -> None:
    starts = [start + step * k for k in range(n)]
    end = start + step * n
    cuts = segments(timeline, starts, end)
    assert cuts == reference_segments(timeline, starts, end)
    instructions = instruction_profile(timeline)
    for a, b in cuts:
        for t in (a, a + (b - a) / 2):
            expected = reference_instruction_at(timeline, t)
            assert instruction_at(timeline, t, instructions) == expected


def test_an_equal_priority_tie_goes_to_the_later_start_then_the_larger_event_id() -> None:
    def price(start: int, eid: str, value: float) -> SignalInterval:
        return SignalInterval(T0 + MINUTE * start, T0 + MINUTE * 60, "PRICE", (value,), 1, eid)

    timeline = SignalTimeline((price(0, "b", 0.1), price(10, "a", 0.2), price(10, "c", 0.3)))
    prices = winner_profile(timeline, "PRICE")
    assert prices.value_at(T0 + MINUTE * 5) == 0.1
    assert prices.value_at(T0 + MINUTE * 20) == 0.3  # later start, then "c" > "a"
    assert prices.value_at(T0 + MINUTE * 60) is None


# -- the shape of the cost: lines of planner code run per signal interval ---------------------


def lines_run(call: Callable[[], object]) -> int:
    """How many lines of ven_edge code ``call`` runs (each loop pass counts again)."""
    count = 0

    def local(frame: FrameType, event: str, arg: object) -> object:
        nonlocal count
        if event == "line":
            count += 1
        return local

    def global_(frame: FrameType, event: str, arg: object) -> object:
        return local if "ven_edge" in frame.f_code.co_filename else None

    sys.settrace(global_)
    try:
        call()
    finally:
        sys.settrace(None)
    return count


def ten_second_signals(count: int, kind: str) -> SignalTimeline:
    """``count`` back-to-back ten-second intervals: varying prices, or SIMPLE levels 1 and 2."""
    return SignalTimeline(
        tuple(
            SignalInterval(
                T0 + timedelta(seconds=10 * k),
                T0 + timedelta(seconds=10 * (k + 1)),
                kind,
                (0.1 + (k * 7919 % 97) / 100,) if kind == "PRICE" else (1 + k % 2,),
                event_id="day",
            )
            for k in range(count)
        )
    )


EXACT = ExactPlanner(PlannerConfig(step=MINUTE * 15, capacity_kwh=10.0, hp_max_kw=1.0, hp_cop=3.0))


@pytest.mark.parametrize(
    ("planner", "kind"),
    [(EXACT, "PRICE"), (EXACT, "SIMPLE"), (plan_by_rules, "SIMPLE")],
    ids=["exact-prices", "exact-instructions", "rules-instructions"],
)
def test_planning_work_grows_linearly_with_signal_intervals(
    planner: Callable[[PlanInputs], object], kind: str
) -> None:
    device = answering(
        stored_energy_wh=5000, energy_capacity_wh=10000, present_temperature_c=f_to_c(125.0)
    )

    def work(count: int) -> int:
        inputs = PlanInputs(T0, ten_second_signals(count, kind), device)
        return lines_run(lambda: planner(inputs))

    small, large = work(400), work(3200)
    # Eight times the intervals: linear work is at most eight times as much (fixed per-step
    # work makes it less); the former steps × intervals look-ups made it about 40 times.
    assert large / small < 10, (small, large)
