"""Report values from the heater's state: OpenADR operating-state names, charge, usage."""

from __future__ import annotations

import pytest

from tests.devices import answering
from ven_edge.cta2045.device import DeviceSnapshot
from ven_edge.cta2045.encodings import OperationalState
from ven_edge.grid_port import operating_state, readings_of
from ven_edge.oadr3.readings import OPERATING_STATES

#: Each CTA-2045 state's OpenADR name: codes 0-6, 11 and 12 keep their own; cycling and variable
#: following are curtailment; "not following" and price-stream operation are normal operation.
OPENADR_NAMES = {
    0: "IDLE_NORMAL",
    1: "RUNNING_NORMAL",
    2: "RUNNING_CURTAILED",
    3: "RUNNING_HEIGHTENED",
    4: "IDLE_CURTAILED",
    5: "SGD_ERROR_CONDITION",
    6: "IDLE_HEIGHTENED",
    7: "RUNNING_CURTAILED",
    8: "IDLE_CURTAILED",
    9: "RUNNING_CURTAILED",
    10: "RUNNING_NORMAL",
    11: "IDLE_OPTED_OUT",
    12: "RUNNING_OPTED_OUT",
    13: "RUNNING_NORMAL",
    14: "IDLE_NORMAL",
}


def test_every_cta2045_state_has_its_openadr_name() -> None:
    assert set(OPENADR_NAMES) == {int(s) for s in OperationalState}
    assert set(OPENADR_NAMES.values()) <= OPERATING_STATES
    for code, name in OPENADR_NAMES.items():
        assert operating_state(code) == name
    assert operating_state(None) is None
    assert operating_state(99) is None


def test_an_opt_out_is_reported_in_any_state() -> None:
    for code, name in OPENADR_NAMES.items():
        running = name.startswith("RUNNING")
        assert operating_state(code, opted_out=True) == (
            "RUNNING_OPTED_OUT" if running else "IDLE_OPTED_OUT"
        )


@pytest.mark.parametrize(("code", "expected"), [(0, "IDLE_OPTED_OUT"), (1, "RUNNING_OPTED_OUT")])
def test_override_reported_even_when_the_heater_keeps_normal_codes(
    code: int, expected: str
) -> None:
    view = answering(operational_state=code, override_active=True)
    assert readings_of(view, None).operating_state == expected


def test_charge_and_usage() -> None:
    view = answering(
        operational_state=4, stored_energy_wh=3000, energy_capacity_wh=12000, energy_used_wh=5500
    )
    readings = readings_of(view, 5000)
    assert readings.operating_state == "IDLE_CURTAILED"
    assert readings.charge_percent == pytest.approx(25.0)
    assert readings.usage_kwh == pytest.approx(0.5)
    assert readings_of(view, None).usage_kwh is None
    assert readings_of(DeviceSnapshot(), None).operating_state is None
