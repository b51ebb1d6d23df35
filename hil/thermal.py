"""The plug between the simulated heater and its tank physics.

The simulated SGD (:mod:`hil.heater`) decides *what the controls are* (set point, dead band, which
heat sources may run) from the CTA-2045 traffic; a :class:`ThermalModel` decides *what the water
does*. Any model honouring the protocol plugs in; :class:`EnergyBucketModel` is the simple default
(one well-mixed node), good enough for link and state-machine tests.

Temperatures are °C, energies Wh, powers W (electrical input). Water draws are the model's own
business: the heater never tells the model how much hot water is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

#: Specific heat of water, Wh per litre per kelvin (4.186 kJ/(kg·K) / 3600, 1 kg per litre).
WATER_WH_PER_L_K = 4.186 / 3.6


@dataclass(frozen=True, slots=True)
class ThermalControls:
    """What the heater's controller allows the tank to do right now."""

    setpoint_c: float
    deadband_c: float
    element_allowed: bool
    heat_pump_allowed: bool


@dataclass(frozen=True, slots=True)
class ThermalState:
    """The tank as the heater's sensors see it."""

    tank_temp_c: float
    outlet_temp_c: float
    stored_wh: float
    capacity_wh: float
    power_w: float
    heating: bool
    energy_used_wh: float


@runtime_checkable
class ThermalModel(Protocol):
    """Tank physics the simulated heater drives (see module docstring)."""

    def advance(self, dt_s: float, controls: ThermalControls) -> ThermalState:
        """Move the model ``dt_s`` seconds forward under ``controls``; return the new state."""
        ...

    @property
    def state(self) -> ThermalState:
        """The present state, without advancing time."""
        ...


@dataclass(frozen=True, slots=True)
class BucketParameters:
    """Parameters of :class:`EnergyBucketModel`; defaults describe a 50-gallon heat-pump tank.

    Element power 4500 W as PSU-DCS rates its A. O. Smith heater (docs/cta2045.md §14); heat-pump
    figures (450 W electrical, COP 3) and the 2 W/K standby loss are round illustrative values.
    """

    volume_l: float = 189.0
    inlet_temp_c: float = 15.0
    ambient_temp_c: float = 20.0
    max_temp_c: float = 65.0
    element_w: float = 4500.0
    heat_pump_w: float = 450.0
    heat_pump_cop: float = 3.0
    loss_w_per_k: float = 2.0
    draw_w: float = 0.0  # steady hot-water draw expressed as thermal power leaving the tank
    initial_temp_c: float = 50.0


class EnergyBucketModel:
    """One well-mixed node: energy stored above the inlet temperature, a dead-band thermostat.

    Heating starts when the tank falls below ``setpoint - deadband`` and stops at the set point.
    The heat pump is preferred; the element runs when the heat pump is not allowed, or when the
    tank is more than twice the dead band below the set point (the usual backup rule).
    """

    def __init__(self, params: BucketParameters | None = None) -> None:
        self.params = params or BucketParameters()
        p = self.params
        self._wh_per_k = p.volume_l * WATER_WH_PER_L_K
        self._temp = p.initial_temp_c
        self._energy_used = 0.0
        self._power = 0.0
        self._heating = False

    @property
    def state(self) -> ThermalState:
        p = self.params
        return ThermalState(
            tank_temp_c=self._temp,
            outlet_temp_c=self._temp,
            stored_wh=max(0.0, (self._temp - p.inlet_temp_c) * self._wh_per_k),
            capacity_wh=(p.max_temp_c - p.inlet_temp_c) * self._wh_per_k,
            power_w=self._power,
            heating=self._power > 0,  # the thermostat may call for heat with no source allowed
            energy_used_wh=self._energy_used,
        )

    def advance(self, dt_s: float, controls: ThermalControls) -> ThermalState:
        if dt_s < 0:
            raise ValueError(f"time step {dt_s} s is negative")
        p = self.params
        setpoint = min(controls.setpoint_c, p.max_temp_c)
        if self._temp >= setpoint:
            self._heating = False
        elif self._temp < setpoint - controls.deadband_c:
            self._heating = True
        electric_w = 0.0
        thermal_w = 0.0
        if self._heating:
            far_below = self._temp < setpoint - 2 * controls.deadband_c
            if controls.heat_pump_allowed and not (far_below and controls.element_allowed):
                electric_w = p.heat_pump_w
                thermal_w = p.heat_pump_w * p.heat_pump_cop
            elif controls.element_allowed:
                electric_w = thermal_w = p.element_w
        self._power = electric_w
        loss_w = p.loss_w_per_k * (self._temp - p.ambient_temp_c) + p.draw_w
        hours = dt_s / 3600.0
        self._temp += (thermal_w - loss_w) * hours / self._wh_per_k
        self._temp = max(p.inlet_temp_c, min(self._temp, p.max_temp_c))
        self._energy_used += electric_w * hours
        if self._heating and self._temp >= setpoint:
            self._heating = False
        return self.state
