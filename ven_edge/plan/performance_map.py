"""Compressor performance map of an HPWHsim model file: parsing and bilinear interpolation.

The files (bigladder/HPWHsim ``test/models_json``, hpwh-data-model schema RSINTEGRATEDWATERHEATER)
give the CONDENSER heat source's ``heating_capacity`` and ``input_power`` in W on a grid of
evaporator air temperature × heat-source (water) temperature, row-major with air outermost;
temperatures are in kelvin. Outside the grid the caller chooses a policy: hold the edge value (a
planner should not trust a map beyond its data) or continue the end segment linearly (what
HPWHsim does, so a bench simulation matches it).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from itertools import pairwise
from typing import Any, Self

KELVIN_OFFSET = 273.15


class ModelError(ValueError):
    """The model file is missing a key or holds a value that cannot be used."""


class OutOfMap(Enum):
    """What a lookup outside the grid returns."""

    CLAMP = "clamp"  # the value at the nearest edge of the grid
    EXTRAPOLATE = "extrapolate"  # linear continuation of the end segment (HPWHsim's choice)


def get_key(data: object, path: str) -> Any:
    """The value at a slash-separated key path, or a ModelError naming the missing key."""
    node = data
    for part in path.split("/"):
        if not isinstance(node, Mapping) or part not in node:
            raise ModelError(f"model file: missing key {path!r} (at {part!r})")
        node = node[part]
    return node


def finite_floats(value: object, what: str) -> tuple[float, ...]:
    if not isinstance(value, list) or not value:
        raise ModelError(f"model file: {what} must be a non-empty list of numbers")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ModelError(f"model file: {what} holds {v!r}, not a finite number")
        out.append(float(v))
    return tuple(out)


def heat_sources(data: object) -> list[Any]:
    """The ``heat_source_configurations`` list of a model file."""
    sources = get_key(data, "integrated_system/performance/heat_source_configurations")
    if not isinstance(sources, list):
        raise ModelError("model file: heat_source_configurations must be a list")
    return sources


def condenser(data: object) -> Any:
    """The single CONDENSER (compressor) heat source of a model file."""
    found = [s for s in heat_sources(data) if get_key(s, "heat_source_type") == "CONDENSER"]
    if len(found) != 1:
        raise ModelError(f"model file: expected one CONDENSER, found {len(found)}")
    return found[0]


def bracket(axis: Sequence[float], x: float, out_of_map: OutOfMap) -> tuple[int, int, float]:
    """Indices (i, j) and weight w with x = axis[i]·(1 − w) + axis[j]·w.

    Outside the axis CLAMP gives the end point (w = 0) and EXTRAPOLATE the end segment with w
    outside [0, 1].
    """
    if len(axis) == 1:
        return 0, 0, 0.0
    if out_of_map is OutOfMap.CLAMP:
        if x <= axis[0]:
            return 0, 0, 0.0
        if x >= axis[-1]:
            last = len(axis) - 1
            return last, last, 0.0
    i = min(max(bisect_right(axis, x) - 1, 0), len(axis) - 2)
    return i, i + 1, (x - axis[i]) / (axis[i + 1] - axis[i])


def interpolate(
    air_axis: Sequence[float],
    water_axis: Sequence[float],
    grids: Sequence[Sequence[float]],
    air: float,
    water: float,
    out_of_map: OutOfMap,
) -> tuple[float, ...]:
    """Bilinear interpolation at (air, water) of each row-major (air outermost) grid."""
    i0, i1, wa = bracket(air_axis, air, out_of_map)
    j0, j1, ww = bracket(water_axis, water, out_of_map)
    m = len(water_axis)
    out = []
    for grid in grids:
        low = grid[i0 * m + j0] * (1 - ww) + grid[i0 * m + j1] * ww
        high = grid[i1 * m + j0] * (1 - ww) + grid[i1 * m + j1] * ww
        out.append(low * (1 - wa) + high * wa)
    return tuple(out)


@dataclass(frozen=True)
class PerformanceMap:
    """A compressor map as in the file: axes in °C, values in W, row-major with air outermost."""

    air_c: tuple[float, ...]
    water_c: tuple[float, ...]
    capacity: tuple[float, ...]
    input_power: tuple[float, ...]

    @classmethod
    def from_condenser(cls, source: object) -> Self:
        """Parse and check the ``performance_map`` of a CONDENSER heat source."""
        pmap = get_key(source, "heat_source/performance/performance_map")
        air = finite_floats(
            get_key(pmap, "grid_variables/evaporator_environment_dry_bulb_temperature"),
            "air grid",
        )
        water = finite_floats(get_key(pmap, "grid_variables/heat_source_temperature"), "water grid")
        cap = finite_floats(get_key(pmap, "lookup_variables/heating_capacity"), "heating_capacity")
        power = finite_floats(get_key(pmap, "lookup_variables/input_power"), "input_power")
        for grid, what in ((air, "air grid"), (water, "water grid")):
            if any(b <= a for a, b in pairwise(grid)):
                raise ModelError(f"model file: {what} must be strictly increasing")
        if len(cap) != len(air) * len(water) or len(power) != len(cap):
            raise ModelError(
                f"model file: lookup tables need {len(air)}×{len(water)} values, "
                f"got {len(cap)} and {len(power)}"
            )
        return cls(
            air_c=tuple(a - KELVIN_OFFSET for a in air),
            water_c=tuple(w - KELVIN_OFFSET for w in water),
            capacity=cap,
            input_power=power,
        )

    def interpolate(
        self, air_c: float, water_c: float, out_of_map: OutOfMap
    ) -> tuple[float, float]:
        """(capacity W, input power W) at the given air and water temperatures."""
        capacity, power = interpolate(
            self.air_c, self.water_c, (self.capacity, self.input_power), air_c, water_c, out_of_map
        )
        return capacity, power

    def rows(self, values: Sequence[float]) -> tuple[tuple[float, ...], ...]:
        """A row-major grid as rows indexed [air][water]."""
        n = len(self.water_c)
        return tuple(tuple(values[i * n : (i + 1) * n]) for i in range(len(self.air_c)))
