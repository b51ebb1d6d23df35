"""The planning problem and the plan: frozen dataclasses and their JSON contract.

Problem JSON (every energy in kWh, thermal unless it says otherwise)::

    {"step_hours": 1.0,
     "price": [0.12, 0.11],              # $/kWh of electricity, one per interval (may be < 0)
     "load_kwh": [0.4, 0.9],             # thermal draw per interval (>= 0)
     "soc_kwh": 6.0,                     # stored energy now
     "soc_min_kwh": 1.0, "soc_max_kwh": 12.0,
     "soc_end_min_kwh": 6.0,             # optional, default soc_min_kwh
     "sources": [{"name": "heat_pump", "cop": 3.2, "max_kwh": 1.5, "min_kwh": 0.0},
                 {"name": "element", "cop": 1.0, "max_kwh": 4.5}]}

``cop``, ``max_kwh`` and ``min_kwh`` (default 0) take a number or a list with one value per
interval. For every interval t: soc[t+1] = soc[t] + Σ_s heat[s][t] − load[t];
soc_min ≤ soc[t+1] ≤ soc_max; min ≤ heat[s][t] ≤ max; soc[n] ≥ soc_end_min; minimise
Σ price[t]·heat[s][t]/cop[s][t].

Plan JSON: ``{"feasible", "cost", "unserved_kwh", "heat_kwh": {name: [n]}, "soc_kwh": [n+1]}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Longest horizon accepted: a week at 5-minute steps. Bounds memory and time on bad input.
MAX_INTERVALS = 7 * 24 * 12

_TOP_KEYS = frozenset(
    {
        "step_hours",
        "price",
        "load_kwh",
        "soc_kwh",
        "soc_min_kwh",
        "soc_max_kwh",
        "soc_end_min_kwh",
        "sources",
    }
)
_SOURCE_KEYS = frozenset({"name", "cop", "max_kwh", "min_kwh"})


class ProblemError(ValueError):
    """Invalid problem input; ``key`` names the offending JSON key (e.g. ``sources[1].cop[3]``)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


