"""The rule planner: instructions obeyed, price peaks shed, pre-heating before them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.devices import answering
from ven_edge.control import CommandKind, PlanInputs
from ven_edge.plan.rule_planner import MIN_SEGMENT, plan_by_rules, probe, segments
from ven_edge.signals import SignalInterval, SignalTimeline

T0 = datetime(2026, 1, 14, 0, 0, tzinfo=UTC)
ON = answering(operational_state=0, stored_energy_wh=8000, energy_capacity_wh=12000)


def hourly_prices(prices: list[float]) -> list[SignalInterval]:
    return [
        SignalInterval(
            T0 + timedelta(hours=h), T0 + timedelta(hours=h + 1), "PRICE", (p,), event_id="tou"
        )
        for h, p in enumerate(prices)
    ]


def test_simple_levels_map_to_commands() -> None:
    for level, kind in [
        (1, CommandKind.SHED),
        (2, CommandKind.CRITICAL_PEAK),
        (3, CommandKind.GRID_EMERGENCY),
    ]:
        ev = SignalInterval(T0, T0 + timedelta(hours=2), "SIMPLE", (level,), event_id="e")
        plan = plan_by_rules(PlanInputs(T0, SignalTimeline((ev,)), ON))
        active = plan.active(T0 + timedelta(minutes=30))
        assert active is not None
        assert active.kind is kind
        assert active.event_id == "e"
        assert active.end == T0 + timedelta(hours=2)
        assert plan.active(T0 + timedelta(hours=2)) is None


def test_price_peak_is_shed_and_preceded_by_load_up() -> None:
    prices = [0.10] * 17 + [0.40, 0.40, 0.40] + [0.10] * 4
    plan = plan_by_rules(PlanInputs(T0, SignalTimeline(tuple(hourly_prices(prices))), ON))
    shed = plan.active(T0 + timedelta(hours=18))
    assert shed is not None
    assert shed.kind is CommandKind.SHED
    pre = plan.active(T0 + timedelta(hours=16))
    assert pre is not None
    assert pre.kind is CommandKind.LOAD_UP
    assert "17:00" in pre.reason
    assert plan.active(T0 + timedelta(hours=10)) is None
    assert len(plan.steps) == 96


def test_flat_tariff_triggers_nothing() -> None:
    plan = plan_by_rules(PlanInputs(T0, SignalTimeline(tuple(hourly_prices([0.2] * 24))), ON))
    assert plan.commands == ()


def test_low_tank_is_not_shed_for_price_but_obeys_an_instruction() -> None:
    low = answering(stored_energy_wh=1000, energy_capacity_wh=12000)
    prices = hourly_prices([0.10] * 17 + [0.40] * 3 + [0.10] * 4)
    ev = SignalInterval(
        T0 + timedelta(hours=18), T0 + timedelta(hours=19), "SIMPLE", (1,), event_id="x"
    )
    plan = plan_by_rules(PlanInputs(T0, SignalTimeline((*prices, ev)), low))
    peak_only = plan.active(T0 + timedelta(hours=17, minutes=30))
    assert peak_only is None or peak_only.kind is not CommandKind.SHED
    instructed = plan.active(T0 + timedelta(hours=18, minutes=30))
    assert instructed is not None
    assert instructed.kind is CommandKind.SHED


def test_higher_priority_instruction_wins() -> None:
    lo = SignalInterval(T0, T0 + timedelta(hours=1), "SIMPLE", (1,), priority=5, event_id="lo")
    hi = SignalInterval(T0, T0 + timedelta(hours=1), "SIMPLE", (3,), priority=0, event_id="hi")
    plan = plan_by_rules(PlanInputs(T0, SignalTimeline((lo, hi)), ON))
    active = plan.active(T0)
    assert active is not None
    assert active.event_id == "hi"
    assert active.kind is CommandKind.GRID_EMERGENCY


def test_an_event_off_the_step_grid_starts_and_ends_on_time() -> None:
    start, end = T0 + timedelta(hours=2, minutes=7), T0 + timedelta(hours=3, minutes=7)
    ev = SignalInterval(start, end, "SIMPLE", (1,), 0, "odd")
    now = T0 + timedelta(minutes=4)
    plan = plan_by_rules(PlanInputs(now, SignalTimeline((ev,)), ON))
    assert [(c.start, c.end, c.kind) for c in plan.commands] == [(start, end, CommandKind.SHED)]


def test_an_event_ending_just_before_a_step_leaves_no_sliver() -> None:
    # An event made from "now" ends 300 ms before a step boundary: the 300 ms between its end
    # and the step must not become a command of their own (a pre-heat of 300 ms).
    ev = SignalInterval(T0, T0 + timedelta(hours=1, milliseconds=-300), "SIMPLE", (1,), 0, "ev")
    signals = SignalTimeline((ev, *hourly_prices([0.1, 0.5] + [0.1] * 22)))
    plan = plan_by_rules(PlanInputs(T0 + timedelta(minutes=1), signals, ON))
    assert all(c.end is not None and c.end - c.start >= MIN_SEGMENT for c in plan.commands)
    first, second = plan.commands[:2]
    assert (first.kind, first.event_id, first.end) == (CommandKind.SHED, "ev", ev.end)
    # The price peak's shed follows from the event's end.
    assert (second.kind, second.event_id, second.start) == (CommandKind.SHED, None, ev.end)


def test_segments_have_no_slivers_and_probe_the_step_they_mostly_cover() -> None:
    step = timedelta(minutes=15)
    starts = [T0 + step * k for k in range(8)]
    ev = SignalInterval(
        T0 + timedelta(minutes=29, seconds=59), T0 + timedelta(minutes=60.5), "SIMPLE", (1,)
    )
    cuts = segments(SignalTimeline((ev,)), starts, T0 + 8 * step)
    assert all(b - a >= MIN_SEGMENT for a, b in cuts)
    assert ev.start in {a for a, _ in cuts}
    assert ev.end in {a for a, _ in cuts}
    after = next(c for c in cuts if c[0] == ev.end)
    assert after == (ev.end, T0 + 5 * step)
    assert T0 + 4 * step <= probe(*after) < T0 + 5 * step


def test_of_two_equal_priority_instructions_the_later_is_obeyed_as_the_page_shows() -> None:
    from ven_edge.daemon import events_at

    older = SignalInterval(T0, T0 + timedelta(hours=3), "SIMPLE", (1,), 0, "simple1")
    newer = SignalInterval(
        T0 + timedelta(hours=1), T0 + timedelta(hours=2), "SIMPLE", (2,), 0, "simple2"
    )
    timeline = SignalTimeline((older, newer))
    plan = plan_by_rules(PlanInputs(T0, timeline, ON))
    during = T0 + timedelta(hours=1, minutes=30)
    active = plan.active(during)
    assert active is not None
    assert (active.kind, active.event_id) == (CommandKind.CRITICAL_PEAK, "simple2")
    assert timeline.winner_at("SIMPLE", during) == newer
    card = events_at(timeline, during, obeyed=active.event_id).current
    assert card is not None
    assert card.id == "simple2"
    after = plan.active(T0 + timedelta(hours=2, minutes=30))
    assert after is not None
    assert (after.kind, after.event_id) == (CommandKind.SHED, "simple1")
