"""The one °F/°C pair the gateway converts temperatures with."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from ven_edge.units import c_to_f, f_to_c


def test_the_fixed_points_of_the_two_scales() -> None:
    assert f_to_c(32) == 0.0
    assert f_to_c(212) == 100.0
    assert c_to_f(100) == 212.0
    assert f_to_c(-40) == c_to_f(-40) == -40.0
    # A typical water-heater set point (docs/cta2045.md §9.2 carries whole °F).
    assert round(f_to_c(120), 2) == 48.89


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_a_round_trip_returns_the_temperature(celsius: float) -> None:
    assert math.isclose(f_to_c(c_to_f(celsius)), celsius, rel_tol=1e-12, abs_tol=1e-9)
