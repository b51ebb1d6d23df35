"""The perfect-foresight optimum on the simulated tank (docs/planner.md, "The tank optimum")."""

from __future__ import annotations

import pytest

from hil.dayrun import COMFORT_FLOOR_C, load_hoep_days, simulate_day
from hil.tank_optimum import Command, tank_optimum

MODEL, DRAWS = "Rheem2020Prem50", "doe-medium"


@pytest.fixture(scope="module")
def day() -> tuple[list, object]:
    prices = load_hoep_days([200])[0]  # 2016-07-19: a summer day with an evening peak
    return prices, simulate_day(prices, None, model=MODEL, draws=DRAWS)


def test_normal_mode_alone_is_the_day_s_own_normal_run(day: tuple) -> None:
    # The search steps the same heater as hil.dayrun: commanded normal every hour, it is the
    # normal day to the last watt-hour.
    prices, normal = day
    only = tank_optimum(prices, normal, model=MODEL, draws=DRAWS, commands=(Command.NORMAL,))
    assert only is not None
    assert only.cost == pytest.approx(normal.cost, rel=1e-9)
    assert only.delivered_kwh == pytest.approx(normal.delivered_kwh, rel=1e-9)
    assert only.min_outlet_c == pytest.approx(normal.min_outlet_c)
    assert only.commands == (Command.NORMAL,) * 24


def test_the_optimum_saves_and_keeps_comfort(day: tuple) -> None:
    prices, normal = day
    best = tank_optimum(prices, normal, model=MODEL, draws=DRAWS, bucket_kwh=0.5)
    assert best is not None
    assert len(best.commands) == 24
    assert best.fair_cost < 0.97 * normal.cost  # at least 3 % on this day
    assert best.min_outlet_c >= min(COMFORT_FLOOR_C, normal.min_outlet_c)
    assert best.delivered_kwh >= 0.99 * normal.delivered_kwh
    assert set(best.commands) - {Command.NORMAL}  # it does command the heater
    # A finer discretisation keeps more states and finds a schedule at least about as cheap.
    finer = tank_optimum(prices, normal, model=MODEL, draws=DRAWS, bucket_kwh=0.25)
    assert finer is not None
    assert finer.states > best.states
    assert finer.fair_cost <= best.fair_cost + 0.005 * normal.cost


def test_without_a_valve_the_set_point_is_not_raised() -> None:
    prices = load_hoep_days([200])[0]
    normal = simulate_day(prices, None, model=MODEL, draws=DRAWS, mixing_valve_c=None)
    best = tank_optimum(
        prices, normal, model=MODEL, draws=DRAWS, mixing_valve_c=None, bucket_kwh=0.5
    )
    assert best is not None
    assert Command.SET_POINT not in best.commands
