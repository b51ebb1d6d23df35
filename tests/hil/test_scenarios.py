"""The thermal-model factory: protocol conformance and what the heater sees."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from hil.draws import DrawProfileError
from hil.hpwh_model import MODEL_NAMES, ModelFileError
from hil.scenarios import (
    build_thermal_model,
    seconds_since_local_midnight,
    thermal_model_from_spec,
)
from hil.tank import MAX_STORAGE_C
from hil.thermal import ThermalModel, ThermalState
from tests.hil.helpers import DOE_SETPOINT_C, NORMAL


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_built_models_implement_the_protocol(model: str) -> None:
    thermal = build_thermal_model(model, "doe-medium", initial_temp_c=DOE_SETPOINT_C)
    assert isinstance(thermal, ThermalModel)
    state = thermal.state
    assert isinstance(state, ThermalState)
    assert state.energy_used_wh == 0
    assert state.stored_wh == pytest.approx(thermal.reading.stored_wh)


def test_state_follows_the_tank_through_a_day() -> None:
    thermal = build_thermal_model("Rheem2020Prem50", "doe-medium", initial_temp_c=DOE_SETPOINT_C)
    used = [0.0]
    saw_heating = False
    for _ in range(24 * 60):
        state = thermal.advance(60, NORMAL)
        used.append(state.energy_used_wh)
        saw_heating |= state.heating and state.power_w > 0
        assert state.outlet_temp_c >= state.tank_temp_c - 1e-9
        assert state.stored_wh >= 0
    assert used == sorted(used)
    assert saw_heating
    assert thermal.state == state
    # A tank at 62.8 °C holds exactly its capacity: heat above the mains up to the ALU ceiling.
    full = build_thermal_model("Rheem2020Prem50", "none", initial_temp_c=MAX_STORAGE_C)
    at_ceiling = full.advance(0, NORMAL)
    assert at_ceiling.stored_wh == pytest.approx(at_ceiling.capacity_wh)
    assert at_ceiling.capacity_wh == pytest.approx(171 * 4.16 / 3.6 * (62.8 - 14.4), rel=0.01)
    # Usable heat: ≈ 1.7 kWh between 43.3 °C and 51.7 °C in a 50-gal tank (docs/hpwh.md §5.2).
    at_setpoint = build_thermal_model("Rheem2020Prem50", "none", initial_temp_c=DOE_SETPOINT_C)
    assert at_setpoint.reading.usable_wh == pytest.approx(1700, rel=0.05)
    assert at_setpoint.reading.usable_wh < at_setpoint.state.stored_wh


def test_capacity_is_fixed_and_stored_heat_follows_the_set_point() -> None:
    thermal = build_thermal_model("AOSmithHPTU80", "none")
    normal = thermal.advance(600, NORMAL)
    raised = thermal.advance(4 * 3600, replace(NORMAL, setpoint_c=60.0))
    assert raised.capacity_wh == normal.capacity_wh
    # The compressor stops with the whole tank at 60 °C; the mean then drifts down with the
    # standby loss until the next start.
    assert raised.tank_temp_c == pytest.approx(60.0, abs=1.0)
    wh_per_k = thermal.tank.model.heat_capacity_j_per_k / 3600
    expected = wh_per_k * (raised.tank_temp_c - normal.tank_temp_c)
    assert raised.stored_wh - normal.stored_wh == pytest.approx(expected)


def test_spec_strings() -> None:
    assert thermal_model_from_spec("AOSmithHPTU50:doe-high").tank.model.name == "AOSmithHPTU50"
    assert thermal_model_from_spec("AOSmithHPTU50:doe-high").tank.draws.name == "doe-high"
    assert thermal_model_from_spec("").tank.model.name == "Rheem2020Prem50"
    assert thermal_model_from_spec("Rheem2020Prem80").tank.draws.name == "doe-medium"
    with pytest.raises(ModelFileError, match="unknown HPWH model"):
        thermal_model_from_spec("Boiler9000")
    with pytest.raises(DrawProfileError, match="unknown draw profile"):
        thermal_model_from_spec("Rheem2020Prem50:flood")


def test_spec_start_places_the_model_on_the_draw_day() -> None:
    # 17:00 is the DOE Medium day's last draw (7 gal at 1.7 gpm): water flows at once.
    evening = thermal_model_from_spec("Rheem2020Prem50:doe-medium", start_s=17 * 3600)
    evening.advance(60, NORMAL)
    assert evening.reading.totals.drawn_l == pytest.approx(1.7 * 3.785411784)
    assert seconds_since_local_midnight(datetime(2026, 1, 1, 17, 0, 30)) == 17 * 3600 + 30
