"""A simulated CTA-2045 heat-pump water heater (the SGD), sans-I/O.

:class:`SimulatedHeater` takes a received frame and the time, and says which application reply
to send; :meth:`SimulatedHeater.tick` runs its own clock (event durations, the outside-comm
watchdog, the tank). The transport, link ACK/NAK and timing belong to the link engine
(:mod:`hil.sim` wires them together). Behaviour follows the "simulated water heater" table of
docs/cta2045.md §14:

* Shed / Critical Peak / Grid Emergency / Load Up / Advanced Load Up start an event with an
  opcode2 duration of 2·n² s (0x00 and 0xFF: until End Shed); End Shed or the end of the duration
  restores normal operation.
* Without an Outside Communication status message for :attr:`HeaterConfig.comm_timeout_s`
  (EPRI-sim default 300 s) a curtailment or load-up event is cancelled.
* A customer override makes the heater report the opted-out states 11/12 and refuse new events
  with App NAK 0x05 (Basic) or response code 7 (Intermediate).
* The event changes the thermostat the tank sees (:class:`hil.thermal.ThermalControls`): shed lets
  the tank deplete further on the heat pump alone, critical peak further still, grid emergency
  stops all heating, load up raises the set point and narrows the dead band. The user set point
  itself never changes with DR (§14, "Set Set Point").
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from hil.thermal import EnergyBucketModel, ThermalControls, ThermalModel, ThermalState
from ven_edge.cta2045 import messages, table
from ven_edge.cta2045.encodings import (
    AppNakReason,
    Capability,
    DeviceType,
    OutsideCommStatus,
    ResponseCode,
    TemperatureUnit,
)
from ven_edge.cta2045.errors import MessageDecodeError
from ven_edge.cta2045.frames import Frame, MessageType, NakReason
from ven_edge.cta2045.messages import Message
from ven_edge.cta2045.transport import BAUD_RATE
from ven_edge.units import c_to_f, f_to_c

#: Capability bits we claim: temperature offset and Advanced Load Up (docs/cta2045.md §9.2).
CAPABILITIES = Capability.TEMPERATURE_OFFSET | Capability.ADVANCED_LOAD_UP
#: Max payload 128 bytes, as Intwine answers (docs/cta2045.md §6).
MAX_PAYLOAD_BYTES = 128
#: Seconds between 1970 and the CTA-2045 epoch 2000-01-01T00:00Z (EPRI-lib CEA2045Time.cpp).
CTA_EPOCH_UNIX = 946_684_800
#: The message types the heater implements. A frame of any other type, and a message-type query
#: for one, gets link NAK 0x06 (docs/cta2045.md §6): 08 04 is named by the sources but nothing here
#: implements it.
SUPPORTED_TYPES = frozenset(
    {MessageType.BASIC_DR, MessageType.INTERMEDIATE_DR, MessageType.DATA_LINK}
)
#: Data-link messages the heater takes (link ACK). Every other data-link request (power mode,
#: slot queries, unknown opcodes) is answered with link NAK 0x07, request not supported, which a
#: data-link request gets instead of an application reply (docs/cta2045.md §4, §6).
_DATA_LINK_TAKEN = frozenset(
    {"max_payload_query", "max_payload_response", "sgd_slot_response", "available_slots_response"}
)
#: EPRI-sim's outside-comm watchdog default: no 0x0E for this long ends an event
#: (docs/cta2045.md §14).
COMM_TIMEOUT_S = 300.0


class DrEvent(enum.Enum):
    """The demand-response event the simulated heater is running."""

    NONE = "none"
    SHED = "shed"
    CRITICAL_PEAK = "critical_peak"
    GRID_EMERGENCY = "grid_emergency"
    LOAD_UP = "load_up"
    ADVANCED_LOAD_UP = "advanced_load_up"
    POWER_LEVEL = "power_level"


_EVENT_OF_MESSAGE = {
    "shed": DrEvent.SHED,
    "critical_peak": DrEvent.CRITICAL_PEAK,
    "grid_emergency": DrEvent.GRID_EMERGENCY,
    "load_up": DrEvent.LOAD_UP,
    "request_power_level": DrEvent.POWER_LEVEL,
}


@dataclass(frozen=True, slots=True)
class HeaterConfig:
    """The heater's fixed parameters."""

    set_point_f: int = 120
    min_set_point_f: int = 100
    max_set_point_f: int = 140
    deadband_c: float = 4.0
    #: Extra dead band while shedding (deplete further before reheating,
    #: docs/cta2045.md §14 GONGHJ).
    shed_deadband_c: float = 10.0
    critical_peak_deadband_c: float = 16.0
    load_up_boost_c: float = 5.0
    comm_timeout_s: float = COMM_TIMEOUT_S
    vendor_id: int = 0x1234
    model: str = "VEN-EDGE-SIM-50"
    serial: str = "SIM0000000000001"