def _number(key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProblemError(key, f"expected a number, got {type(value).__name__}")
    result = float(value)
    if not math.isfinite(result):
        raise ProblemError(key, f"expected a finite number, got {value!r}")
    return result


def _series(key: str, value: object, n: int | None) -> tuple[float, ...]:
    if not isinstance(value, list | tuple):
        raise ProblemError(key, f"expected a list of numbers, got {type(value).__name__}")
    if n is not None and len(value) != n:
        raise ProblemError(key, f"expected {n} values (one per interval), got {len(value)}")
    return tuple(_number(f"{key}[{i}]", v) for i, v in enumerate(value))


def _per_interval(key: str, value: object, n: int) -> tuple[float, ...]:
    if isinstance(value, list | tuple):
        return _series(key, value, n)
    return (_number(key, value),) * n


@dataclass(frozen=True, slots=True)
class Source:
    """One heat source; every series has one value per interval."""

    name: str
    cop: tuple[float, ...]
    max_kwh: tuple[float, ...]
    min_kwh: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    step_hours: float
    price: tuple[float, ...]
    load_kwh: tuple[float, ...]
    soc_kwh: float
    soc_min_kwh: float
    soc_max_kwh: float
    soc_end_min_kwh: float
    sources: tuple[Source, ...]

    @property
    def n(self) -> int:
        return len(self.price)

    def __post_init__(self) -> None:
        _check(self)

    @classmethod
    def from_json(cls, data: object) -> Problem:
        """Parse and validate the JSON form; raises :class:`ProblemError` naming the key."""
        if not isinstance(data, Mapping):
            raise ProblemError("$", f"expected an object, got {type(data).__name__}")
        unknown = sorted(set(data) - _TOP_KEYS)
        if unknown:
            raise ProblemError(unknown[0], "unknown key")
        for key in sorted(_TOP_KEYS - {"soc_end_min_kwh"}):
            if key not in data:
                raise ProblemError(key, "missing")
        price = _series("price", data["price"], None)
        n = len(price)
        if not 1 <= n <= MAX_INTERVALS:
            raise ProblemError("price", f"expected 1 to {MAX_INTERVALS} intervals, got {n}")
        sources_raw = data["sources"]
        if not isinstance(sources_raw, list) or not sources_raw:
            raise ProblemError("sources", "expected a non-empty list of sources")
        sources = []
        for i, raw in enumerate(sources_raw):
            key = f"sources[{i}]"
            if not isinstance(raw, Mapping):
                raise ProblemError(key, f"expected an object, got {type(raw).__name__}")
            unknown = sorted(set(raw) - _SOURCE_KEYS)
            if unknown:
                raise ProblemError(f"{key}.{unknown[0]}", "unknown key")
            for required in ("name", "cop", "max_kwh"):
                if required not in raw:
                    raise ProblemError(f"{key}.{required}", "missing")
            name = raw["name"]
            if not isinstance(name, str) or not name:
                raise ProblemError(f"{key}.name", "expected a non-empty string")
            sources.append(
                Source(
                    name,
                    _per_interval(f"{key}.cop", raw["cop"], n),
                    _per_interval(f"{key}.max_kwh", raw["max_kwh"], n),
                    _per_interval(f"{key}.min_kwh", raw.get("min_kwh", 0.0), n),
                )
            )
        soc_min = _number("soc_min_kwh", data["soc_min_kwh"])
        return cls(
            step_hours=_number("step_hours", data["step_hours"]),
            price=price,
            load_kwh=_series("load_kwh", data["load_kwh"], n),
            soc_kwh=_number("soc_kwh", data["soc_kwh"]),
            soc_min_kwh=soc_min,
            soc_max_kwh=_number("soc_max_kwh", data["soc_max_kwh"]),
            soc_end_min_kwh=_number("soc_end_min_kwh", data.get("soc_end_min_kwh", soc_min)),
            sources=tuple(sources),
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON form (per-interval series always written as lists)."""
        return {
            "step_hours": self.step_hours,
            "price": list(self.price),
            "load_kwh": list(self.load_kwh),
            "soc_kwh": self.soc_kwh,
            "soc_min_kwh": self.soc_min_kwh,
            "soc_max_kwh": self.soc_max_kwh,
            "soc_end_min_kwh": self.soc_end_min_kwh,
            "sources": [
                {
                    "name": s.name,
                    "cop": list(s.cop),
                    "max_kwh": list(s.max_kwh),
                    "min_kwh": list(s.min_kwh),
                }
                for s in self.sources
            ],
        }


def _check(p: Problem) -> None:
    """Cross-field rules; the per-value rules of the JSON parser are repeated so that a Problem
    built in code obeys the same contract."""
    n = p.n
    if not 1 <= n <= MAX_INTERVALS:
        raise ProblemError("price", f"expected 1 to {MAX_INTERVALS} intervals, got {n}")
    if not (math.isfinite(p.step_hours) and p.step_hours > 0):
        raise ProblemError("step_hours", f"must be > 0, got {p.step_hours}")
    for i, v in enumerate(p.price):
        if not math.isfinite(v):
            raise ProblemError(f"price[{i}]", f"expected a finite number, got {v!r}")
    if len(p.load_kwh) != n:
        raise ProblemError("load_kwh", f"expected {n} values, got {len(p.load_kwh)}")
    for i, v in enumerate(p.load_kwh):
        if not (math.isfinite(v) and v >= 0):
            raise ProblemError(f"load_kwh[{i}]", f"must be >= 0, got {v}")
    for key in ("soc_kwh", "soc_min_kwh", "soc_max_kwh", "soc_end_min_kwh"):
        if not math.isfinite(getattr(p, key)):
            raise ProblemError(key, "expected a finite number")
    if p.soc_min_kwh < 0:
        raise ProblemError("soc_min_kwh", f"must be >= 0, got {p.soc_min_kwh}")
    if p.soc_max_kwh < p.soc_min_kwh:
        raise ProblemError("soc_max_kwh", f"{p.soc_max_kwh} is below soc_min_kwh {p.soc_min_kwh}")
    if not p.soc_min_kwh <= p.soc_end_min_kwh <= p.soc_max_kwh:
        raise ProblemError(
            "soc_end_min_kwh",
            f"{p.soc_end_min_kwh} is outside [soc_min_kwh, soc_max_kwh] = "
            f"[{p.soc_min_kwh}, {p.soc_max_kwh}]",
        )
    if not 0 <= p.soc_kwh <= p.soc_max_kwh:
        raise ProblemError("soc_kwh", f"{p.soc_kwh} is outside [0, soc_max_kwh={p.soc_max_kwh}]")
    if not p.sources:
        raise ProblemError("sources", "expected at least one source")
    names: set[str] = set()
    for i, s in enumerate(p.sources):
        key = f"sources[{i}]"
        if s.name in names:
            raise ProblemError(f"{key}.name", f"duplicate source name {s.name!r}")
        names.add(s.name)
        for attr in ("cop", "max_kwh", "min_kwh"):
            if len(getattr(s, attr)) != n:
                raise ProblemError(f"{key}.{attr}", f"expected {n} values")
        for t in range(n):
            if not (math.isfinite(s.cop[t]) and s.cop[t] > 0):
                raise ProblemError(f"{key}.cop[{t}]", f"must be > 0, got {s.cop[t]}")
            lo, hi = s.min_kwh[t], s.max_kwh[t]
            if not (math.isfinite(lo) and lo >= 0):
                raise ProblemError(f"{key}.min_kwh[{t}]", f"must be >= 0, got {lo}")
            if not (math.isfinite(hi) and hi >= lo):
                raise ProblemError(f"{key}.max_kwh[{t}]", f"{hi} is below min_kwh {lo}")


@dataclass(frozen=True, slots=True)
class Plan:
    """The scheduler's answer. ``feasible`` is False when no plan meets every constraint; the
    plan then leaves the least unserved energy (draw the tank cannot serve above the reserve,
    plus the shortfall against the end target) and, among those, costs least. A plan is also
    infeasible when the heat forced by ``min_kwh`` cannot fit in the tank: heat is then cut
    below ``min_kwh`` just enough to keep the tank at ``soc_max_kwh``."""

    feasible: bool
    cost: float
    unserved_kwh: float
    heat_kwh: dict[str, tuple[float, ...]]
    soc_kwh: tuple[float, ...]

    def total_heat(self) -> tuple[float, ...]:
        """Planned heat per interval, all sources together."""
        series = list(self.heat_kwh.values())
        return tuple(sum(vals) for vals in zip(*series, strict=True))

    def to_json(self) -> dict[str, Any]:
        return {
            "feasible": self.feasible,
            "cost": self.cost,
            "unserved_kwh": self.unserved_kwh,
            "heat_kwh": {name: list(v) for name, v in self.heat_kwh.items()},
            "soc_kwh": list(self.soc_kwh),
        }
