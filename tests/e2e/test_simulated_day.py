"""A simulated day on real prices: the plan-driven heater keeps the outlet at or above 43 °C on
the DOE draw profile and costs less than the same heater left in normal mode, with the default
(state-based) plan → command strategy and with the toolkit's fraction mapping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hil.dayrun import COMFORT_FLOOR_C, load_prices, simulate_day
from ven_edge.config import parse_config
from ven_edge.cta2045.command_kind import CommandKind
from ven_edge.run import planner_for

PRICES = Path(__file__).resolve().parents[2] / "sample_data" / "prices"
MODEL = Path(__file__).resolve().parents[2] / "sample_data" / "hpwh_models" / "Rheem2020Prem50.json"


@pytest.mark.parametrize("strategy", [None, "fraction"], ids=["default", "fraction"])
@pytest.mark.parametrize("skip_hours", [0, 24], ids=["2026-02-19", "2026-02-25"])
def test_planned_day_is_comfortable_and_cheaper_than_normal(
    skip_hours: int, strategy: str | None
) -> None:
    prices = load_prices(PRICES / "olivine_etou_dyn_notebook_days.csv", skip_hours=skip_hours)
    plan: dict[str, Any] = {"step_minutes": 60}
    if strategy is not None:
        plan["strategy"] = strategy
    config = parse_config({"plan": plan, "heater": {"model": str(MODEL)}})
    normal = simulate_day(prices, None)
    planned = simulate_day(prices, planner_for(config))
    assert planned.min_outlet_c >= COMFORT_FLOOR_C
    assert normal.min_outlet_c >= COMFORT_FLOOR_C
    assert planned.cost < normal.cost
    kinds = {command.kind for _, command, _ in planned.commands}
    assert CommandKind.SHED in kinds
    # The same hot water was delivered (the draw profile belongs to the tank, not the plan).
    assert planned.delivered_kwh == pytest.approx(normal.delivered_kwh, rel=0.02)
