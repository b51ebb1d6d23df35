"""Device snapshots for tests: the heater as the UCM session models it."""

from __future__ import annotations

from typing import Any

from ven_edge.cta2045.device import DeviceSnapshot, LinkHealth
from ven_edge.units import f_to_c

ANSWERING_LINK = LinkHealth(connected=True, port="sim")


def answering(**fields: Any) -> DeviceSnapshot:
    """A heater on an open port that answered commissioning, with ``fields`` set."""
    return DeviceSnapshot(commissioned=True, link=ANSWERING_LINK, **fields)


def in_page_units(
    state_code: int | None,
    *,
    tank_temp_f: float | None = None,
    set_point_f: float | None = None,
    stored_kwh: float | None = None,
    capacity_kwh: float | None = None,
    power_w: int | None = None,
    override: bool = False,
) -> DeviceSnapshot:
    """A heater described in the status page's units (°F, kWh); ``state_code`` None: it does
    not answer."""
    fields: dict[str, Any] = {
        "present_temperature_c": None if tank_temp_f is None else f_to_c(tank_temp_f),
        "set_point_c": None if set_point_f is None else f_to_c(set_point_f),
        "stored_energy_wh": None if stored_kwh is None else round(1000 * stored_kwh),
        "energy_capacity_wh": None if capacity_kwh is None else round(1000 * capacity_kwh),
        "power_w": power_w,
        "override_active": override,
    }
    if state_code is None:
        return DeviceSnapshot(**fields)
    return answering(operational_state=state_code, **fields)
