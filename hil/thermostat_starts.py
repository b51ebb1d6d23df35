"""Where the simulated heater's heat pump starts, in the planner's terms.

The planner's thermostat (:mod:`ven_edge.plan.thermostat`) starts the heat pump once the mean
tank has fallen by a share of the lower sensor's differential below where it last stopped. This
module measures that share on the simulated heater, per household (model file and DOE draw
pattern), in Normal and under a standing Shed (docs/planner.md, "What the heater does with a
command"). The first start, from a tank uniformly at its set point, is left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from hil.dayrun import HEARTBEAT_S
from hil.heater import SimulatedHeater
from hil.hpwh_model import MODELS_DIR
from hil.scenarios import build_thermal_model, heater_config_for
from hil.tank import DEFAULT_VALVE_C
from ven_edge.cta2045 import messages
from ven_edge.cta2045.codec import to_data_frame
from ven_edge.cta2045.command_kind import CommandKind
from ven_edge.plan.hpwh_model import HpwhModel
from ven_edge.plan.thermostat import SENSOR_SHARE, Thermostat

STEP_S = 60.0
#: A standing shed: four hours, renewed every three so that it never lapses.
SHED_S = 4 * 3600
SHED_RENEW_S = 3 * 3600


@dataclass(frozen=True, slots=True)
class Starts:
    """The shares of the differential at which the heat pump started, in order."""

    model: str
    draws: str
    shed: bool
    shares: tuple[float, ...]


def measure(model: str, draws: str, *, shed: bool, days: float = 4.0) -> Starts:
    """Run the heater ``days`` in Normal (or under a standing Shed) and record each start."""
    thermal = build_thermal_model(model, draws, mixing_valve_c=DEFAULT_VALVE_C)
    heater = SimulatedHeater(heater_config_for(thermal.tank.model), thermal, now=0.0)
    planning = HpwhModel.load(MODELS_DIR / f"{model}.json")
    # The dead band as the planner reads it from the model file, at a share of 1.
    thermostat = Thermostat.of(0.0, planning.heat_capacity_kwh_per_k, planning.hp_differential_c)
    band_kwh = thermostat.shed_band_kwh if shed else thermostat.normal_band_kwh
    band_wh = 1000.0 * band_kwh / SENSOR_SHARE
    heating = heater.state.heating
    stopped_at = heater.state.stored_wh
    shares: list[float] = []
    t = next_beat = next_shed = 0.0
    while t < days * 86400.0:
        if t >= next_beat:
            heater.handle(to_data_frame(messages.outside_comm_status(True)), t)
            next_beat = t + HEARTBEAT_S
        if shed and t >= next_shed:
            heater.handle(to_data_frame(messages.basic_command(CommandKind.SHED, SHED_S)), t)
            next_shed = t + SHED_RENEW_S
        t += STEP_S
        heater.tick(t)
        state = heater.state
        if state.heating and not heating:
            shares.append((stopped_at - state.stored_wh) / band_wh)
        if heating and not state.heating:
            stopped_at = state.stored_wh
        heating = state.heating
    return Starts(model, draws, shed, tuple(shares[1:]))
