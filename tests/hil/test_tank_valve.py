"""Thermostatic mixing valve on the stratified tank: draws are volumes of mixed water, the tank
gives only the hot share, so the heat delivered is what the household uses at any storage
temperature, and comfort is read at the valve's outlet."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hil.dayrun import load_prices, simulate_day
from hil.draws import Draw, DrawProfile, load_draw_profile
from hil.hpwh_model import WATER_RHO_CP_J_PER_L_K, load_model
from hil.scenarios import heater_config_for
from hil.tank import DEFAULT_VALVE_C, StratifiedTank
from tests.hil.helpers import NORMAL, balance_error_wh, run

DAY = 86_400.0
PRICES = Path(__file__).resolve().parents[2] / "sample_data" / "prices"
OFF = replace(NORMAL, element_allowed=False, heat_pump_allowed=False)
ONE_DRAW = DrawProfile("one", (Draw(start_s=0.0, volume_l=10.0, flow_l_per_min=10.0),))


def tank(draws: DrawProfile, temp_c: float, valve: float | None) -> StratifiedTank:
    return StratifiedTank(
        load_model("Rheem2020Prem50"), draws, initial_temp_c=temp_c, mixing_valve_c=valve
    )


def test_a_hot_tank_gives_only_the_hot_share() -> None:
    t = tank(ONE_DRAW, 60.0, DEFAULT_VALVE_C)
    t_in = t.conditions.inlet_c
    reading = t.advance(60, OFF)
    totals = reading.totals
    assert totals.used_l == pytest.approx(10.0)
    assert totals.drawn_l == pytest.approx(10.0 * (DEFAULT_VALVE_C - t_in) / (60.0 - t_in))
    used_wh = 10.0 * WATER_RHO_CP_J_PER_L_K * (DEFAULT_VALVE_C - t_in) / 3600
    assert totals.delivered_wh == pytest.approx(used_wh)
    assert reading.min_delivered_c == pytest.approx(DEFAULT_VALVE_C)
    assert reading.outlet_c == pytest.approx(DEFAULT_VALVE_C)


def test_a_tank_cooler_than_the_valve_delivers_its_own_temperature() -> None:
    t = tank(ONE_DRAW, 45.0, DEFAULT_VALVE_C)
    reading = t.advance(60, OFF)
    assert reading.totals.drawn_l == pytest.approx(reading.totals.used_l)
    assert reading.outlet_c == pytest.approx(reading.nodes_c[-1])
    assert reading.min_delivered_c == pytest.approx(45.0, abs=0.01)


@pytest.mark.parametrize("model", ["Rheem2020Prem50", "AOSmithHPTU80"])
def test_storing_hotter_does_not_deliver_more_heat_behind_a_valve(model: str) -> None:
    delivered = {}
    for valve in (None, DEFAULT_VALVE_C):
        for setpoint in (52.0, 60.0):
            t = StratifiedTank(
                load_model(model),
                load_draw_profile("doe-medium"),
                initial_temp_c=setpoint,
                mixing_valve_c=valve,
            )
            totals = run(t, DAY, replace(NORMAL, setpoint_c=setpoint)).totals
            delivered[valve, setpoint] = totals.delivered_wh
    # Without a valve the same litres carry 20 % more heat out of a 60 °C tank.
    assert delivered[None, 60.0] > 1.15 * delivered[None, 52.0]
    # Behind the valve the household gets the same heat either way.
    assert delivered[DEFAULT_VALVE_C, 60.0] == pytest.approx(
        delivered[DEFAULT_VALVE_C, 52.0], rel=0.005
    )


@pytest.mark.parametrize("setting", [math.nan, math.inf, 20.0, 80.0])
def test_a_valve_setting_out_of_range_is_refused(setting: float) -> None:
    with pytest.raises(ValueError, match="mixing_valve_c"):
        tank(ONE_DRAW, 50.0, setting)


@settings(max_examples=40, deadline=None)
@given(
    valve=st.floats(min_value=30.0, max_value=70.0),
    start=st.floats(min_value=10.0, max_value=71.0),
    litres=st.floats(min_value=0.0, max_value=400.0),
    flow=st.floats(min_value=0.5, max_value=40.0),
)
def test_any_draw_keeps_the_energy_balance_and_the_outlet_at_most_the_valve(
    valve: float, start: float, litres: float, flow: float
) -> None:
    draws = DrawProfile("fuzz", (Draw(0.0, litres, flow),))
    t = tank(draws, start, valve)
    heat0 = t.heat_content_wh
    reading = run(t, 4 * 3600.0, NORMAL)
    totals = reading.totals
    assert reading.outlet_c <= valve + 1e-9
    if reading.min_delivered_c is not None:
        assert reading.min_delivered_c <= valve + 1e-9
    assert totals.drawn_l <= totals.used_l + 1e-9
    scale = max(1.0, totals.electric_wh, totals.delivered_wh)
    assert abs(balance_error_wh(t, heat0)) < 1e-6 * scale


def test_a_day_run_is_judged_behind_the_valve() -> None:
    """A heater held at 140 °F all day does not look like it serves the household more than one
    at 130 °F: behind the default valve both deliver the same heat at the valve's 49 °C;
    without it the hotter tank is credited with heat the household never asked for."""
    prices = load_prices(PRICES / "olivine_etou_dyn_notebook_days.csv")
    warm, hot = (heater_config_for("Rheem2020Prem50", set_point_f=f) for f in (130, 140))
    days = {
        (config.set_point_f, valve): simulate_day(
            prices, None, heater_config=config, mixing_valve_c=valve
        )
        for config in (warm, hot)
        for valve in (DEFAULT_VALVE_C, None)
    }
    valved_warm, valved_hot = days[130, DEFAULT_VALVE_C], days[140, DEFAULT_VALVE_C]
    assert valved_hot.delivered_kwh == pytest.approx(valved_warm.delivered_kwh, rel=1e-3)
    assert valved_hot.min_outlet_c == pytest.approx(DEFAULT_VALVE_C)
    assert days[140, None].delivered_kwh > 1.05 * days[130, None].delivered_kwh
