"""Temperature units at the edge of the gateway.

CTA-2045 heaters in the US report and take temperatures in °F (docs/cta2045.md §9.2, Get/Set
Set Point and Present Temperature carry their unit); the page shows °F and °C. Every conversion
between the two goes through this pair, so that a value crosses units in one well-known way.
"""

from __future__ import annotations


def f_to_c(fahrenheit: float) -> float:
    """Degrees Celsius of a temperature in degrees Fahrenheit."""
    return (fahrenheit - 32.0) * 5.0 / 9.0


def c_to_f(celsius: float) -> float:
    """Degrees Fahrenheit of a temperature in degrees Celsius."""
    return celsius * 9.0 / 5.0 + 32.0
