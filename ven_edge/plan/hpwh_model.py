"""Heat-pump water heater performance from an HPWHsim model file (hpwh-data-model JSON).

The files (bigladder/HPWHsim ``test/models_json``, schema RSINTEGRATEDWATERHEATER) give the
compressor's ``heating_capacity`` and ``input_power`` in W on a grid of evaporator air temperature
× heat-source (water) temperature, row-major with air outermost; temperatures are in kelvin. The
planner needs the thermal capacity and the COP at the expected air and tank temperatures: input
power and COP are interpolated bilinearly in the grid (``ven_edge.plan.performance_map``, which
also parses it) and the capacity is their product, as HPWHsim does; both are held at the edge
outside the grid (HPWHsim extrapolates, but a planner should not trust a map beyond its data).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ven_edge.plan.performance_map import (
    KELVIN_OFFSET,
    ModelError,
    OutOfMap,
    PerformanceMap,
    condenser,
    get_key,
    heat_sources,
    interpolate,
)

__all__ = ["KELVIN_OFFSET", "MAX_MODEL_BYTES", "WATER_KWH_PER_L_K", "HpwhModel", "ModelError"]

#: Density × specific heat of water near 50 °C, kWh per litre and kelvin (4.16 kJ/(L·K)).
WATER_KWH_PER_L_K = 4.16 / 3600.0
#: Largest model file accepted (the shipped ones are ~12 KiB).
MAX_MODEL_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class HpwhModel:
    """What the planner needs from a model file. Temperatures in °C, powers in kW."""

    name: str
    air_c: tuple[float, ...]
    water_c: tuple[float, ...]
    capacity_kw_grid: tuple[float, ...]  # row-major, air outermost
    input_kw_grid: tuple[float, ...]
    element_kw: float
    tank_litres: float
    ua_w_per_k: float
    setpoint_c: float
    #: The compressor's turn-on differential at its lower sensor (°C below the set point), when
    #: the file gives one (its turn-on logic other than the standby one).
    hp_differential_c: float | None = None

    @classmethod
    def from_json(cls, data: object, name: str = "") -> HpwhModel:
        system = get_key(data, "integrated_system/performance")
        pmap = PerformanceMap.from_condenser(condenser(data))
        elements = [
            float(get_key(s, "heat_source/performance/input_power"))
            for s in heat_sources(data)
            if get_key(s, "heat_source_type") == "RESISTANCE"
        ]
        volume_m3 = float(get_key(system, "tank/performance/volume"))
        return cls(
            name=name,
            air_c=pmap.air_c,
            water_c=pmap.water_c,
            capacity_kw_grid=tuple(c / 1000.0 for c in pmap.capacity),
            input_kw_grid=tuple(p / 1000.0 for p in pmap.input_power),
            # HPWHsim runs one element at a time (the top one has priority).
            element_kw=max(elements, default=0.0) / 1000.0,
            tank_litres=volume_m3 * 1000.0,
            ua_w_per_k=float(get_key(system, "tank/performance/ua")),
            setpoint_c=float(get_key(data, "standard_setpoint")) - KELVIN_OFFSET,
            hp_differential_c=_turn_on_differential(condenser(data)),
        )

    @classmethod
    def load(cls, path: str | Path) -> HpwhModel:
        p = Path(path)
        size = p.stat().st_size
        if size > MAX_MODEL_BYTES:
            raise ModelError(f"{p}: {size} bytes is larger than {MAX_MODEL_BYTES}")
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ModelError(f"{p}: not JSON ({exc})") from exc
        return cls.from_json(data, name=p.stem)

    def _lookup(self, air_c: float, water_c: float) -> tuple[float, float]:
        """(input power kW, COP) interpolated in the grid, as HPWHsim does with these files
        (they say ``interpolate_cop``): the COP at each grid point, not the capacity, is what is
        interpolated. The A. O. Smith maps have water points at 0 °C and 71 °C only; between
        them interpolating capacity and input power apart gives a COP a quarter below the
        product's (docs/planner.md, "A planner that knows the tank"). The planner holds the
        edge value outside the map (module docstring)."""
        input_kw, cop = interpolate(
            self.air_c, self.water_c, (self.input_kw_grid, self._cop_grid), air_c, water_c,
            OutOfMap.CLAMP,
        )  # fmt: skip
        return input_kw, cop

    @property
    def _cop_grid(self) -> tuple[float, ...]:
        return tuple(
            c / p if p > 0 else 0.0
            for c, p in zip(self.capacity_kw_grid, self.input_kw_grid, strict=True)
        )

    def capacity_kw(self, air_c: float, water_c: float) -> float:
        """Thermal output of the heat pump (kW): COP times input power, never below zero."""
        input_kw, cop = self._lookup(air_c, water_c)
        return max(0.0, cop * input_kw)

    def cop(self, air_c: float, water_c: float) -> float:
        """Coefficient of performance at that air and water temperature."""
        input_kw, cop = self._lookup(air_c, water_c)
        if input_kw <= 0 or cop <= 0:
            raise ModelError(f"{self.name}: input power {input_kw} kW, COP {cop} at "
                             f"({air_c}, {water_c}) °C")  # fmt: skip
        return cop

    @property
    def heat_capacity_kwh_per_k(self) -> float:
        """Thermal mass of the full tank."""
        return self.tank_litres * WATER_KWH_PER_L_K


def _turn_on_differential(compressor: object) -> float | None:
    """The differential of the compressor's lower-sensor turn-on logic, or None when the file
    gives none that is a plausible number of kelvin (0–50): the planner then uses its default."""
    logic = compressor.get("turn_on_logic") if isinstance(compressor, dict) else None
    if not isinstance(logic, list):
        return None
    for entry in logic:
        heating = entry.get("heating_logic") if isinstance(entry, dict) else None
        if not isinstance(heating, dict) or "standby_temperature_location" in heating:
            continue
        value = heating.get("differential_temperature")
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= 50:
            return float(value)
    return None
