"""The shared performance-map reader: one parser, one interpolation, two out-of-map policies."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ven_edge.plan.performance_map import (
    ModelError,
    OutOfMap,
    PerformanceMap,
    condenser,
    interpolate,
)

MODEL = Path(__file__).resolve().parents[2] / "sample_data" / "hpwh_models" / "Rheem2020Prem50.json"
PMAP = PerformanceMap.from_condenser(condenser(json.loads(MODEL.read_text(encoding="utf-8"))))
AIR = (0.0, 10.0, 20.0)
WATER = (20.0, 60.0)
GRID = (1.0, 3.0, 2.0, 6.0, 4.0, 10.0)  # row-major, air outermost


def test_grid_points_are_the_file_values_under_both_policies() -> None:
    n = len(PMAP.water_c)
    for i, air in enumerate(PMAP.air_c):
        for j, water in enumerate(PMAP.water_c):
            expected = (PMAP.capacity[i * n + j], PMAP.input_power[i * n + j])
            assert PMAP.interpolate(air, water, OutOfMap.CLAMP) == expected
            assert PMAP.interpolate(air, water, OutOfMap.EXTRAPOLATE) == expected


def test_policies_differ_only_outside_the_grid() -> None:
    # Midway along both axes: the mean of the four corners.
    assert interpolate(AIR, WATER, (GRID,), 5.0, 40.0, OutOfMap.CLAMP) == (3.0,)
    assert interpolate(AIR, WATER, (GRID,), 5.0, 40.0, OutOfMap.EXTRAPOLATE) == (3.0,)
    # 10 K below the air grid: the edge row, or the first segment continued (1 − (2 − 1) = 0).
    assert interpolate(AIR, WATER, (GRID,), -10.0, 20.0, OutOfMap.CLAMP) == (1.0,)
    assert interpolate(AIR, WATER, (GRID,), -10.0, 20.0, OutOfMap.EXTRAPOLATE) == (0.0,)
    # 20 K past the hottest water point at the warmest air: 10, or 10 + (10 − 4)/2.
    assert interpolate(AIR, WATER, (GRID,), 20.0, 80.0, OutOfMap.CLAMP) == (10.0,)
    assert interpolate(AIR, WATER, (GRID,), 20.0, 80.0, OutOfMap.EXTRAPOLATE) == (13.0,)


@given(
    st.floats(min_value=AIR[0], max_value=AIR[-1]),
    st.floats(min_value=WATER[0], max_value=WATER[-1]),
)
def test_inside_the_grid_the_policies_agree_and_stay_within_the_corners(
    air: float, water: float
) -> None:
    clamp = interpolate(AIR, WATER, (GRID,), air, water, OutOfMap.CLAMP)[0]
    assert clamp == interpolate(AIR, WATER, (GRID,), air, water, OutOfMap.EXTRAPOLATE)[0]
    assert min(GRID) - 1e-9 <= clamp <= max(GRID) + 1e-9


@given(st.floats(min_value=-100, max_value=100), st.floats(min_value=-50, max_value=150))
def test_clamping_never_leaves_the_range_of_the_map(air: float, water: float) -> None:
    capacity, power = PMAP.interpolate(air, water, OutOfMap.CLAMP)
    assert min(PMAP.capacity) - 1e-6 <= capacity <= max(PMAP.capacity) + 1e-6
    assert min(PMAP.input_power) - 1e-6 <= power <= max(PMAP.input_power) + 1e-6


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda m: m["grid_variables"].update(heat_source_temperature=[300, 290]), "strictly"),
        (lambda m: m["lookup_variables"].update(input_power=[1.0]), "lookup tables need"),
        (lambda m: m["lookup_variables"].update(heating_capacity=[True]), "not a finite"),
        (lambda m: m.pop("grid_variables"), "missing key 'grid_variables/"),
    ],
)
def test_a_broken_map_is_a_precise_error(
    mutate: Callable[[dict[str, Any]], object], message: str
) -> None:
    source = condenser(json.loads(MODEL.read_text(encoding="utf-8")))
    mutate(source["heat_source"]["performance"]["performance_map"])
    with pytest.raises(ModelError, match=message):
        PerformanceMap.from_condenser(source)


def test_a_file_without_exactly_one_condenser_is_rejected() -> None:
    doc = json.loads(MODEL.read_text(encoding="utf-8"))
    sources = doc["integrated_system"]["performance"]["heat_source_configurations"]
    sources.append(condenser(doc))
    with pytest.raises(ModelError, match="expected one CONDENSER, found 2"):
        condenser(doc)
