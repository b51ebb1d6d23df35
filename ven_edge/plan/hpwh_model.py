"""Heat-pump water heater performance from an HPWHsim model file (hpwh-data-model JSON).

The files (bigladder/HPWHsim ``test/models_json``, schema RSINTEGRATEDWATERHEATER) give the
compressor's ``heating_capacity`` and ``input_power`` in W on a grid of evaporator air temperature
× heat-source (water) temperature, row-major with air outermost; temperatures are in kelvin. The
planner needs the thermal capacity and the COP at the expected air and tank temperatures: both are
interpolated bilinearly in the grid and held at the edge outside it (HPWHsim extrapolates, but a
planner should not trust a map beyond its data).
"""

from __future__ import annotations

import json
import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

KELVIN_OFFSET = 273.15
#: Density × specific heat of water near 50 °C, kWh per litre and kelvin (4.16 kJ/(L·K)).
WATER_KWH_PER_L_K = 4.16 / 3600.0
#: Largest model file accepted (the shipped ones are ~12 KiB).
MAX_MODEL_BYTES = 1 << 20


class ModelError(ValueError):
    """The model file is missing a key or holds a value the planner cannot use."""


def _get(data: object, path: str) -> Any:
    node = data
    for part in path.split("/"):
        if not isinstance(node, Mapping) or part not in node:
            raise ModelError(f"model file: missing key {path!r} (at {part!r})")
        node = node[part]
    return node


def _floats(value: object, what: str) -> tuple[float, ...]:
    if not isinstance(value, list) or not value:
        raise ModelError(f"model file: {what} must be a non-empty list of numbers")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ModelError(f"model file: {what} holds {v!r}, not a finite number")
        out.append(float(v))
    return tuple(out)


def _bracket(grid: Sequence[float], x: float) -> tuple[int, int, float]:
    """Indices (i, j) and weight w of x in grid, clamped at both ends."""
    if x <= grid[0] or len(grid) == 1:
        return 0, 0, 0.0
    if x >= grid[-1]:
        last = len(grid) - 1
        return last, last, 0.0
    j = bisect_right(grid, x)
    i = j - 1
    return i, j, (x - grid[i]) / (grid[j] - grid[i])


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

    @classmethod
    def from_json(cls, data: object, name: str = "") -> HpwhModel:
        system = _get(data, "integrated_system/performance")
        sources = _get(system, "heat_source_configurations")
        if not isinstance(sources, list):
            raise ModelError("model file: heat_source_configurations must be a list")
        condenser = [s for s in sources if _get(s, "heat_source_type") == "CONDENSER"]
        if len(condenser) != 1:
            raise ModelError(f"model file: expected one CONDENSER, found {len(condenser)}")
        pmap = _get(condenser[0], "heat_source/performance/performance_map")
        air = _floats(
            _get(pmap, "grid_variables/evaporator_environment_dry_bulb_temperature"), "air grid"
        )
        water = _floats(_get(pmap, "grid_variables/heat_source_temperature"), "water grid")
        cap = _floats(_get(pmap, "lookup_variables/heating_capacity"), "heating_capacity")
        power = _floats(_get(pmap, "lookup_variables/input_power"), "input_power")
        for grid, what in ((air, "air grid"), (water, "water grid")):
            if any(b <= a for a, b in pairwise(grid)):
                raise ModelError(f"model file: {what} must be strictly increasing")
        if len(cap) != len(air) * len(water) or len(power) != len(cap):
            raise ModelError(
                f"model file: lookup tables need {len(air)}×{len(water)} values, "
                f"got {len(cap)} and {len(power)}"
            )
        elements = [
            float(_get(s, "heat_source/performance/input_power"))
            for s in sources
            if _get(s, "heat_source_type") == "RESISTANCE"
        ]
        volume_m3 = float(_get(system, "tank/performance/volume"))
        return cls(
            name=name,
            air_c=tuple(a - KELVIN_OFFSET for a in air),
            water_c=tuple(w - KELVIN_OFFSET for w in water),
            capacity_kw_grid=tuple(c / 1000.0 for c in cap),
            input_kw_grid=tuple(p / 1000.0 for p in power),
            # HPWHsim runs one element at a time (the top one has priority).
            element_kw=max(elements, default=0.0) / 1000.0,
            tank_litres=volume_m3 * 1000.0,
            ua_w_per_k=float(_get(system, "tank/performance/ua")),
            setpoint_c=float(_get(data, "standard_setpoint")) - KELVIN_OFFSET,
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

    def _lookup(self, grid: tuple[float, ...], air_c: float, water_c: float) -> float:
        i0, i1, wa = _bracket(self.air_c, air_c)
        j0, j1, ww = _bracket(self.water_c, water_c)
        m = len(self.water_c)

        def at(i: int, j: int) -> float:
            return grid[i * m + j]

        low = at(i0, j0) * (1 - ww) + at(i0, j1) * ww
        high = at(i1, j0) * (1 - ww) + at(i1, j1) * ww
        return low * (1 - wa) + high * wa

    def capacity_kw(self, air_c: float, water_c: float) -> float:
        """Thermal output of the heat pump (kW), never below zero."""
        return max(0.0, self._lookup(self.capacity_kw_grid, air_c, water_c))

    def cop(self, air_c: float, water_c: float) -> float:
        """Coefficient of performance: interpolated capacity over interpolated input power."""
        power = self._lookup(self.input_kw_grid, air_c, water_c)
        if power <= 0:
            raise ModelError(f"{self.name}: input power {power} kW at ({air_c}, {water_c}) °C")
        return self.capacity_kw(air_c, water_c) / power

    @property
    def heat_capacity_kwh_per_k(self) -> float:
        """Thermal mass of the full tank."""
        return self.tank_litres * WATER_KWH_PER_L_K
