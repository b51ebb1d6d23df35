"""Product data read from the HPWHsim model files, checked against docs/hpwh.md §5.1 and HPWHsim."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hil.hpwh_model import MODEL_NAMES, ModelFileError, load_model


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_map_interpolates_cop_and_input_power_as_hpwhsim(name: str) -> None:
    """HPWHsim turns the table into input power and COP and interpolates those (the files say
    ``interpolate_cop``); capacity is their product. Halfway between two water points, input
    power and COP are the means of their neighbours', at every air point of the grid."""
    perf = load_model(name).performance
    for i, air in enumerate(perf.air_c):
        for j in range(len(perf.water_c) - 1):
            mid = (perf.water_c[j] + perf.water_c[j + 1]) / 2
            capacity, power = perf.lookup(air, mid)
            cops = [perf.capacity_w[i][k] / perf.input_w[i][k] for k in (j, j + 1)]
            assert power == pytest.approx((perf.input_w[i][j] + perf.input_w[i][j + 1]) / 2)
            assert capacity / power == pytest.approx(sum(cops) / 2)


def test_coarse_map_cop_at_mid_tank_temperature() -> None:
    """The A. O. Smith map has only 0 °C and 71.1 °C water points: at 35.6 °C water and the
    67.5 °F test air the COP is the mean of 6.31 and 1.73, 4.02, where interpolating the
    capacity instead would give 3.13 and under-rate the product by a fifth."""
    capacity, power = load_model("AOSmithHPTU50").performance.lookup(19.72, 35.56)
    assert capacity / power == pytest.approx(4.02, abs=0.01)


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
    # Linear continuation of the end segment (input power and COP): equal steps give equal
    # differences.
    a0, a1 = perf.air_c[0], perf.air_c[1]

    def power_and_cop(air: float) -> tuple[float, float]:
        capacity, power = perf.lookup(air, 35)
        return power, capacity / power

    below, at_a0, at_a1 = (power_and_cop(a) for a in (a0 - (a1 - a0), a0, a1))
    assert below[0] == pytest.approx(2 * at_a0[0] - at_a1[0])
    assert below[1] == pytest.approx(2 * at_a0[1] - at_a1[1])
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
