"""The demo's heater runs the model file's own thermostat, as the benchmarks do."""

from __future__ import annotations

import pytest

from hil.demo import HEATER_MODEL, demo_heater_config
from hil.heater import COMM_TIMEOUT_S
from hil.hpwh_model import load_model


def test_the_demo_heater_uses_the_model_files_turn_on_differential() -> None:
    model = load_model(HEATER_MODEL)
    config = demo_heater_config(model, speed=60.0)
    # The Rheem files' compressor starts 17.8 °C below the set point at the bottom third, not
    # 4 °C: a 4 °C dead band cycled the compressor after every small draw.
    assert config.deadband_c == pytest.approx(model.hp_turn_on_differential_c)
    assert config.deadband_c > 10.0
    assert config.shed_deadband_c > config.deadband_c
    assert config.comm_timeout_s == pytest.approx(COMM_TIMEOUT_S * 60.0)
