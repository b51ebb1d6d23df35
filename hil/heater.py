"""A simulated CTA-2045 heat-pump water heater (the SGD), sans-I/O.

:class:`SimulatedHeater` takes a received frame and the time, and says which application reply
to send; :meth:`SimulatedHeater.tick` runs its own clock (event durations, the outside-comm
watchdog, the tank). The transport, link ACK/NAK and timing belong to the link engine
(:mod:`hil.sim` wires them together). Behaviour follows the "simulated water heater" table of
reference cta2045.md §14:

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
import struct
from dataclasses import dataclass
from typing import Protocol

from hil.thermal import EnergyBucketModel, ThermalControls, ThermalModel, ThermalState
from ven_edge.cta2045.frames import Frame, MessageType

# Basic DR opcodes (cta2045.md §8.1).
SHED = 0x01
END_SHED = 0x02
APP_ACK = 0x03
APP_NAK = 0x04
POWER_LEVEL = 0x06
PRESENT_PRICE = 0x07
NEXT_PRICE = 0x08
TIME_REMAINING = 0x09
CRITICAL_PEAK = 0x0A
GRID_EMERGENCY = 0x0B
GRID_GUIDANCE = 0x0C
OUTSIDE_COMM = 0x0E
CUSTOMER_OVERRIDE = 0x11
OP_STATE_QUERY = 0x12
OP_STATE_RESPONSE = 0x13
SLEEP = 0x14
WAKE = 0x15
TIME_SYNC = 0x16
LOAD_UP = 0x17
PENDING_EVENT_TIME = 0x18
PENDING_EVENT_TYPE = 0x19
REBOOT = 0x1A

#: Basic messages a heater simply App-ACKs (cta2045.md §14, "Present/Next price ...").
_ACK_ONLY = frozenset(
    {
        PRESENT_PRICE,
        NEXT_PRICE,
        TIME_REMAINING,
        GRID_GUIDANCE,
        TIME_SYNC,
        PENDING_EVENT_TIME,
        PENDING_EVENT_TYPE,
        REBOOT,
        SLEEP,
        WAKE,
    }
)

# App NAK reasons (cta2045.md §8.4) and Intermediate response codes (§9.1).
NAK_OPCODE_NOT_SUPPORTED = 0x01
NAK_CUSTOMER_OVERRIDE = 0x05
RC_SUCCESS = 0
RC_NOT_IMPLEMENTED = 1
RC_BAD_VALUE = 2
RC_LENGTH_ERROR = 3
RC_CUSTOMER_OVERRIDE = 7

#: Device type 0x0003: heat-pump water heater (cta2045.md §9.2).
DEVICE_TYPE_HPWH = 0x0003
#: Set-point "don't change" / "not supported" sentinel (cta2045.md §9.2).
SETPOINT_UNCHANGED = -0x8000
#: Units byte of set points and temperatures: 0 = °F, 1 = °C (cta2045.md §9.2).
UNITS_F = 0
UNITS_C = 1
#: Capability bits we claim: bit 3 temperature offset, bit 6 Advanced Load Up (§9.2).
CAPABILITIES = (1 << 3) | (1 << 6)
#: Max payload size code 6 = 128 bytes, as Intwine answers (cta2045.md §6).
MAX_PAYLOAD_CODE = 6
#: Advanced Load Up units codes: 0 = 1 Wh, 1 = 10 Wh, 2 = 100 Wh, 3 = 1000 Wh (cta2045.md §9.2).
_ALU_UNIT_WH = {0: 1, 1: 10, 2: 100, 3: 1000}
#: Seconds between 1970 and the CTA-2045 epoch 2000-01-01T00:00Z (EPRI-lib CEA2045Time.cpp).
CTA_EPOCH_UNIX = 946_684_800


#: EPRI-sim's outside-comm watchdog default: no 0x0E for this long ends an event (cta2045.md §14).
COMM_TIMEOUT_S = 300.0


class Event(enum.Enum):
    NONE = "none"
    SHED = "shed"
    CRITICAL_PEAK = "critical_peak"
    GRID_EMERGENCY = "grid_emergency"
    LOAD_UP = "load_up"
    ADVANCED_LOAD_UP = "advanced_load_up"
    POWER_LEVEL = "power_level"


_EVENT_OF_OPCODE = {
    SHED: Event.SHED,
    CRITICAL_PEAK: Event.CRITICAL_PEAK,
    GRID_EMERGENCY: Event.GRID_EMERGENCY,
    LOAD_UP: Event.LOAD_UP,
    POWER_LEVEL: Event.POWER_LEVEL,
}


@dataclass(frozen=True, slots=True)
class HeaterConfig:
    """The heater's fixed parameters."""

    set_point_f: int = 120
    min_set_point_f: int = 100
    max_set_point_f: int = 140
    deadband_c: float = 4.0
    #: Extra dead band while shedding (deplete further before reheating, cta2045.md §14 GONGHJ).
    shed_deadband_c: float = 10.0
    critical_peak_deadband_c: float = 16.0
    load_up_boost_c: float = 5.0
    comm_timeout_s: float = COMM_TIMEOUT_S
    vendor_id: int = 0x1234
    model: str = "VEN-EDGE-SIM-50"
    serial: str = "SIM0000000000001"


