"""Plans on the clock, calm re-plans, comfort first and honest figures (docs/planner.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.devices import answering
from ven_edge.config import parse_config
from ven_edge.control import ControlPlan, PlanInputs
from ven_edge.cta2045.command_kind import CommandKind
from ven_edge.plan.builder import PlannerConfig
from ven_edge.plan.exact_planner import ExactPlanner
from ven_edge.plan.grid import step_bounds
from ven_edge.plan.hpwh_model import HpwhModel
from ven_edge.run import planner_for
from ven_edge.signal_profile import winner_profile
from ven_edge.signals import SignalInterval, SignalTimeline

MODELS = Path(__file__).resolve().parents[2] / "sample_data" / "hpwh_models"
MODEL = HpwhModel.load(MODELS / "Rheem2020Prem50.json")
T0 = datetime(2026, 2, 17, 12, 0, tzinfo=UTC)
Q = timedelta(minutes=15)
TANK = answering(
    operational_state=0, stored_energy_wh=7000, energy_capacity_wh=10000, present_temperature_c=50
)


def hourly(values: list[float], start: datetime = T0, unit: str | None = None) -> SignalTimeline:
    return SignalTimeline(
        tuple(
            SignalInterval(
                start + timedelta(hours=h),
                start + timedelta(hours=h + 1),
                "PRICE",
                (p,),
                None,
                "prices",
                unit=unit,
            )
            for h, p in enumerate(values)
        )
    )


DAY = [0.10, 0.09, 0.08, 0.10, 0.30, 0.35, 0.32, 0.12] * 3


def test_a_replan_at_18_11_04_keeps_the_steps_on_the_quarter_hours() -> None:
    planner = ExactPlanner(PlannerConfig(step=Q), MODEL)
    now = datetime(2026, 2, 17, 18, 11, 4, tzinfo=UTC)
    plan = planner(PlanInputs(now, hourly(DAY, T0.replace(hour=18)), TANK))
    starts = [s.start for s in plan.steps]
    assert starts[0] == now
    assert starts[1] == now.replace(minute=15, second=0)
    assert all(s.minute % 15 == 0 and s.second == 0 for s in starts[1:])
    assert all(c.start == now or c.start in starts for c in plan.commands)


def test_a_price_boundary_inside_a_step_splits_it() -> None:
    prices = hourly([0.2, 0.1, 0.3], T0 + timedelta(minutes=4))
    bounds = step_bounds(T0, Q, timedelta(hours=2), winner_profile(prices, "PRICE"))
    assert T0 + timedelta(minutes=4) in bounds
    assert T0 + timedelta(minutes=64) in bounds
    assert all(b.minute % 15 == 0 for b in bounds if b.minute not in (4,))


def test_prices_shorter_than_a_step_are_averaged_into_it() -> None:
    five = SignalTimeline(
        tuple(
            SignalInterval(
                T0 + k * timedelta(minutes=5),
                T0 + (k + 1) * timedelta(minutes=5),
                "PRICE",
                (0.1 + 0.01 * (k % 3),),
                None,
                "p",
            )
            for k in range(12 * 24)
        )
    )
    bounds = step_bounds(T0, Q, timedelta(hours=24), winner_profile(five, "PRICE"))
    assert len(bounds) == 24 * 4 + 1
    plan = ExactPlanner(PlannerConfig(step=Q), MODEL)(PlanInputs(T0, five, TANK))
    assert plan.steps[0].price == pytest.approx(0.11)


def test_a_replan_within_a_step_keeps_the_price_command_to_the_step_end() -> None:
    planner = ExactPlanner(PlannerConfig(step=Q), MODEL)
    cheap_now = hourly([0.05, 0.30, 0.35, 0.30] + [0.2] * 20)
    first = planner(PlanInputs(T0, cheap_now, TANK))
    held = first.active(T0)
    assert held is not None
    assert held.kind is CommandKind.LOAD_UP
    # Minutes later the utility sends prices that make the present hour the dearest.
    dear_now = hourly([0.40, 0.05, 0.05, 0.30] + [0.2] * 20)
    later = T0 + timedelta(minutes=7)
    second = planner(PlanInputs(later, dear_now, TANK))
    now_cmd = second.active(later)
    assert now_cmd is not None
    assert now_cmd.kind is CommandKind.LOAD_UP
    assert second.run_end(later) == T0 + Q
    # From the step boundary on, the new plan (a change worth making) applies.
    assert second.active(T0 + Q) is None or second.active(T0 + Q).kind is not CommandKind.LOAD_UP


def kinds(plan: ControlPlan, minutes: range) -> list[CommandKind | None]:
    out = []
    for m in minutes:
        command = plan.active(T0 + timedelta(minutes=m))
        out.append(None if command is None else command.kind)
    return out


@pytest.mark.parametrize(("min_saving", "min_kwh", "kept"), [(1.0, 50.0, True), (0, 0, False)])
def test_a_replan_changes_the_commands_only_when_worth_it(
    min_saving: float, min_kwh: float, kept: bool
) -> None:
    planner = ExactPlanner(PlannerConfig(step=Q), MODEL, min_saving=min_saving,
                           min_shift_kwh=min_kwh)  # fmt: skip
    first = planner(PlanInputs(T0, hourly(DAY), TANK))
    later = T0 + timedelta(minutes=31)
    moved = DAY.copy()
    moved[1], moved[2] = 0.30, 0.31  # the utility makes the next cheap hours dear
    second = planner(PlanInputs(later, hourly(moved), TANK))
    span = range(45, 24 * 60 - 60, 15)
    assert (kinds(first, span) == kinds(second, span)) is kept


def test_a_replan_on_a_step_boundary_decides_that_step() -> None:
    planner = ExactPlanner(PlannerConfig(step=Q), MODEL)
    first = planner(PlanInputs(T0, hourly([0.05, 0.30, 0.35, 0.30] + [0.2] * 20), TANK))
    assert first.active(T0 + Q) is not None
    dear_now = hourly([0.40, 0.05, 0.05, 0.30] + [0.2] * 20)
    second = planner(PlanInputs(T0 + Q, dear_now, TANK))
    now_cmd = second.active(T0 + Q)
    assert now_cmd is None or now_cmd.kind is not CommandKind.LOAD_UP


def test_adjacent_price_commands_of_the_same_kind_merge() -> None:
    plan = ExactPlanner(PlannerConfig(step=Q), MODEL)(PlanInputs(T0, hourly(DAY), TANK))
    for a, b in zip(plan.commands, plan.commands[1:], strict=False):
        assert not (a.end == b.start and a.kind == b.kind and a.event_id == b.event_id)


def test_a_plan_that_does_not_save_enough_runs_in_normal_mode() -> None:
    nearly_flat = [0.100, 0.101, 0.100, 0.102] * 6
    config = PlannerConfig(step=Q, hp_max_kw=1.5, hp_cop=3.0, element_kw=4.5)
    planner = ExactPlanner(config, None, min_saving=0.05)
    plan = planner(PlanInputs(T0, hourly(nearly_flat), TANK))
    assert plan.commands == ()
    assert plan.expected_cost == plan.normal_cost
    # The steps show the thermostat's own heating: it waits until the draws have taken the
    # tank its dead band down, then heats back (docs/planner.md, "What the heater does with a
    # command").
    assert plan.steps[0].heat_kwh == 0
    assert any(s.heat_kwh > 0 for s in plan.steps)


def test_expected_and_normal_costs_and_the_unit_come_with_the_plan() -> None:
    planner = ExactPlanner(PlannerConfig(step=Q), MODEL)
    plan = planner(PlanInputs(T0, hourly(DAY, unit="USD/KWH"), TANK))
    assert plan.price_unit == "USD/KWH"
    assert plan.expected_cost is not None
    assert plan.normal_cost is not None
    assert plan.expected_cost < plan.normal_cost
    assert any("USD/KWH" in c.reason for c in plan.commands)


def test_min_delivery_c_sets_where_stored_energy_counts_from() -> None:
    # A tank read by its temperature only (no commodity reading) at 50 °C.
    tank = answering(operational_state=0, present_temperature_c=50)
    prices = hourly([0.40, 0.40, 0.05, 0.05] + [0.2] * 20)
    model = str(MODELS / "Rheem2020Prem50.json")

    def first_hour(min_delivery: float) -> float:
        config = parse_config(
            {"plan": {"step_minutes": 15, "min_delivery_c": min_delivery},
             "heater": {"model": model}}
        )  # fmt: skip
        plan = planner_for(config)(PlanInputs(T0, prices, tank))
        return sum(s.heat_kwh for s in plan.steps[:4])

    # At 43 °C the tank holds enough to wait for the cheap hours; at 49 °C it holds little
    # above the floor and must heat in the dear first hour.
    assert first_hour(43.0) == pytest.approx(0.0, abs=1e-6)
    assert first_hour(49.0) > 0.1


def test_reasons_do_not_promise_a_cheaper_price_that_is_the_same() -> None:
    prices = hourly([0.122, 0.122, 0.120, 0.121, 0.40, 0.45] + [0.2] * 18)
    plan = ExactPlanner(PlannerConfig(step=Q), MODEL)(PlanInputs(T0, prices, TANK))
    for command in plan.commands:
        assert "cheaper (0.120" not in command.reason
        assert "0.122 $/kWh before the" not in command.reason or "peak" in command.reason
