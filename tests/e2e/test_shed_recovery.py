"""A shed the heater would recover from in the price peak is not planned: on the simulated tank
with the draws learned the week before, the planned day heats no more than normal mode in the
day's dearest quarter of hours (docs/planner.md, "What the heater does with a command")."""

from __future__ import annotations

from hil.dayrun import load_hoep_days, simulate_day
from hil.hpwh_model import MODELS_DIR
from hil.learned_week import learn_week, planning_with
from ven_edge.config import parse_config
from ven_edge.run import planner_for

#: 2 August 2016 (day of the year, from 0): normal mode heats late in the morning, cheaply; a
#: shed from the early morning used to let the tank reach the shed trigger in the evening peak.
AUGUST_2 = 214


def test_a_long_shed_does_not_move_the_recovery_into_the_price_peak() -> None:
    model, draws = "Rheem2020Prem80", "doe-medium"
    (prices,) = load_hoep_days([AUGUST_2])
    assert f"{prices[0].start:%m-%d}" == "08-02"
    config = parse_config(
        {"plan": {"step_minutes": 60}, "heater": {"model": str(MODELS_DIR / f"{model}.json")}}
    )
    week = learn_week(model, draws, prices[0].start)
    planner = planning_with(planner_for(config), week.forecast)
    normal = simulate_day(prices, None, model=model, draws=draws)
    planned = simulate_day(prices, planner, model=model, draws=draws)
    assert planned.peak_energy_kwh <= normal.peak_energy_kwh + 0.01
    # The heat left in the tank beyond normal mode's, valued as the bench does (at the normal
    # day's COP and the day's mean price): the day costs within 5 % of normal mode (it cost 24 %
    # more when the recovery fell in the peak; the 0.5 % target is not met yet).
    cop = sum(normal.hourly_heat_kwh) / normal.energy_kwh
    mean_price = sum(p.price for p in prices) / len(prices)
    extra = (planned.end_stored_kwh - normal.end_stored_kwh) / cop * mean_price
    assert planned.cost - extra <= 1.05 * normal.cost
