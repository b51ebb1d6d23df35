"""Heat-pump water heater product data, read from HPWHsim model files.

The files in ``sample_data/hpwh_models/`` follow Big Ladder's hpwh-data-model schema
(RSINTEGRATEDWATERHEATER, all temperatures in kelvin). Only what a stratified tank needs is kept:
tank volume, UA and node count, the compressor performance map, the turn-on/shut-off thresholds,
where each heat source puts its heat and where its logic senses the tank, and the resistance
element powers. Provenance: ``sample_data/SOURCES.md``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from ven_edge.plan import performance_map
from ven_edge.plan.performance_map import KELVIN_OFFSET, OutOfMap, interpolate

MODELS_DIR = Path(__file__).resolve().parent.parent / "sample_data" / "hpwh_models"
MODEL_NAMES: tuple[str, ...] = (
    "Rheem2020Prem50",
    "Rheem2020Prem80",
    "AOSmithHPTU50",
    "AOSmithHPTU80",
)

# Density times specific heat of water near 50 °C, J/(L·K) (docs/hpwh.md §6: ρc_p ≈ 4.16 kJ/(L·K)).
WATER_RHO_CP_J_PER_L_K = 4160.0


class ModelFileError(ValueError):
    """A model file is missing, unreadable or lacks a field the tank needs."""


@dataclass(frozen=True)
class PerformanceMap(performance_map.PerformanceMap):
    """Compressor heating capacity and input power on an (air °C × water °C) grid, in W."""

    @property
    def capacity_w(self) -> tuple[tuple[float, ...], ...]:
        """Heating capacity indexed [air index][water index]."""
        return self.rows(self.capacity)

    @property
    def input_w(self) -> tuple[tuple[float, ...], ...]:
        return self.rows(self.input_power)

    @cached_property
    def cop(self) -> tuple[float, ...]:
        """COP at each grid point (capacity / input power), row-major like the file."""
        return tuple(
            c / p if p > 0 else 0.0 for c, p in zip(self.capacity, self.input_power, strict=True)
        )

    def lookup(self, air_c: float, water_c: float) -> tuple[float, float]:
        """(capacity W, input W): input power and COP interpolated, capacity = COP × input.

        This is what HPWHsim does with these files (``Condenser::from`` turns the lookup table
        into input power and COP, ``getCapacity`` multiplies them back; the files say
        ``interpolate_cop``). Interpolating the capacity instead gives a much lower COP between
        grid points when the grid is coarse: the A. O. Smith maps have only 0 °C and 71 °C water
        points, and at 35 °C water the capacity/input ratio of the interpolated capacity is 3.1
        where HPWHsim's interpolated COP is 4.1. Linear extrapolation outside the grid, as
        HPWHsim; outside the air range the compressor is locked out anyway.
        """
        input_w, cop = interpolate(
            self.air_c,
            self.water_c,
            (self.input_power, self.cop),
            air_c,
            water_c,
            OutOfMap.EXTRAPOLATE,
        )
        return cop * input_w, input_w


@dataclass(frozen=True)
class Distribution:
    """A weight over the tank's height, as the model files give it.

    ``weights[k]`` applies between ``heights[k-1]`` and ``heights[k]`` (normalised height, 0 at
    the bottom, the first interval starting at 0): heat distributions and the sensing regions of
    the turn-on and shut-off logic (hpwh-data-model ``WeightedDistribution``).
    """

    heights: tuple[float, ...]
    weights: tuple[float, ...]

    def node_weights(self, nodes: int) -> tuple[float, ...]:
        """The weight of each of ``nodes`` equal nodes (bottom first), normalised to sum 1."""
        raw = []
        for i in range(nodes):
            lo, hi = i / nodes, (i + 1) / nodes
            total = 0.0
            start = 0.0
            for height, weight in zip(self.heights, self.weights, strict=True):
                overlap = min(hi, height) - max(lo, start)
                if overlap > 0:
                    total += weight * overlap
                start = height
            raw.append(total)
        scale = sum(raw)
        if scale <= 0:
            raise ValueError(f"distribution {self!r} puts no weight on any of {nodes} nodes")
        return tuple(w / scale for w in raw)


def _distribution(node: Mapping[str, Any]) -> Distribution:
    heights = tuple(float(h) for h in node["normalized_height"])
    weights = tuple(float(w) for w in node["weight"])
    if len(heights) != len(weights) or not heights:
        raise ValueError(f"distribution needs as many heights as weights: {node!r}")
    return Distribution(heights, weights)


BOTTOM_THIRD = Distribution((1 / 3, 1.0), (1.0, 0.0))
TOP_NODE = Distribution((1.0,), (1.0,))


@dataclass(frozen=True)
class HpwhProduct:
    """The product facts a stratified tank simulation needs (SI units, °C), read from an HPWHsim
    model file; the planner's own model of a heater is
    :class:`ven_edge.plan.hpwh_model.HpwhModel`."""

    name: str
    volume_l: float
    ua_w_per_k: float
    standard_setpoint_c: float
    performance: PerformanceMap
    # Compressor turn-on: lower sensor below set point minus this (model file, bottom third).
    hp_turn_on_differential_c: float
    # Compressor "standby" turn-on: top of tank below set point minus this.
    hp_standby_differential_c: float
    # HPWHsim stops the compressor when the condenser would exceed this refrigerant temperature.
    max_refrigerant_temp_c: float
    # Below the map's lowest air temperature the compressor is locked out (with hysteresis).
    hp_min_air_c: float
    hp_max_air_c: float
    hp_lockout_hysteresis_c: float
    top_element_w: float
    bottom_element_w: float
    # Top element turn-on: either set point minus a differential, or an absolute temperature.
    top_element_differential_c: float | None
    top_element_absolute_c: float | None
    # The bottom element backs up the compressor; it stops once the bottom exceeds this.
    bottom_element_shut_off_c: float | None
    # Nodes HPWHsim divides the tank into (model file ``number_of_nodes``).
    number_of_nodes: int = 12
    # Where each source puts its heat, and where its logic senses the tank.
    compressor_heat: Distribution = Distribution((1 / 3, 1.0), (1.0, 0.0))
    compressor_sensor: Distribution = BOTTOM_THIRD
    top_element_heat: Distribution = Distribution((2 / 3, 0.75, 1.0), (0.0, 1.0, 0.0))
    top_element_sensor: Distribution = Distribution((5 / 6, 1.0), (0.0, 1.0))
    bottom_element_heat: Distribution = Distribution((1 / 12, 1.0), (1.0, 0.0))
    bottom_element_sensor: Distribution = Distribution((1 / 12, 1.0), (1.0, 0.0))
    # The compressor runs together with the top element (``companion_heat_source_id``) or
    # starts when it stops (``followed_by_heat_source_id``).
    top_element_companion: bool = False
    top_element_followed_by_compressor: bool = False
    # Share of the tank (from the bottom) that mixes while water is drawn.
    draw_mixing_fraction: float = 0.0

    @property
    def heat_capacity_j_per_k(self) -> float:
        return self.volume_l * WATER_RHO_CP_J_PER_L_K

    def top_element_turn_on_c(self, setpoint_c: float) -> float:
        """Upper-node temperature below which the top element switches on."""
        if self.top_element_absolute_c is not None:
            # An absolute threshold above a lowered set point would pin the element on.
            return min(self.top_element_absolute_c, setpoint_c - 1.0)
        assert self.top_element_differential_c is not None
        return setpoint_c - self.top_element_differential_c


def load_model(name_or_path: str | Path) -> HpwhProduct:
    """Load a model by name (one of ``MODEL_NAMES``) or from a JSON file path."""
    path = Path(name_or_path)
    if path.suffix != ".json":
        path = MODELS_DIR / f"{name_or_path}.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelFileError(
            f"unknown HPWH model {str(name_or_path)!r}: no file {path}; "
            f"known models: {', '.join(MODEL_NAMES)}"
        ) from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: cannot read model file: {exc}") from exc
    try:
        return _parse(path.stem, document)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: not an RSINTEGRATEDWATERHEATER model: {exc!r}") from exc


def _c(kelvin: float) -> float:
    return float(kelvin) - KELVIN_OFFSET


def _parse(name: str, doc: Mapping[str, Any]) -> HpwhProduct:
    perf = doc["integrated_system"]["performance"]
    tank = perf["tank"]["performance"]
    sources = {hs["id"]: hs for hs in perf["heat_source_configurations"]}
    compressor = performance_map.condenser(doc)
    comp_perf = compressor["heat_source"]["performance"]
    pmap = PerformanceMap.from_condenser(compressor)
    air = pmap.air_c
    if len(pmap.water_c) < 2:
        raise ValueError("performance map needs at least two water points")

    hp_diff = standby_diff = None
    for logic in compressor["turn_on_logic"]:
        heating = logic["heating_logic"]
        if "standby_temperature_location" in heating:
            standby_diff = float(heating["differential_temperature"])
        else:
            hp_diff = float(heating["differential_temperature"])
    if hp_diff is None or standby_diff is None:
        raise ValueError("compressor turn-on logic lacks the bottom or the standby differential")

    hp_sensor = BOTTOM_THIRD
    for logic in compressor["turn_on_logic"]:
        weights = logic["heating_logic"].get("temperature_weight_distribution")
        if weights is not None:
            hp_sensor = _distribution(weights)
    top = sources["resistiveElementTop"]
    top_logic = top["turn_on_logic"][0]["heating_logic"]
    bottom = sources["resistiveElementBottom"]
    shut_off = bottom.get("shut_off_logic", [])
    bottom_sensor = (
        _distribution(shut_off[0]["heating_logic"]["temperature_weight_distribution"])
        if shut_off
        else Distribution((1 / 12, 1.0), (1.0, 0.0))
    )
    return HpwhProduct(
        name=name,
        volume_l=float(tank["volume"]) * 1000.0,
        ua_w_per_k=float(tank["ua"]),
        standard_setpoint_c=_c(doc["standard_setpoint"]),
        performance=pmap,
        hp_turn_on_differential_c=hp_diff,
        hp_standby_differential_c=standby_diff,
        max_refrigerant_temp_c=_c(comp_perf["maximum_refrigerant_temperature"]),
        hp_min_air_c=air[0],
        hp_max_air_c=air[-1],
        hp_lockout_hysteresis_c=float(
            comp_perf.get("compressor_lockout_temperature_hysteresis", 0)
        ),
        top_element_w=float(top["heat_source"]["performance"]["input_power"]),
        bottom_element_w=float(bottom["heat_source"]["performance"]["input_power"]),
        top_element_differential_c=(
            float(top_logic["differential_temperature"])
            if "differential_temperature" in top_logic
            else None
        ),
        top_element_absolute_c=(
            _c(top_logic["absolute_temperature"]) if "absolute_temperature" in top_logic else None
        ),
        bottom_element_shut_off_c=(
            _c(shut_off[0]["heating_logic"]["absolute_temperature"]) if shut_off else None
        ),
        number_of_nodes=int(doc.get("number_of_nodes", 12)),
        compressor_heat=_distribution(compressor["heat_distribution"]),
        compressor_sensor=hp_sensor,
        top_element_heat=_distribution(top["heat_distribution"]),
        top_element_sensor=_distribution(top_logic["temperature_weight_distribution"]),
        bottom_element_heat=_distribution(bottom["heat_distribution"]),
        bottom_element_sensor=bottom_sensor,
        top_element_companion=top.get("companion_heat_source_id") == compressor["id"],
        top_element_followed_by_compressor=(
            top.get("followed_by_heat_source_id") == compressor["id"]
        ),
        draw_mixing_fraction=float(tank.get("bottom_fraction_of_tank_mixing_on_draw", 0.0)),
    )
