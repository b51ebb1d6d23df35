"""Units at the edge of the gateway.

Inside, the gateway counts in °C, Wh and W (the device model, :mod:`ven_edge.cta2045.device`).
CTA-2045 heaters in the US report and take temperatures in °F (docs/cta2045.md §9.2, Get/Set
Set Point and Present Temperature carry their unit); the page shows °F and °C, and kWh. Every
conversion goes through this module, so that a value crosses units in one well-known way.
"""

from __future__ import annotations

from typing import Final

WH_PER_KWH: Final = 1000.0


def wh_to_kwh(wh: float | None) -> float | None:
    """kWh of an energy in Wh; unknown stays unknown."""
    return None if wh is None else wh / WH_PER_KWH


def f_to_c(fahrenheit: float) -> float:
    """Degrees Celsius of a temperature in degrees Fahrenheit."""
    return (fahrenheit - 32.0) * 5.0 / 9.0


def c_to_f(celsius: float) -> float:
    """Degrees Fahrenheit of a temperature in degrees Celsius."""
    return celsius * 9.0 / 5.0 + 32.0
