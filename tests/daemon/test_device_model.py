"""One model of the heater from the serial side to the planner and the page: what the UCM session
holds reaches the planner as it is (°C and Wh, no detour through °F and kWh), and the page writes
its °F and kWh from the same values."""

from __future__ import annotations

import json
from pathlib import Path

from tests.daemon.test_daemon_off_loop import Clock
from tests.daemon.test_daemon_off_loop import Heater as StubHeater
from tests.devices import answering
from ven_edge.control import ControlPlan, PlanInputs
from ven_edge.cta2045.device import DeviceInformationReply, DeviceSnapshot
from ven_edge.daemon import Daemon
from ven_edge.store import StateStore
from ven_edge.units import c_to_f, f_to_c

#: A tank temperature whose °F form does not convert back to the same float (48.7 °C is
#: 119.66 °F, which converts back to 48.699999999999996 °C).
TANK_C = 48.7
HEATER = answering(
    operational_state=0,
    present_temperature_c=TANK_C,
    set_point_c=48.9,
    stored_energy_wh=1234,
    energy_capacity_wh=9876,
    energy_used_wh=4321,
    power_w=450,
    device_info=DeviceInformationReply("B", 0x0A05, 3, 1, 0, model="HPTU-50N", serial="SN-7"),
)


class Heater(StubHeater):
    def device(self) -> DeviceSnapshot:
        return HEATER

    def commands(self) -> str:
        return "Advanced Load Up"


class Recorder:
    def __init__(self) -> None:
        self.devices: list[DeviceSnapshot] = []

    def __call__(self, inputs: PlanInputs) -> ControlPlan:
        self.devices.append(inputs.device)
        return ControlPlan(made_at=inputs.now)


def daemon(tmp_path: Path, planner: Recorder) -> Daemon:
    return Daemon(
        heater=Heater(), grid=None, planner=planner, store=StateStore(tmp_path), clock=Clock()
    )  # type: ignore[arg-type]


async def test_the_planner_reads_what_the_heater_said_without_conversions(tmp_path: Path) -> None:
    assert f_to_c(c_to_f(TANK_C)) != TANK_C  # the round trip this test rules out
    planner = Recorder()
    await daemon(tmp_path, planner).control_step()
    assert planner.devices == [HEATER]
    (device,) = planner.devices
    assert device.present_temperature_c == TANK_C
    assert (device.stored_energy_wh, device.energy_capacity_wh) == (1234, 9876)


def test_the_page_converts_the_same_values_at_its_edge(tmp_path: Path) -> None:
    doc = daemon(tmp_path, Recorder()).snapshot().as_json()
    heater = doc["heater"]
    assert isinstance(heater, dict)
    assert {k: heater[k] for k in ("tank_temp_c", "tank_temp_f", "set_point_f")} == {
        "tank_temp_c": 48.7,
        "tank_temp_f": 119.7,
        "set_point_f": 120.0,
    }
    assert {k: heater[k] for k in ("stored_kwh", "capacity_kwh", "stored_pct", "power_w")} == {
        "stored_kwh": 1.23,
        "capacity_kwh": 9.88,
        "stored_pct": 12.0,
        "power_w": 450,
    }
    # The JSON text is what it was: floats where floats were written.
    assert '"power_w": 450.0' in json.dumps(heater)
    assert '"stored_kwh": 1.23' in json.dumps(heater)
    assert doc["device"] == {
        "vendor_id": 0x0A05,
        "device_type": 3,
        "device_type_name": "Water heater, heat pump",
        "model": "HPTU-50N",
        "serial": "SN-7",
        "firmware": None,
        "cta2045_version": "B",
        "commands": "Advanced Load Up",
    }
    health = doc["health"]
    assert isinstance(health, dict)
    link = health["heater_link"]
    assert isinstance(link, dict)
    assert (link["ok"], link["port"], link["problem"]) == (True, "sim", None)
