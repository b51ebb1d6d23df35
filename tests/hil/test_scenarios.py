"""The thermal-model factory: protocol conformance and what the heater sees."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hil.draws import DrawProfileError
from hil.hpwh_model import MODEL_NAMES, ModelFileError
from hil.scenarios import build_thermal_model, thermal_model_from_spec
from hil.tank import MIN_USEFUL_C
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
    # Full tank at the set point holds exactly its capacity (heat above 43.3 °C).
    full = build_thermal_model("Rheem2020Prem50", "none", initial_temp_c=DOE_SETPOINT_C)
    at_setpoint = full.advance(0, NORMAL)
    assert at_setpoint.stored_wh == pytest.approx(at_setpoint.capacity_wh)
    assert at_setpoint.capacity_wh == pytest.approx(
        171 * 4.16 / 3.6 * (51.7 - MIN_USEFUL_C), rel=0.01
    )


def test_capacity_follows_the_set_point() -> None:
    thermal = build_thermal_model("AOSmithHPTU80", "none")
    normal = thermal.advance(60, NORMAL)
    raised = thermal.advance(60, replace(NORMAL, setpoint_c=60.0))
    assert raised.capacity_wh > normal.capacity_wh


def test_spec_strings() -> None:
    assert thermal_model_from_spec("AOSmithHPTU50:doe-high").tank.model.name == "AOSmithHPTU50"
    assert thermal_model_from_spec("AOSmithHPTU50:doe-high").tank.draws.name == "doe-high"
    assert thermal_model_from_spec("").tank.model.name == "Rheem2020Prem50"
    assert thermal_model_from_spec("Rheem2020Prem80").tank.draws.name == "doe-medium"
    with pytest.raises(ModelFileError, match="unknown HPWH model"):
        thermal_model_from_spec("Boiler9000")
    with pytest.raises(DrawProfileError, match="unknown draw profile"):
        thermal_model_from_spec("Rheem2020Prem50:flood")
