"""Report values from the heater's state: OpenADR operating-state names, charge, usage."""

from __future__ import annotations

import pytest

from tests.devices import answering
from ven_edge.cta2045.device import DeviceSnapshot
from ven_edge.cta2045.encodings import OperationalState
from ven_edge.grid_port import OPERATING_STATE_NAMES, readings_of
from ven_edge.oadr3.readings import OPERATING_STATES


def test_every_cta2045_state_has_an_openadr_name() -> None:
    assert set(OPERATING_STATE_NAMES) == {int(s) for s in OperationalState}
    assert set(OPERATING_STATE_NAMES.values()) <= OPERATING_STATES
    for state in OperationalState:
        if state.name in OPERATING_STATES:  # codes 0-6, 11, 12 keep their own name
            assert OPERATING_STATE_NAMES[state] == state.name


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
