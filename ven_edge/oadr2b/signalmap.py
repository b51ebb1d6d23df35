"""2.0b event signals → the kinds and values of the internal signal timeline.

One table, :data:`SIGNAL_MAP`, says for each (signalName, signalType) of the 2.0b profile
(Table 1) which timeline kind it becomes and how its payload converts; the control core then
turns timeline kinds into CTA-2045 commands exactly as for OpenADR 3 (docs/openadr3.md §6:
SIMPLE 0 → End Shed, 1 → Shed, 2 → Critical Peak, 3 → Grid Emergency; PRICE planned at least
cost; IMPORT_CAPACITY_LIMIT caps the heater's input). docs/openadr2b.md has the full table.

A pair missing from the table, or a unit the converter does not know, is "not supported": the
event is answered optOut 460 when none of its signals is usable (rules 48, 109).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from ven_edge.oadr2b.events import EventSignal, ItemBase

SIMPLE: Final = "SIMPLE"
PRICE: Final = "PRICE"
LIMIT: Final = "IMPORT_CAPACITY_LIMIT"


@dataclass(frozen=True, slots=True)
class Mapped:
    """A timeline kind, its values per interval, and the unit to show (a price's currency)."""

    kind: str
    values: tuple[float, ...]
    unit: str | None = None


class Unsupported(ValueError):
    """A signal (or its unit) the gateway cannot act on; the message is the reason."""


Converter = Callable[[EventSignal], Mapped]


def _payloads(signal: EventSignal) -> tuple[float, ...]:
    return tuple(i.value for i in signal.intervals)


def _simple(signal: EventSignal) -> Mapped:
    """Rule 9: SIMPLE levels 0 normal, 1 moderate, 2 high, 3 special."""
    levels = _payloads(signal)
    for level in levels:
        if level not in (0.0, 1.0, 2.0, 3.0):
            raise Unsupported(f"SIMPLE level {level} is not 0, 1, 2 or 3")
    return Mapped(SIMPLE, tuple(float(int(v)) for v in levels))


def _level_to_simple(value: float) -> float:
    """A curtailment depth (larger = less load) as a SIMPLE level: 1–3 moderate, 4–7 high,
    8 and more special; zero or below is normal (the timeline has no load-up instruction)."""
    if value >= 8:
        return 3.0
    if value >= 4:
        return 2.0
    if value >= 1:
        return 1.0
    return 0.0


def _dispatch_level(signal: EventSignal) -> Mapped:
    """LOAD_DISPATCH level, an integer −10…+10 (Table 1); positive taken as curtailment."""
    values = _payloads(signal)
    for value in values:
        if not -10 <= value <= 10:
            raise Unsupported(f"LOAD_DISPATCH level {value} outside -10..10")
    return Mapped(SIMPLE, tuple(_level_to_simple(v) for v in values))


def _level_offset(signal: EventSignal) -> Mapped:
    """LOAD_CONTROL x-loadControlLevelOffset: 0 normal, higher means less load (Table 1)."""
    return Mapped(SIMPLE, tuple(_level_to_simple(v) for v in _payloads(signal)))


def _capacity(signal: EventSignal) -> Mapped:
    """LOAD_CONTROL x-loadControlCapacity, 0–1 of the maximum: 1 is normal, less is a shed."""
    values = _payloads(signal)
    for value in values:
        if not 0 <= value <= 1:
            raise Unsupported(f"x-loadControlCapacity {value} outside 0..1")
    return Mapped(SIMPLE, tuple(0.0 if v >= 1 else 1.0 for v in values))


def _below_zero_sheds(signal: EventSignal) -> Mapped:
    """A negative offset from the baseline (delta, percent offset) is a shed."""
    return Mapped(SIMPLE, tuple(1.0 if v < 0 else 0.0 for v in _payloads(signal)))


def _multiplier(signal: EventSignal) -> Mapped:
    """LOAD_DISPATCH multiplier of the baseline: below 1 is a shed."""
    return Mapped(SIMPLE, tuple(1.0 if v < 1 else 0.0 for v in _payloads(signal)))


_POWER_SCALE: Final = {None: 1e-3, "none": 1e-3, "k": 1.0, "M": 1e3}


def _setpoint(signal: EventSignal) -> Mapped:
    """LOAD_DISPATCH setpoint in real power: a cap on the heater's input, in kW."""
    item = signal.item
    if item is None:
        raise Unsupported("LOAD_DISPATCH setpoint without a power unit")
    if item.element not in ("powerReal", "powerApparent") or item.units not in ("W", "w"):
        raise Unsupported(f"LOAD_DISPATCH setpoint in {item.element} {item.units!r}")
    factor = _POWER_SCALE.get(item.scale)
    if factor is None:
        raise Unsupported(f"LOAD_DISPATCH setpoint with siScaleCode {item.scale!r}")
    values = tuple(max(0.0, v * factor) for v in _payloads(signal))
    return Mapped(LIMIT, values, "KW")


def _price(signal: EventSignal) -> Mapped:
    """ELECTRICITY_PRICE / ENERGY_PRICE: planned at least cost like an OpenADR 3 PRICE."""
    return Mapped(PRICE, _payloads(signal), _price_unit(signal.item))


def _price_unit(item: ItemBase | None) -> str | None:
    """``"USD/KWH"`` from oadr:currencyPerKWh (itemUnits is the ISO 4217 code)."""
    if item is None:
        return None
    if item.element in ("currencyPerKWh", "currency") and item.units:
        return f"{item.units}/KWH"
    raise Unsupported(f"price in {item.element} {item.units!r}")


#: (signalName, signalType) → converter. Price types share one converter: the planner ranks
#: prices, so a relative price or a multiplier plans as well as an absolute one.
SIGNAL_MAP: Final[dict[tuple[str, str], Converter]] = {
    ("SIMPLE", "level"): _simple,
    ("simple", "level"): _simple,  # lowercase, as some openleadr VTNs send it (digest §6.1)
    ("ELECTRICITY_PRICE", "price"): _price,
    ("ELECTRICITY_PRICE", "priceRelative"): _price,
    ("ELECTRICITY_PRICE", "priceMultiplier"): _price,
    ("ENERGY_PRICE", "price"): _price,
    ("ENERGY_PRICE", "priceRelative"): _price,
    ("ENERGY_PRICE", "priceMultiplier"): _price,
    ("LOAD_DISPATCH", "setpoint"): _setpoint,
    ("LOAD_DISPATCH", "level"): _dispatch_level,
    ("LOAD_DISPATCH", "delta"): _below_zero_sheds,
    ("LOAD_DISPATCH", "multiplier"): _multiplier,
    ("LOAD_CONTROL", "x-loadControlLevelOffset"): _level_offset,
    ("LOAD_CONTROL", "x-loadControlCapacity"): _capacity,
    ("LOAD_CONTROL", "x-loadControlPercentOffset"): _below_zero_sheds,
}


def map_signal(signal: EventSignal) -> Mapped:
    """The timeline form of ``signal``; :class:`Unsupported` with the reason otherwise."""
    convert = SIGNAL_MAP.get((signal.signal_name, signal.signal_type))
    if convert is None:
        raise Unsupported(
            f"signal {signal.signal_name[:40]}/{signal.signal_type[:40]} is not supported"
        )
    mapped = convert(signal)
    if not all(math.isfinite(v) for v in mapped.values):
        raise Unsupported("non-finite payload")
    return mapped
