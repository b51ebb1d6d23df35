"""Strict JSON (RFC 8259 §6): no ``NaN``, ``Infinity`` or numbers beyond a double's range.

Python's :mod:`json` reads and writes ``NaN`` and ``Infinity`` and turns ``1e999`` into
infinity. A VTN that stored one would serve text that strict JSON parsers reject, so one bad
event would break polling for every VEN that sees it. Input is refused, output never carries them.
"""

from __future__ import annotations

import json
import math
from typing import Any


class NonFiniteNumber(ValueError):
    """A number strict JSON cannot carry."""


def _refuse_constant(name: str) -> Any:
    raise NonFiniteNumber(f"{name} is not a JSON number (RFC 8259 §6)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NonFiniteNumber(f"the number {text[:40]} is beyond the range of a double")
    return value


def loads(text: str | bytes) -> Any:
    """Parse JSON, refusing NaN, Infinity and out-of-range numbers (ValueError)."""
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)


def dumps(value: Any) -> str:
    """Compact JSON; a non-finite number raises ValueError instead of being written."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def non_finite_path(value: Any, path: str = "body") -> str | None:
    """Where ``value`` holds a non-finite float (for callers that build bodies in Python)."""
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, dict):
        for key, item in value.items():
            found = non_finite_path(item, f"{path}.{key}")
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = non_finite_path(item, f"{path}.{index}")
            if found:
                return found
    return None