class SimulatedHeater:
    """The heater persona: frames in, replies out, own clock via :meth:`tick`."""

    def __init__(
        self,
        config: HeaterConfig | None = None,
        thermal: ThermalModel | None = None,
        *,
        now: float = 0.0,
    ) -> None:
        self.config = config or HeaterConfig()
        self.thermal: ThermalModel = thermal or EnergyBucketModel()
        self.set_point_f = self.config.set_point_f
        self.event = DrEvent.NONE
        self.event_ends_at: float | None = None
        self.power_level = 127
        self.alu_extra_wh = 0
        self.override = False
        self.last_comm_at = now
        self._last_tick = now
        self.temperature_offset_f = 0
        self.utc_offset_s = 0.0  # set by Set UTC Time: CTA seconds = unix time + offset
        self.forced_app_nak: tuple[int, int] | None = None  # (reason, count), fault injection
        #: Messages this heater model does not take, by name ("advanced_load_up",
        #: "set_set_point"), with the response code it answers (fault injection: 1 not
        #: implemented, 2 bad value, 8 not enabled; docs/cta2045.md §9.1).
        self.refusals: dict[str, int] = {}
        self.log: list[str] = []

    # --- state ------------------------------------------------------------------------------

    @property
    def state(self) -> ThermalState:
        return self.thermal.state

    @property
    def operational_state(self) -> int:
        """Operational-state code (docs/cta2045.md §8.3) from the event and whether the tank
        heats."""
        heating = self.thermal.state.heating
        if self.override:
            return 12 if heating else 11
        if self.event in (DrEvent.SHED, DrEvent.CRITICAL_PEAK, DrEvent.GRID_EMERGENCY):
            return 2 if heating else 4
        if self.event in (DrEvent.LOAD_UP, DrEvent.ADVANCED_LOAD_UP):
            return 3 if heating else 6
        if self.event is DrEvent.POWER_LEVEL:
            return 2 if heating else 4
        return 1 if heating else 0

    @property
    def controls(self) -> ThermalControls:
        """The thermostat the tank sees under the present event (module docstring)."""
        c = self.config
        set_point = f_to_c(self.set_point_f + self.temperature_offset_f)
        event = DrEvent.NONE if self.override else self.event
        if event is DrEvent.SHED:
            return ThermalControls(set_point, c.shed_deadband_c, False, True)
        if event is DrEvent.CRITICAL_PEAK:
            return ThermalControls(set_point, c.critical_peak_deadband_c, False, True)
        if event is DrEvent.GRID_EMERGENCY:
            return ThermalControls(set_point, c.deadband_c, False, False)
        if event is DrEvent.POWER_LEVEL:
            return ThermalControls(set_point, c.deadband_c, False, self.power_level > 0)
        if event is DrEvent.LOAD_UP:
            return ThermalControls(set_point + c.load_up_boost_c, 1.0, True, True)
        if event is DrEvent.ADVANCED_LOAD_UP:
            state = self.thermal.state
            # Wh per kelvin of the whole tank, from the model's own capacity figure.
            span = max(state.capacity_wh, 1.0) / 50.0
            boost = min(self.alu_extra_wh / span, 2 * c.load_up_boost_c)
            return ThermalControls(set_point + boost, 1.0, True, True)
        return ThermalControls(set_point, c.deadband_c, True, True)

    def set_override(self, active: bool) -> Frame:
        """The customer pressed the button: returns the unsolicited 0x11 frame to send (§8.1)."""
        self.override = active
        self.log.append(f"override {'on' if active else 'off'}")
        return messages.to_data_frame(messages.customer_override(active))

    def tick(self, now: float) -> None:
        """Advance the heater's own clock: tank physics, event expiry, outside-comm watchdog."""
        dt = now - self._last_tick
        if dt > 0:
            self.thermal.advance(dt, self.controls)
            self._last_tick = now
        if self.event_ends_at is not None and now >= self.event_ends_at:
            self._end_event("duration expired")
        if self.event is not DrEvent.NONE and now - self.last_comm_at >= self.config.comm_timeout_s:
            self._end_event("outside communication lost")

    def next_deadline(self) -> float | None:
        """When :meth:`tick` changes the state by itself next (None: only physics)."""
        times = []
        if self.event_ends_at is not None:
            times.append(self.event_ends_at)
        if self.event is not DrEvent.NONE:
            times.append(self.last_comm_at + self.config.comm_timeout_s)
        return min(times) if times else None

    def _start_event(self, event: DrEvent, now: float, seconds: float | None) -> None:
        self.event = event
        self.event_ends_at = None if seconds is None else now + seconds
        self.log.append(f"{event.value} for {seconds if seconds is not None else 'open'} s")

    def _end_event(self, why: str) -> None:
        if self.event is not DrEvent.NONE:
            self.log.append(f"{self.event.value} ended: {why}")
        self.event = DrEvent.NONE
        self.event_ends_at = None
        self.alu_extra_wh = 0

    # --- requests ---------------------------------------------------------------------------

    def link_nak(self, frame: Frame) -> int | None:
        """The link NAK reason for a frame the heater refuses at the link layer (None: ACK it).

        Only data-link requests are refused here (the link engine already NAKs unsupported types
        and bad lengths). A bit-rate change is taken only for the rate the heater talks at: it
        cannot switch, so any other rate is NAKed 0x07, as Intwine does (docs/cta2045.md §1, §6).
        """
        if frame.msg_type != MessageType.DATA_LINK or frame.is_type_query:
            return None
        try:
            request = messages.decode(frame)
        except MessageDecodeError as exc:
            return int(exc.nak)
        if request.name == "request_bit_rate":
            if request.fields.get("bit_rate_bps") == BAUD_RATE:
                return None
            return int(NakReason.REQUEST_NOT_SUPPORTED)
        if request.name in _DATA_LINK_TAKEN:
            return None
        return int(NakReason.REQUEST_NOT_SUPPORTED)

    def handle(self, frame: Frame, now: float, unix_time: float = 0.0) -> Frame | None:
        """The application reply to ``frame`` (None: only the link ACK, already sent)."""
        self.tick(now)
        if frame.is_type_query:
            return None  # message-type query: the link ACK is the whole answer (§6)
        try:
            request = messages.decode(frame)
        except MessageDecodeError:
            return messages.not_supported_reply(frame)
        reply = self._reply(request, now, unix_time)
        if reply is None:
            return None
        if isinstance(reply, Frame):
            return reply
        out = messages.to_frame(reply)
        return out if isinstance(out, Frame) else None

    def _forced_nak(self) -> int | None:
        if self.forced_app_nak is None:
            return None
        reason, count = self.forced_app_nak
        self.forced_app_nak = (reason, count - 1) if count > 1 else None
        return reason

    def _reply(self, request: Message, now: float, unix_time: float) -> Message | Frame | None:
        name = request.name
        f = request.fields
        if name in ("app_ack", "app_nak", "max_payload_response"):
            return None  # answers to our own messages
        if name in ("customer_override", "operational_state_response"):
            return messages.app_ack(_opcode(request))
        expected = messages.expected_reply(request)
        if expected is None:
            return None
        forced = self._forced_nak()
        if forced is not None:
            if request.msg_type == "0801":
                return messages.app_nak(forced)
            return _response_code_frame(request, forced)
        if name == "operational_state_query":
            return messages.operational_state_response(self.operational_state)
        if name == "max_payload_query":
            return messages.max_payload_response(MAX_PAYLOAD_BYTES)
        if name == "outside_comm_status":
            if f["status"] == OutsideCommStatus.NO_COMM and self.event is not DrEvent.NONE:
                self._end_event("outside communication reported lost")
            self.last_comm_at = now
            return messages.app_ack(_opcode(request))
        if name == "end_shed":
            self._end_event("end shed")
            return messages.app_ack(_opcode(request))
        if name in _EVENT_OF_MESSAGE:
            if self.override:
                return messages.app_nak(AppNakReason.CUSTOMER_OVERRIDE)
            seconds = f.get("duration_s")
            if name == "request_power_level":
                self.power_level = int(request.opcode2 or 0) & 0x7F
                seconds = None
            self._start_event(_EVENT_OF_MESSAGE[name], now, _float_or_none(seconds))
            return messages.app_ack(_opcode(request))
        if expected.names[0] == "app_ack":
            return messages.app_ack(_opcode(request))  # prices, guidance, time sync, ... (§14)
        return self._intermediate(request, _reply_name(request), now, unix_time)

    def _intermediate(
        self, request: Message, reply_name: str, now: float, unix_time: float
    ) -> Message | Frame | None:
        name = request.name
        f = request.fields
        c = self.config
        if name == "device_information_request":
            return messages.device_information_response(
                vendor_id=c.vendor_id,
                device_type=DeviceType.WATER_HEATER_HEAT_PUMP,
                device_revision=1,
                capabilities=CAPABILITIES,
                cta_version="B",
                model_number=c.model,
                serial_number=c.serial,
                firmware=(2026, 1, 1, 1, 0),  # 2026-01-01 v1.0 (the codec writes month 0-based)
            )
        if name == "get_utc_time":
            when = datetime.fromtimestamp(unix_time + self.utc_offset_s, UTC)
            return messages.get_utc_time_reply(when)
        if name == "set_utc_time":
            self.utc_offset_s = _int(f["utc_s"]) + CTA_EPOCH_UNIX - unix_time
            return messages.response_code_reply(reply_name, ResponseCode.SUCCESS)
        if name == "get_set_point":
            return messages.get_set_point_reply(
                DeviceType.WATER_HEATER_HEAT_PUMP, self.set_point_f, None
            )
        refused = self.refusals.get(name)
        if refused:
            self.log.append(f"{name} refused with response code {refused}")
            return messages.response_code_reply(reply_name, ResponseCode(refused))
        if name == "set_set_point":
            return messages.response_code_reply(reply_name, self._set_set_point(f))
        if name == "get_present_temperature":
            temp_f = round(c_to_f(self.thermal.state.tank_temp_c))
            return messages.present_temperature_reply(DeviceType.WATER_HEATER_HEAT_PUMP, temp_f)
        if name == "get_temperature_offset":
            return messages.build(
                reply_name, response_code=0, offset=self.temperature_offset_f, units=0
            )
        if name == "set_temperature_offset":
            offset = _int(f["offset"])
            celsius = f["units"] == TemperatureUnit.CELSIUS
            self.temperature_offset_f = round(offset * 9 / 5) if celsius else offset
            return messages.response_code_reply(reply_name, ResponseCode.SUCCESS)
        if name == "get_commodity_read":
            return messages.commodity_read_response(self._commodities(f.get("code")))
        if name == "get_advanced_load_up":
            minutes = 0
            if self.event is DrEvent.ADVANCED_LOAD_UP and self.event_ends_at is not None:
                minutes = max(0, round((self.event_ends_at - now) / 60))
            return messages.build(
                reply_name,
                response_code=0,
                duration_min=minutes,
                value=self.alu_extra_wh,
                unit_code=0,
            )
        if name == "advanced_load_up":
            return messages.response_code_reply(reply_name, self._advanced_load_up(f, now))
        return _response_code_frame(request, ResponseCode.NOT_IMPLEMENTED)

    def _set_set_point(self, f: Mapping[str, object]) -> ResponseCode:
        # Rejected unless the device type is our own (Intwine REST doc §3.15, docs/cta2045.md §15).
        if f["device_type"] != DeviceType.WATER_HEATER_HEAT_PUMP:
            return ResponseCode.BAD_VALUE
        value = f["set_point_1"]
        if value is None:
            return ResponseCode.SUCCESS  # 0x8000: leave unchanged
        celsius = f["units"] == TemperatureUnit.CELSIUS
        value_f = round(c_to_f(_int(value))) if celsius else _int(value)
        if not self.config.min_set_point_f <= value_f <= self.config.max_set_point_f:
            return ResponseCode.BAD_VALUE
        self.set_point_f = value_f
        self.log.append(f"set point {value_f} F")
        return ResponseCode.SUCCESS

    def _commodities(self, code: object) -> list[dict[str, object]]:
        state = self.thermal.state
        # Codes 0, 6, 7 as a water heater reports them; the instantaneous field of 6 and 7 is
        # unused (docs/cta2045.md §9.3, §14).
        records = {
            0: (round(state.power_w), round(state.energy_used_wh)),
            6: (0, round(state.capacity_wh)),
            7: (0, round(state.stored_wh)),
        }
        codes = sorted(records) if code is None else [_int(code) & 0x7F]
        return [
            messages.commodity_record(c, records[c][0], records[c][1], measured=True)
            for c in codes
            if c in records
        ]

    def _advanced_load_up(self, f: Mapping[str, object], now: float) -> ResponseCode:
        if self.override:
            return ResponseCode.CUSTOMER_OVERRIDE
        energy = f.get("energy_wh")
        if energy is None:  # units 0xFF: not active, i.e. cancel (§9.2)
            self._end_event("advanced load up cancelled")
            return ResponseCode.SUCCESS
        minutes = _int(f["duration_min"])
        self._start_event(DrEvent.ADVANCED_LOAD_UP, now, minutes * 60.0 if minutes else None)
        self.alu_extra_wh = _int(energy)
        return ResponseCode.SUCCESS


def _response_code_frame(request: Message, code: int) -> Frame:
    return messages.response_code_frame(_opcode(request), request.opcode2 or 0, code)


def _reply_name(request: Message) -> str:
    """The name of the reply the message table pairs with ``request``."""
    reply = table.BY_NAME[request.name].reply
    if reply is None:
        raise ValueError(f"{request.name} has no application reply")
    return reply


def _opcode(message: Message) -> int:
    if message.opcode1 is None:
        raise ValueError(f"{message.name} has no opcode")
    return message.opcode1


def _int(value: object) -> int:
    if not isinstance(value, int):
        raise ValueError(f"expected an integer field, got {value!r}")
    return value


def _float_or_none(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None
