"""The default planner: exact schedule on prices, instructions first, nothing beyond the prices."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.devices import answering
from ven_edge.control import PlanInputs
from ven_edge.cta2045.command_kind import CommandKind
from ven_edge.plan.builder import PlannerConfig
from ven_edge.plan.exact_planner import DEFAULT_LOSS_PER_HOUR, ExactPlanner
from ven_edge.plan.hpwh_model import HpwhModel
from ven_edge.plan.problem import Problem, Source
from ven_edge.plan.rule_planner import MIN_SEGMENT
from ven_edge.plan.scheduler import schedule
from ven_edge.plan.tank_costs import with_holding_cost
from ven_edge.signals import SignalInterval, SignalTimeline

T0 = datetime(2026, 2, 17, 12, 0, tzinfo=UTC)
MODEL = HpwhModel.load(
    Path(__file__).resolve().parents[2] / "sample_data" / "hpwh_models" / "Rheem2020Prem50.json"
)
TANK = answering(
    operational_state=0, stored_energy_wh=7000, energy_capacity_wh=10000, present_temperature_c=50
)
PLANNER = ExactPlanner(PlannerConfig(step=timedelta(hours=1)), MODEL, strategy="fraction")


def prices(values: list[float]) -> tuple[SignalInterval, ...]:
    return tuple(
        SignalInterval(
            T0 + timedelta(hours=h), T0 + timedelta(hours=h + 1), "PRICE", (p,), None, "t"
        )
        for h, p in enumerate(values)
    )


def test_flat_tariff_gives_no_command() -> None:
    plan = PLANNER(PlanInputs(T0, SignalTimeline(prices([0.2] * 24)), TANK))
    assert plan.commands == ()
    assert [s.price for s in plan.steps[:3]] == [0.2, 0.2, 0.2]


def test_peak_is_shed_and_nothing_is_planned_beyond_the_prices() -> None:
    plan = PLANNER(PlanInputs(T0, SignalTimeline(prices([0.1] * 5 + [0.4] * 3 + [0.1] * 4)), TANK))
    kinds_in_peak = {c.kind for c in plan.commands if c.start < T0 + timedelta(hours=8)}
    assert CommandKind.SHED in kinds_in_peak
    assert all(c.end is not None and c.end <= T0 + timedelta(hours=12) for c in plan.commands)
    assert plan.steps[12].price is None


def test_instruction_wins_over_the_price_plan() -> None:
    shed = SignalInterval(T0, T0 + timedelta(hours=2), "SIMPLE", (3,), 0, "ge")
    plan = PLANNER(PlanInputs(T0, SignalTimeline((*prices([0.05] * 24), shed)), TANK))
    first = plan.active(T0 + timedelta(minutes=30))
    assert first is not None
    assert first.kind is CommandKind.GRID_EMERGENCY
    assert first.event_id == "ge"


def test_instructions_work_without_any_price() -> None:
    shed = SignalInterval(T0, T0 + timedelta(hours=1), "SIMPLE", (1,), None, "s")
    plan = PLANNER(PlanInputs(T0, SignalTimeline((shed,)), answering()))
    active = plan.active(T0)
    assert active is not None
    assert active.kind is CommandKind.SHED


def test_an_event_off_the_step_grid_starts_and_ends_on_time() -> None:
    start, end = T0 + timedelta(hours=2, minutes=24), T0 + timedelta(hours=3, minutes=24)
    ev = SignalInterval(start, end, "SIMPLE", (2,), 0, "odd")
    plan = PLANNER(PlanInputs(T0 + timedelta(minutes=6), SignalTimeline((ev,)), TANK))
    assert [(c.start, c.end, c.kind) for c in plan.commands] == [
        (start, end, CommandKind.CRITICAL_PEAK)
    ]


def test_equal_prices_preheat_as_late_as_possible() -> None:
    # The scheduler's tank is lossless: between equal prices it would fill the tank at once and
    # hold it for hours. The standby loss priced in moves the pre-heat next to the peak.
    n = 12
    price = (0.10,) * 8 + (0.30,) * 2 + (0.10,) * 2
    pump = Source("heat_pump", (3.0,) * n, (1.5,) * n, (0.0,) * n)
    problem = Problem(1.0, price, (0.5,) * n, 2.0, 1.0, 6.0, 2.0, (pump,))
    lossless = schedule(problem).total_heat()
    priced = schedule(with_holding_cost(problem, DEFAULT_LOSS_PER_HOUR)).total_heat()
    assert lossless[0] > 1.0  # the tank filled at the first step
    assert priced[0] == 0.0
    assert priced[7] == pytest.approx(1.5)  # the last cheap hour before the peak runs flat out
    assert list(priced[8:10]) == [0.0, 0.0]  # and nothing is bought in the peak
    assert with_holding_cost(problem, 0.0) is problem
    negative = replace(problem, price=(-0.1,) * n)
    assert with_holding_cost(negative, 0.01).price == negative.price


def test_holding_cost_comes_from_the_model() -> None:
    rate = PLANNER._loss_per_hour()
    assert rate == pytest.approx(MODEL.ua_w_per_k / 1000 / MODEL.heat_capacity_kwh_per_k)
    assert ExactPlanner()._loss_per_hour() == DEFAULT_LOSS_PER_HOUR


def test_an_event_made_just_before_the_plan_leaves_no_sliver_after_it() -> None:
    # The live gateway: the event ends at t + 1 h, the plan is made 300 ms after t, so a step
    # boundary falls 300 ms after the event's end. No "20:13–20:13" command may come of it.
    planner = ExactPlanner(PlannerConfig(step=timedelta(minutes=15)), MODEL)
    event = SignalInterval(T0, T0 + timedelta(hours=1), "SIMPLE", (1,), 0, "ev")
    now = T0 + timedelta(milliseconds=300)
    signals = SignalTimeline((event, *prices([0.30, 0.12, 0.10, 0.11, 0.25, 0.28])))
    plan = planner(PlanInputs(now, signals, TANK))
    assert all(c.end is not None and c.end - c.start >= MIN_SEGMENT for c in plan.commands)
    first, second = plan.commands[:2]
    assert (first.kind, first.end, first.event_id) == (CommandKind.SHED, event.end, "ev")
    # After the event the price plan's command for the cheap hour, from the event's end.
    assert second.start == event.end
    assert second.event_id is None


def test_reasons_cite_only_prices_the_utility_sent() -> None:
    # Six hours of prices, then none: the builder fills the rest of the horizon with a neutral
    # price so that the plan can go on, but no reason may name that made-up price.
    planner = ExactPlanner(PlannerConfig(step=timedelta(minutes=15)), MODEL)
    sent = [0.30, 0.12, 0.10, 0.11, 0.25, 0.28]
    plan = planner(PlanInputs(T0, SignalTimeline(prices(sent)), TANK))
    # "reheating from 15:00 when it is cheaper (0.100 $/kWh)", "before the 16:00 price peak
    # (0.280 $/kWh)": a time when the utility sent a price, and that price.
    cited = [
        (time, float(price))
        for c in plan.commands
        for time, price in re.findall(
            r"(\d\d:\d\d)(?: when it is cheaper| price peak) \((\d+\.\d+) \$/kWh\)", c.reason
        )
    ]
    assert cited
    for time, price in cited:
        hour = int(time[:2]) - T0.hour
        assert 0 <= hour < len(sent)
        assert price == sent[hour]
    assert any("instead of heating now" in c.reason for c in plan.commands)
