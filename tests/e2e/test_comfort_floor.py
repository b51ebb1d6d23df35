"""Comfort first on the simulated tank: the planner's day keeps the valve's outlet and the
delivered hot water of normal mode (docs/planner.md, "Comfort first")."""

from __future__ import annotations

from hil.dayrun import COMFORT_FLOOR_C, load_hoep_days, simulate_day
from hil.hpwh_model import MODELS_DIR
from ven_edge.config import parse_config
from ven_edge.run import planner_for


def test_a_planned_day_keeps_the_outlet_and_the_hot_water_of_normal_mode() -> None:
    (prices,) = load_hoep_days([200])
    config = parse_config(
        {"plan": {"step_minutes": 60},
         "heater": {"model": str(MODELS_DIR / "AOSmithHPTU50.json")}}
    )  # fmt: skip
    normal = simulate_day(prices, None, model="AOSmithHPTU50", draws="doe-high")
    planned = simulate_day(prices, planner_for(config), model="AOSmithHPTU50", draws="doe-high")
    assert planned.min_outlet_c >= min(COMFORT_FLOOR_C, normal.min_outlet_c)
    assert planned.delivered_kwh >= 0.99 * normal.delivered_kwh
    assert planned.cost <= 1.005 * normal.cost + 0.01
