"""Build the simulated heater's tank from a product model name and a draw profile.

``build_thermal_model("Rheem2020Prem50", "doe-medium")`` returns a :class:`TankThermalModel`,
which implements :class:`hil.thermal.ThermalModel` on top of :class:`hil.tank.StratifiedTank`.
The draw schedule belongs to the model (the heater never says how much water is used).
"""

from __future__ import annotations

import argparse
from datetime import datetime

from hil.draws import PROFILE_NAMES, DrawProfile, DrawProfileError, load_draw_profile
from hil.heater import HeaterConfig
from hil.hpwh_model import MODEL_NAMES, HpwhProduct, ModelFileError, load_model
from hil.tank import Conditions, StratifiedTank, TankReading
from hil.thermal import ThermalControls, ThermalState

DEFAULT_MODEL = "Rheem2020Prem50"
DEFAULT_DRAWS = "doe-medium"


class TankThermalModel:
    """A :class:`~hil.thermal.ThermalModel` backed by the stratified tank.

    ``tank_temp_c`` is the volume-weighted mean, ``outlet_temp_c`` what a tap gets: the top
    node, or the mixing valve's outlet (min(top node, valve setting)) when one is fitted;
    ``stored_wh`` is the sensible heat above the mains temperature and ``capacity_wh`` the whole
    tank from the mains temperature up to 62.8 °C (the Advanced Load Up ceiling), the same
    meaning as :class:`hil.thermal.EnergyBucketModel`. The heat that is still hot enough to use
    (above 43.3 °C) is ``reading.usable_wh``.
    """

    def __init__(self, tank: StratifiedTank) -> None:
        self.tank = tank

    def advance(self, dt_s: float, controls: ThermalControls) -> ThermalState:
        return _to_state(self.tank.advance(dt_s, controls))

    @property
    def state(self) -> ThermalState:
        return _to_state(self.tank.reading())

    @property
    def reading(self) -> TankReading:
        """The full reading (node temperatures, energy accounts) for tests and benchmarks."""
        return self.tank.reading()


def _to_state(reading: TankReading) -> ThermalState:
    return ThermalState(
        tank_temp_c=reading.mean_c,
        outlet_temp_c=reading.outlet_c,
        stored_wh=reading.stored_wh,
        capacity_wh=reading.capacity_wh,
        power_w=reading.power_w,
        heating=reading.heating,
        energy_used_wh=reading.totals.electric_wh,
    )


def build_thermal_model(
    model: str = DEFAULT_MODEL,
    draws: str | DrawProfile = DEFAULT_DRAWS,
    *,
    conditions: Conditions | None = None,
    initial_temp_c: float | None = None,
    start_s: float = 0.0,
    mixing_valve_c: float | None = None,
) -> TankThermalModel:
    """A tank for product ``model`` (``MODEL_NAMES`` or a JSON path) and profile ``draws`` (a
    profile's name or path, or a profile already built).

    ``start_s`` places the model on the draw profile's day (0 = the DOE test start);
    ``mixing_valve_c`` fits a thermostatic mixing valve at that setting (None: no valve, draws
    leave at the tank's temperature).
    """
    tank = StratifiedTank(
        load_model(model),
        load_draw_profile(draws) if isinstance(draws, str) else draws,
        conditions=conditions,
        initial_temp_c=initial_temp_c,
        start_s=start_s,
        mixing_valve_c=mixing_valve_c,
    )
    return TankThermalModel(tank)


#: How much further than normal a shed and a critical peak let the tank deplete before the
#: compressor starts (docs/cta2045.md §14: shed widens the dead band; critical peak goes deeper).
SHED_EXTRA_DEADBAND_C = 6.0
CRITICAL_PEAK_EXTRA_DEADBAND_C = 12.0


def heater_config_for(model: HpwhProduct | str, **overrides: object) -> HeaterConfig:
    """The simulated heater's thermostat for a product: its normal dead band is the model
    file's compressor turn-on differential, so normal mode runs as the product's own logic
    (and as on the DOE test); shed and critical peak widen it, load up narrows it to 1 °C."""
    product = load_model(model) if isinstance(model, str) else model
    normal = product.hp_turn_on_differential_c
    fields: dict[str, object] = {
        "deadband_c": normal,
        "shed_deadband_c": normal + SHED_EXTRA_DEADBAND_C,
        "critical_peak_deadband_c": normal + CRITICAL_PEAK_EXTRA_DEADBAND_C,
        **overrides,
    }
    return HeaterConfig(**fields)  # type: ignore[arg-type]


def thermal_model_from_spec(spec: str, *, start_s: float = 0.0) -> TankThermalModel:
    """Parse ``MODEL[:DRAWS]`` (the form of a ``--tank`` command-line option)."""
    model, _, draws = spec.partition(":")
    return build_thermal_model(model or DEFAULT_MODEL, draws or DEFAULT_DRAWS, start_s=start_s)


def seconds_since_local_midnight(now: datetime | None = None) -> float:
    now = now or datetime.now().astimezone()
    return now.hour * 3600.0 + now.minute * 60.0 + now.second + now.microsecond / 1e6


def tank_argument(spec: str) -> TankThermalModel:
    """``argparse`` type for ``--tank MODEL[:DRAWS]``: a bad name becomes a usage error.

    The draw day is aligned with the local time of day, so evening draws come in the evening.
    """
    try:
        return thermal_model_from_spec(spec, start_s=seconds_since_local_midnight())
    except (ModelFileError, DrawProfileError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


TANK_HELP = (
    f"stratified tank physics: MODEL[:DRAWS], MODEL one of {', '.join(MODEL_NAMES)}, "
    f"DRAWS one of {', '.join(PROFILE_NAMES)} (default: {DEFAULT_MODEL}:{DEFAULT_DRAWS})"
)


__all__ = [
    "DEFAULT_DRAWS",
    "DEFAULT_MODEL",
    "MODEL_NAMES",
    "PROFILE_NAMES",
    "TANK_HELP",
    "TankThermalModel",
    "build_thermal_model",
    "heater_config_for",
    "tank_argument",
    "thermal_model_from_spec",
]
