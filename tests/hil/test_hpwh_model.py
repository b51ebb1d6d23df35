"""Product data read from the HPWHsim model files, checked against docs/hpwh.md §5.1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hil.hpwh_model import MODEL_NAMES, ModelFileError, load_model

# (model, air °C, water °C, capacity kW, COP) as tabulated in docs/hpwh.md §5.1.
MAP_POINTS = [
    ("Rheem2020Prem50", 20, 15, 1.66, 5.66),
    ("Rheem2020Prem50", 20, 35, 1.61, 4.47),
    ("Rheem2020Prem50", 20, 50, 1.49, 3.45),
    ("Rheem2020Prem50", 10, 35, 1.23, 3.98),
    ("Rheem2020Prem50", 5, 35, 1.06, 3.74),
    ("Rheem2020Prem50", 30, 35, 2.04, 4.96),
    ("AOSmithHPTU50", 20, 15, 1.31, 4.56),
    ("AOSmithHPTU50", 20, 35, 1.17, 3.14),
    ("AOSmithHPTU50", 20, 50, 1.06, 2.43),
    ("AOSmithHPTU50", 10, 35, 0.99, 2.75),
    ("AOSmithHPTU50", 5, 35, 0.90, 2.53),
    ("AOSmithHPTU50", 30, 35, 1.43, 3.69),
]


@pytest.mark.parametrize(("name", "air", "water", "cap_kw", "cop"), MAP_POINTS)
def test_bilinear_map_matches_reference_table(
    name: str, air: float, water: float, cap_kw: float, cop: float
) -> None:
    capacity, power = load_model(name).performance.lookup(air, water)
    assert capacity / 1000 == pytest.approx(cap_kw, abs=0.011)
    assert capacity / power == pytest.approx(cop, abs=0.011)


@pytest.mark.parametrize(
    ("name", "volume_l", "ua", "min_air"),
    [
        ("Rheem2020Prem50", 171, 2.38, 2.8),
        ("AOSmithHPTU50", 171, 1.67, 5.6),
        ("Rheem2020Prem80", 273, 3.01, 2.8),
        ("AOSmithHPTU80", 300, 2.50, 5.6),
    ],
)
def test_tank_facts(name: str, volume_l: float, ua: float, min_air: float) -> None:
    model = load_model(name)
    assert model.volume_l == pytest.approx(volume_l, abs=0.5)
    assert model.ua_w_per_k == pytest.approx(ua, abs=0.006)
    assert model.standard_setpoint_c == pytest.approx(52.8, abs=0.05)
    assert model.hp_min_air_c == pytest.approx(min_air, abs=0.05)
    assert model.top_element_w == model.bottom_element_w == 4500


def test_grid_points_are_exact_and_outside_is_extrapolated() -> None:
    perf = load_model("Rheem2020Prem50").performance
    for i, air in enumerate(perf.air_c):
        for j, water in enumerate(perf.water_c):
            assert perf.lookup(air, water) == pytest.approx(
                (perf.capacity_w[i][j], perf.input_w[i][j])
            )
    # Linear continuation of the end segment: equal steps give equal differences.
    a0, a1 = perf.air_c[0], perf.air_c[1]
    below = perf.lookup(a0 - (a1 - a0), 35)[0]
    assert below == pytest.approx(2 * perf.lookup(a0, 35)[0] - perf.lookup(a1, 35)[0])
    # Past the hottest water point the capacity at cold air has fallen below zero.
    assert perf.lookup(perf.air_c[0], perf.water_c[-1] + 5)[0] < 0


def test_element_thresholds_follow_the_files() -> None:
    rheem = load_model("Rheem2020Prem50")
    smith = load_model("AOSmithHPTU50")
    assert rheem.top_element_turn_on_c(51.7) == pytest.approx(51.7 - 11.34, abs=0.01)
    assert smith.top_element_turn_on_c(51.7) == pytest.approx(40.56, abs=0.01)  # 105 °F
    # An absolute threshold never sits above a lowered set point.
    assert smith.top_element_turn_on_c(40.0) < 40.0


def test_every_named_model_loads() -> None:
    assert {load_model(name).name for name in MODEL_NAMES} == set(MODEL_NAMES)


def test_unknown_model_names_the_known_ones() -> None:
    with pytest.raises(ModelFileError, match=r"unknown HPWH model 'Nope'.*Rheem2020Prem50"):
        load_model("Nope")


def test_broken_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelFileError, match="cannot read model file"):
        load_model(bad)
    incomplete = tmp_path / "incomplete.json"
    incomplete.write_text(json.dumps({"integrated_system": {}}), encoding="utf-8")
    with pytest.raises(ModelFileError, match="not an RSINTEGRATEDWATERHEATER model"):
        load_model(incomplete)