def duration_s(code: int) -> float | None:
    """Event duration byte → seconds: 2·n²; 0x00 unknown and 0xFF beyond range → None (§8.2)."""
    return None if code in (0x00, 0xFF) else 2.0 * code * code


def f_to_c(value: float) -> float:
    return (value - 32.0) * 5.0 / 9.0


def c_to_f(value: float) -> float:
    return value * 9.0 / 5.0 + 32.0


def basic(op1: int, op2: int = 0) -> Frame:
    return Frame(MessageType.BASIC_DR, bytes((op1, op2)))


def intermediate(op1: int, op2: int, data: bytes = b"") -> Frame:
    return Frame(MessageType.INTERMEDIATE_DR, bytes((op1, op2)) + data)


class _Rc(Protocol):
    """The Intermediate reply builder the handlers receive: response code, then data."""

    def __call__(self, code: int, body: bytes = b"") -> Frame: ...


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
        self.event = Event.NONE
        self.event_ends_at: float | None = None
        self.power_level = 127
        self.alu_extra_wh = 0
        self.override = False
        self.last_comm_at = now
        self._last_tick = now
        self.temperature_offset_f = 0
        self.utc_offset_s = 0.0  # set by Set UTC Time: CTA seconds = unix time + offset
        self.forced_app_nak: tuple[int, int] | None = None  # (reason, count), fault injection
        self.log: list[str] = []

    # --- state ------------------------------------------------------------------------------

    @property
    def state(self) -> ThermalState:
        return self.thermal.state

    @property
    def operational_state(self) -> int:
        """Operational-state code (cta2045.md §8.3) from the event and whether the tank heats."""
        heating = self.thermal.state.heating
        if self.override:
            return 12 if heating else 11
        if self.event in (Event.SHED, Event.CRITICAL_PEAK, Event.GRID_EMERGENCY):
            return 2 if heating else 4
        if self.event in (Event.LOAD_UP, Event.ADVANCED_LOAD_UP):
            return 3 if heating else 6
        if self.event is Event.POWER_LEVEL:
            return 2 if heating else 4
        return 1 if heating else 0

    @property
    def controls(self) -> ThermalControls:
        """The thermostat the tank sees under the present event (module docstring)."""
        c = self.config
        set_point = f_to_c(self.set_point_f + self.temperature_offset_f)
        event = Event.NONE if self.override else self.event
        if event is Event.SHED:
            return ThermalControls(set_point, c.shed_deadband_c, False, True)
        if event is Event.CRITICAL_PEAK:
            return ThermalControls(set_point, c.critical_peak_deadband_c, False, True)
        if event is Event.GRID_EMERGENCY:
            return ThermalControls(set_point, c.deadband_c, False, False)
        if event is Event.POWER_LEVEL:
            return ThermalControls(set_point, c.deadband_c, False, self.power_level > 0)
        if event is Event.LOAD_UP:
            return ThermalControls(set_point + c.load_up_boost_c, 1.0, True, True)
        if event is Event.ADVANCED_LOAD_UP:
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
        return basic(CUSTOMER_OVERRIDE, 1 if active else 0)

    def tick(self, now: float) -> None:
        """Advance the heater's own clock: tank physics, event expiry, outside-comm watchdog."""
        dt = now - self._last_tick
        if dt > 0:
            self.thermal.advance(dt, self.controls)
            self._last_tick = now
        if self.event_ends_at is not None and now >= self.event_ends_at:
            self._end_event("duration expired")
        if self.event is not Event.NONE and now - self.last_comm_at >= self.config.comm_timeout_s:
            self._end_event("outside communication lost")

    def next_deadline(self) -> float | None:
        """When :meth:`tick` changes the state by itself next (None: only physics)."""
        times = []
        if self.event_ends_at is not None:
            times.append(self.event_ends_at)
        if self.event is not Event.NONE:
            times.append(self.last_comm_at + self.config.comm_timeout_s)
        return min(times) if times else None

    # --- requests ---------------------------------------------------------------------------

    def handle(self, frame: Frame, now: float, unix_time: float = 0.0) -> Frame | None:
        """The application reply to ``frame`` (None: only the link ACK, already sent)."""
        self.tick(now)
        if not frame.payload:
            return None  # message-type query: the link ACK is the whole answer (§6)
        if frame.msg_type == MessageType.BASIC_DR:
            return self._basic(frame.payload[0], frame.payload[1], now)
        if frame.msg_type == MessageType.INTERMEDIATE_DR:
            return self._intermediate(frame.payload, now, unix_time)
        if frame.msg_type == MessageType.DATA_LINK:
            return self._data_link(frame.payload)
        return None

    def _forced_nak(self) -> int | None:
        if self.forced_app_nak is None:
            return None
        reason, count = self.forced_app_nak
        self.forced_app_nak = (reason, count - 1) if count > 1 else None
        return reason

    def _basic(self, op1: int, op2: int, now: float) -> Frame | None:
        if op1 in (APP_ACK, APP_NAK):
            return None  # replies to our own messages
        if op1 in (CUSTOMER_OVERRIDE, OP_STATE_RESPONSE):
            return basic(APP_ACK, op1)
        forced = self._forced_nak()
        if forced is not None:
            return basic(APP_NAK, forced)
        if op1 == OP_STATE_QUERY:
            return basic(OP_STATE_RESPONSE, self.operational_state)
        if op1 == OUTSIDE_COMM:
            if op2 == 0 and self.event is not Event.NONE:
                self._end_event("outside communication reported lost")
            self.last_comm_at = now
            return basic(APP_ACK, op1)
        if op1 == END_SHED:
            self._end_event("end shed")
            return basic(APP_ACK, op1)
        if op1 in _EVENT_OF_OPCODE:
            if self.override:
                return basic(APP_NAK, NAK_CUSTOMER_OVERRIDE)
            seconds = None if op1 == POWER_LEVEL else duration_s(op2)
            if op1 == POWER_LEVEL:
                self.power_level = op2 & 0x7F
            self._start_event(_EVENT_OF_OPCODE[op1], now, seconds)
            return basic(APP_ACK, op1)
        if op1 in _ACK_ONLY:
            return basic(APP_ACK, op1)
        return basic(APP_NAK, NAK_OPCODE_NOT_SUPPORTED)

    def _start_event(self, event: Event, now: float, seconds: float | None) -> None:
        self.event = event
        self.event_ends_at = None if seconds is None else now + seconds
        self.log.append(f"{event.value} for {seconds if seconds is not None else 'open'} s")

    def _end_event(self, why: str) -> None:
        if self.event is not Event.NONE:
            self.log.append(f"{self.event.value} ended: {why}")
        self.event = Event.NONE
        self.event_ends_at = None
        self.alu_extra_wh = 0

    def _intermediate(self, payload: bytes, now: float, unix_time: float) -> Frame | None:
        op1, op2, data = payload[0], payload[1], payload[2:]
        reply_op2 = op2 | 0x80
        forced = self._forced_nak()
        if forced is not None:
            return intermediate(op1, reply_op2, bytes((forced,)))

        def rc(code: int, body: bytes = b"") -> Frame:
            return intermediate(op1, reply_op2, bytes((code,)) + body)

        if (op1, op2) == (0x01, 0x01):
            return rc(RC_SUCCESS, self._device_info())
        if (op1, op2) == (0x02, 0x00):
            if not data:
                seconds = int(unix_time + self.utc_offset_s) - CTA_EPOCH_UNIX
                return rc(RC_SUCCESS, struct.pack(">Ibb", max(seconds, 0), 0, 0))
            if len(data) != 6:
                return rc(RC_LENGTH_ERROR)
            (cta_seconds,) = struct.unpack(">I", data[:4])
            self.utc_offset_s = cta_seconds + CTA_EPOCH_UNIX - unix_time
            return rc(RC_SUCCESS)
        if (op1, op2) == (0x03, 0x03):
            return self._set_point(data, rc)
        if (op1, op2) == (0x03, 0x04):
            temp_f = round(c_to_f(self.thermal.state.tank_temp_c))
            return rc(RC_SUCCESS, struct.pack(">HBh", DEVICE_TYPE_HPWH, UNITS_F, temp_f))
        if (op1, op2) == (0x03, 0x02):
            if not data:
                return rc(RC_SUCCESS, struct.pack(">bB", self.temperature_offset_f, UNITS_F))
            if len(data) != 2:
                return rc(RC_LENGTH_ERROR)
            offset, units = struct.unpack(">bB", data)
            self.temperature_offset_f = round(offset * 9 / 5) if units == UNITS_C else offset
            return rc(RC_SUCCESS)
        if (op1, op2) == (0x06, 0x00):
            return rc(RC_SUCCESS, self._commodities(data[:1]))
        if (op1, op2) == (0x0C, 0x00):
            return self._advanced_load_up(data, now, rc)
        return rc(RC_NOT_IMPLEMENTED)

    def _device_info(self) -> bytes:
        c = self.config
        head = b"B\x00" + struct.pack(">HHHIB", c.vendor_id, DEVICE_TYPE_HPWH, 1, CAPABILITIES, 0)
        model = c.model.encode("ascii")[:16].ljust(16, b"\x00")
        serial = c.serial.encode("ascii")[:16].ljust(16, b"\x00")
        firmware = bytes((26, 0, 1, 1, 0))  # 2026, January (0-based month, §13 row 6), 1.0
        return head + model + serial + firmware

    def _set_point(self, data: bytes, rc: _Rc) -> Frame:
        if not data:
            body = struct.pack(">HBhh", DEVICE_TYPE_HPWH, UNITS_F, self.set_point_f, -0x8000)
            return rc(RC_SUCCESS, body)
        if len(data) not in (5, 7):
            return rc(RC_LENGTH_ERROR)
        device_type, units, value = struct.unpack(">HBh", data[:5])
        # Rejected unless the device type is our own (Intwine REST doc §3.15, cta2045.md §15).
        if device_type != DEVICE_TYPE_HPWH or units not in (UNITS_F, UNITS_C):
            return rc(RC_BAD_VALUE)
        if value == SETPOINT_UNCHANGED:
            return rc(RC_SUCCESS)
        value_f = round(c_to_f(value)) if units == UNITS_C else value
        if not self.config.min_set_point_f <= value_f <= self.config.max_set_point_f:
            return rc(RC_BAD_VALUE)
        self.set_point_f = value_f
        self.log.append(f"set point {value_f} F")
        return rc(RC_SUCCESS)

    def _commodities(self, which: bytes) -> bytes:
        state = self.thermal.state
        # Bit 7 set = measured (cta2045.md §13 row 2); the instantaneous field of 6/7 is unused.
        records = {
            0: (round(state.power_w), round(state.energy_used_wh)),
            6: (0, round(state.capacity_wh)),
            7: (0, round(state.stored_wh)),
        }
        codes = [which[0] & 0x7F] if which else sorted(records)
        out = b""
        for code in codes:
            if code not in records:
                continue
            rate, total = records[code]
            out += bytes((code | 0x80,)) + rate.to_bytes(6, "big") + total.to_bytes(6, "big")
        return out

    def _advanced_load_up(self, data: bytes, now: float, rc: _Rc) -> Frame:
        if not data:
            minutes = 0
            if self.event is Event.ADVANCED_LOAD_UP and self.event_ends_at is not None:
                minutes = max(0, round((self.event_ends_at - now) / 60))
            return rc(RC_SUCCESS, struct.pack(">HHB", minutes, self.alu_extra_wh, 0))
        if len(data) < 5:
            return rc(RC_LENGTH_ERROR)
        if self.override:
            return rc(RC_CUSTOMER_OVERRIDE)
        minutes, value, units = struct.unpack(">HHB", data[:5])
        if units == 0xFF:
            self._end_event("advanced load up cancelled")
            return rc(RC_SUCCESS)
        if units not in _ALU_UNIT_WH:
            return rc(RC_BAD_VALUE)
        self._start_event(Event.ADVANCED_LOAD_UP, now, minutes * 60.0 if minutes else None)
        self.alu_extra_wh = value * _ALU_UNIT_WH[units]
        return rc(RC_SUCCESS)

    def _data_link(self, payload: bytes) -> Frame | None:
        if payload[0] == 0x18:  # max payload query → 0x19 response (§6)
            return Frame(MessageType.DATA_LINK, bytes((0x19, MAX_PAYLOAD_CODE)))
        return None
