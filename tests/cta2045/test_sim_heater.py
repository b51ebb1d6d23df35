"""The simulated heater persona, sans-I/O: messages in, replies and state out, explicit time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hil.heater import COMM_TIMEOUT_S, DrEvent, HeaterConfig, SimulatedHeater
from hil.thermal import (
    BucketParameters,
    EnergyBucketModel,
    ThermalControls,
    ThermalModel,
    ThermalState,
)
from ven_edge.cta2045 import messages
from ven_edge.cta2045.frames import Frame, MessageType
from ven_edge.cta2045.messages import Message


class RecordingModel:
    """A thermal model that remembers the controls it was driven with (the plug under test)."""

    def __init__(self, temp_c: float = 50.0) -> None:
        self.inner = EnergyBucketModel(BucketParameters(initial_temp_c=temp_c))
        self.controls: list[ThermalControls] = []

    def advance(self, dt_s: float, controls: ThermalControls) -> ThermalState:
        self.controls.append(controls)
        return self.inner.advance(dt_s, controls)

    @property
    def state(self) -> ThermalState:
        return self.inner.state


def ask(heater: SimulatedHeater, request: Message, now: float) -> Message | None:
    frame = messages.to_frame(request)
    assert isinstance(frame, Frame)
    reply = heater.handle(frame, now, unix_time=1_780_000_000.0)
    return None if reply is None else messages.decode(reply)


def test_recording_model_satisfies_the_protocol() -> None:
    assert isinstance(RecordingModel(), ThermalModel)
    assert isinstance(EnergyBucketModel(), ThermalModel)


@pytest.mark.parametrize(
    ("request_msg", "event", "element", "heat_pump"),
    [
        (messages.shed(600), DrEvent.SHED, False, True),
        (messages.critical_peak(600), DrEvent.CRITICAL_PEAK, False, True),
        (messages.grid_emergency(600), DrEvent.GRID_EMERGENCY, False, False),
        (messages.load_up(600), DrEvent.LOAD_UP, True, True),
    ],
)
def test_events_change_the_thermostat_not_the_user_set_point(
    request_msg: Message, event: DrEvent, element: bool, heat_pump: bool
) -> None:
    model = RecordingModel()
    heater = SimulatedHeater(thermal=model)
    normal = heater.controls
    reply = ask(heater, request_msg, 1.0)
    assert reply == messages.app_ack(request_msg.opcode1 or 0)
    assert heater.event is event
    heater.tick(61.0)
    assert model.controls[-1] == heater.controls
    assert heater.controls.element_allowed is element
    assert heater.controls.heat_pump_allowed is heat_pump
    if event is DrEvent.LOAD_UP:
        assert heater.controls.setpoint_c > normal.setpoint_c
    else:
        assert heater.controls.deadband_c >= normal.deadband_c
    assert heater.set_point_f == HeaterConfig().set_point_f


def test_duration_expiry_and_end_shed_restore_normal() -> None:
    heater = SimulatedHeater(HeaterConfig(comm_timeout_s=10_000))
    ask(heater, messages.shed(50), 0.0)  # opcode2 5 = 50 s
    assert heater.next_deadline() == 50.0
    heater.tick(49.9)
    assert heater.event is DrEvent.SHED
    heater.tick(50.0)
    assert heater.event is DrEvent.NONE
    assert heater.log[-1] == "shed ended: duration expired"

    ask(heater, messages.load_up(None), 60.0)  # until End Shed
    heater.tick(5000.0)
    assert heater.event is DrEvent.LOAD_UP
    assert ask(heater, messages.end_shed(), 5001.0) == messages.app_ack(0x02)
    assert heater.event is DrEvent.NONE


def test_heartbeat_loss_ends_curtailment_and_lost_status_too() -> None:
    heater = SimulatedHeater()
    ask(heater, messages.grid_emergency(None), 0.0)
    ask(heater, messages.outside_comm_status(True), COMM_TIMEOUT_S - 1)
    heater.tick(2 * COMM_TIMEOUT_S - 2)
    assert heater.event is DrEvent.GRID_EMERGENCY
    heater.tick(2 * COMM_TIMEOUT_S)
    assert heater.event is DrEvent.NONE

    ask(heater, messages.shed(None), 1000.0)
    ask(heater, messages.outside_comm_status(False), 1001.0)
    assert heater.event is DrEvent.NONE


def test_operational_states_follow_event_heating_and_override() -> None:
    cold = SimulatedHeater(thermal=EnergyBucketModel(BucketParameters(initial_temp_c=30.0)))
    cold.tick(1.0)
    assert cold.operational_state == 1  # running normal: the tank is cold
    ask(cold, messages.load_up(600), 2.0)
    cold.tick(3.0)
    assert cold.operational_state == 3
    ask(cold, messages.grid_emergency(600), 4.0)
    cold.tick(5.0)
    assert cold.operational_state == 4  # grid emergency stops all heating
    cold.set_override(True)
    cold.tick(6.0)
    assert cold.operational_state == 12  # opted out, heating again
    assert ask(cold, messages.operational_state_query(), 7.0) == (
        messages.operational_state_response(12)
    )

    warm = SimulatedHeater()
    warm.tick(1.0)
    assert warm.operational_state == 0
    warm.set_override(True)
    assert warm.operational_state == 11


def test_override_refuses_events_but_not_end_shed() -> None:
    heater = SimulatedHeater()
    frame = heater.set_override(True)
    assert messages.decode(frame) == messages.customer_override(True)
    for request in (messages.shed(60), messages.critical_peak(60), messages.load_up(60)):
        assert ask(heater, request, 1.0) == messages.app_nak(5)
    alu = ask(heater, messages.advanced_load_up(1000, 3600), 1.0)
    assert alu is not None
    assert alu.fields["response_code_name"] == "CUSTOMER_OVERRIDE"
    assert ask(heater, messages.end_shed(), 2.0) == messages.app_ack(0x02)
    assert heater.event is DrEvent.NONE


def test_advanced_load_up_raises_the_target_by_the_energy() -> None:
    heater = SimulatedHeater(HeaterConfig(comm_timeout_s=10_000))
    base = heater.controls.setpoint_c
    reply = ask(heater, messages.advanced_load_up(2000, 3600), 0.0)
    assert reply is not None
    assert reply.fields["response_code"] == 0
    assert heater.event is DrEvent.ADVANCED_LOAD_UP
    assert heater.next_deadline() == 3600.0
    assert heater.controls.setpoint_c > base
    get = ask(heater, messages.get_advanced_load_up(), 600.0)
    assert get is not None
    assert get.fields["energy_wh"] == 2000
    assert get.fields["duration_min"] == 50


def test_intermediate_replies() -> None:
    heater = SimulatedHeater()
    info = ask(heater, messages.device_information_request(), 0.0)
    assert info is not None
    assert info.fields["device_type_name"] == "WATER_HEATER_HEAT_PUMP"
    assert info.fields["firmware_month"] == 1

    bad_type = ask(heater, messages.set_set_point(0x0002, 125), 0.0)
    assert bad_type is not None
    assert bad_type.fields["response_code_name"] == "BAD_VALUE"
    ok = ask(heater, messages.set_set_point(0x0003, 50, None, 1), 0.0)  # 50 °C
    assert ok is not None
    assert ok.fields["response_code"] == 0
    assert heater.set_point_f == 122

    offset = ask(heater, messages.set_temperature_offset(-5), 0.0)
    assert offset is not None
    assert offset.fields["response_code"] == 0
    got = ask(heater, messages.get_temperature_offset(), 0.0)
    assert got is not None
    assert got.fields["offset"] == -5

    when = datetime(2026, 3, 1, tzinfo=UTC)
    assert ask(heater, messages.set_utc_time(when), 0.0) is not None
    now = ask(heater, messages.get_utc_time(), 0.0)
    assert now is not None
    assert now.fields["utc"] == "2026-03-01T00:00:00Z"

    commodities = ask(heater, messages.commodity_read_request(), 0.0)
    assert commodities is not None
    records = commodities.fields["records"]
    assert isinstance(records, list)
    assert [r["code"] for r in records] == [0, 6, 7]
    assert all(r["measured"] for r in records)


def test_unknown_and_unsupported_requests() -> None:
    heater = SimulatedHeater()
    unknown_basic = Frame(MessageType.BASIC_DR, b"\x7f\x00")
    reply = heater.handle(unknown_basic, 0.0)
    assert reply is not None
    assert messages.decode(reply) == messages.app_nak(1)
    unknown_inter = Frame(MessageType.INTERMEDIATE_DR, b"\x09\x01")
    reply = heater.handle(unknown_inter, 0.0)
    assert reply == Frame(MessageType.INTERMEDIATE_DR, b"\x09\x81\x01")
    cycling = ask(heater, messages.terminate_cycling(1), 0.0)
    assert cycling is not None
    assert cycling.fields["response_code_name"] == "NOT_IMPLEMENTED"
    assert heater.handle(Frame(MessageType.BASIC_DR), 0.0) is None  # type query: ACK only
    assert ask(heater, messages.app_ack(0x11), 0.0) is None


def test_forced_app_nak_counts_down() -> None:
    heater = SimulatedHeater()
    heater.forced_app_nak = (3, 2)
    assert ask(heater, messages.shed(60), 0.0) == messages.app_nak(3)
    get = ask(heater, messages.get_set_point(), 0.0)
    assert get is not None
    assert get.fields["response_code"] == 3
    assert ask(heater, messages.shed(60), 0.0) == messages.app_ack(1)


def test_bucket_model_thermostat_and_sources() -> None:
    params = BucketParameters(initial_temp_c=44.0)
    normal = ThermalControls(50.0, 4.0, element_allowed=True, heat_pump_allowed=True)
    hp_only = EnergyBucketModel(params)
    state = hp_only.advance(60, normal)
    assert state.heating
    assert state.power_w == params.heat_pump_w  # 6 K below: the heat pump, not the element
    far = EnergyBucketModel(BucketParameters(initial_temp_c=30.0)).advance(60, normal)
    assert far.power_w == params.element_w  # more than twice the dead band below
    stopped = EnergyBucketModel(params).advance(60, ThermalControls(50.0, 4.0, False, False))
    assert not stopped.heating
    assert stopped.power_w == 0
    assert stopped.tank_temp_c < 44.0  # standby loss only

    model = EnergyBucketModel(params)
    used = 0.0
    for _ in range(24 * 60):
        state = model.advance(60, normal)
        assert state.energy_used_wh >= used
        used = state.energy_used_wh
    assert 46.0 - 0.5 <= state.tank_temp_c <= 50.0 + 0.5  # held inside the dead band
    assert state.stored_wh < state.capacity_wh
    with pytest.raises(ValueError, match="negative"):
        model.advance(-1, normal)
