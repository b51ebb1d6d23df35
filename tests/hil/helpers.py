"""Shared helpers for the tank tests: controls and day runs."""

from __future__ import annotations

from hil.draws import load_draw_profile
from hil.hpwh_model import load_model
from hil.tank import Conditions, StratifiedTank, TankReading
from hil.thermal import ThermalControls

# DOE 24-h test conditions (docs/hpwh.md §6.3): 51.7 °C set point, HP deadband 8 °C.
DOE_SETPOINT_C = 51.7
NORMAL = ThermalControls(
    setpoint_c=DOE_SETPOINT_C, deadband_c=8.0, element_allowed=True, heat_pump_allowed=True
)
STEP_S = 60.0


def doe_tank(model: str, draws: str = "doe-medium", **kwargs: object) -> StratifiedTank:
    kwargs.setdefault("initial_temp_c", DOE_SETPOINT_C)
    return StratifiedTank(load_model(model), load_draw_profile(draws), **kwargs)  # type: ignore[arg-type]


def run(tank: StratifiedTank, seconds: float, controls: ThermalControls = NORMAL) -> TankReading:
    reading = tank.reading()
    steps = round(seconds / STEP_S)
    for _ in range(steps):
        reading = tank.advance(STEP_S, controls)
    return reading


def balance_error_wh(tank: StratifiedTank, start_heat_wh: float) -> float:
    """Heat put in − (change in stored heat + heat delivered + standby losses)."""
    totals = tank.totals()
    heat_in = totals.hp_heat_wh + totals.element_heat_wh
    return heat_in - (tank.heat_content_wh - start_heat_wh) - totals.delivered_wh - totals.loss_wh


__all__ = ["NORMAL", "Conditions", "balance_error_wh", "doe_tank", "run"]
