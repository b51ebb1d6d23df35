"""Every row of the 2.0b signal table (docs/openadr2b.md §3) and the units it refuses."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ven_edge.oadr2b.events import EventSignal, Interval, ItemBase
from ven_edge.oadr2b.ns import EMIX, OADR, POWER
from ven_edge.oadr2b.signalmap import SIGNAL_MAP, Unsupported, map_signal

HOUR = timedelta(hours=1)
KW = ItemBase("powerReal", POWER, "W", "RealPower", "k")


def _signal(name: str, kind: str, *values: float, item: ItemBase | None = None) -> EventSignal:
    intervals = tuple(Interval(i, HOUR, v) for i, v in enumerate(values))
    return EventSignal(name, kind, "s", intervals, item)


@pytest.mark.parametrize(
    ("signal", "kind", "values", "unit"),
    [
        (_signal("SIMPLE", "level", 0, 1, 2, 3), "SIMPLE", (0, 1, 2, 3), None),
        (_signal("simple", "level", 1), "SIMPLE", (1,), None),
        (
            _signal("ELECTRICITY_PRICE", "price", 0.12, 0.35,
                    item=ItemBase("currencyPerKWh", OADR, "USD")),
            "PRICE", (0.12, 0.35), "USD/KWH",
        ),
        (_signal("ENERGY_PRICE", "priceMultiplier", 2.0), "PRICE", (2.0,), None),
        (_signal("LOAD_DISPATCH", "setpoint", 1.5, 0, item=KW), "IMPORT_CAPACITY_LIMIT",
         (1.5, 0.0), "KW"),
        (_signal("LOAD_DISPATCH", "setpoint", 1500,
                 item=ItemBase("powerReal", POWER, "W", "RealPower", "none")),
         "IMPORT_CAPACITY_LIMIT", (1.5,), "KW"),
        (_signal("LOAD_DISPATCH", "level", -4, 0, 2, 5, 9), "SIMPLE", (0, 0, 1, 2, 3), None),
        (_signal("LOAD_DISPATCH", "delta", -1.0, 1.0), "SIMPLE", (1, 0), None),
        (_signal("LOAD_DISPATCH", "multiplier", 0.5, 1.5), "SIMPLE", (1, 0), None),
        (_signal("LOAD_CONTROL", "x-loadControlLevelOffset", 3, 0), "SIMPLE", (1, 0), None),
        (_signal("LOAD_CONTROL", "x-loadControlCapacity", 0, 0.5, 1), "SIMPLE", (1, 1, 0), None),
        (_signal("LOAD_CONTROL", "x-loadControlPercentOffset", -20, 10), "SIMPLE", (1, 0), None),
    ],
)  # fmt: skip
def test_supported_signals_map_to_timeline_kinds(
    signal: EventSignal, kind: str, values: tuple[float, ...], unit: str | None
) -> None:
    mapped = map_signal(signal)
    assert (mapped.kind, mapped.values, mapped.unit) == (kind, values, unit)


@pytest.mark.parametrize(
    ("signal", "reason"),
    [
        (_signal("SIMPLE", "level", 4), "not 0, 1, 2 or 3"),
        (_signal("SIMPLE", "price", 1), "SIMPLE/price is not supported"),
        (_signal("DEMAND_CHARGE", "price", 1), "not supported"),
        (_signal("BID_LOAD", "setpoint", 1), "not supported"),
        (_signal("LOAD_CONTROL", "x-loadControlSetpoint", 50), "not supported"),
        (_signal("LOAD_DISPATCH", "setpoint", 1), "without a power unit"),
        (_signal("LOAD_DISPATCH", "setpoint", 1,
                 item=ItemBase("energyReal", POWER, "Wh")), "energyReal"),
        (_signal("LOAD_DISPATCH", "setpoint", 1,
                 item=ItemBase("powerReal", POWER, "furlongs")), "furlongs"),
        (_signal("LOAD_DISPATCH", "setpoint", 1,
                 item=ItemBase("powerReal", POWER, "W", scale="p")), "siScaleCode"),
        (_signal("LOAD_DISPATCH", "level", 11), "outside -10..10"),
        (_signal("LOAD_CONTROL", "x-loadControlCapacity", 1.5), "outside 0..1"),
        (_signal("ELECTRICITY_PRICE", "price", 1,
                 item=ItemBase("voltage", POWER, "V")), "price in voltage"),
        (_signal("ELECTRICITY_PRICE", "price", 1e308, item=ItemBase("customUnit", EMIX, "")),
         "price in customUnit"),
    ],
)  # fmt: skip
def test_unsupported_signals_and_units_say_why(signal: EventSignal, reason: str) -> None:
    with pytest.raises(Unsupported, match=reason):
        map_signal(signal)


def test_the_table_covers_the_profile_signal_types() -> None:
    names = {name for name, _ in SIGNAL_MAP}
    assert {"SIMPLE", "ELECTRICITY_PRICE", "ENERGY_PRICE", "LOAD_DISPATCH", "LOAD_CONTROL"} <= names
