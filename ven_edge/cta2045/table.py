"""The CTA-2045 message table: every message the codec knows, each defined once.

A row gives the message's name, message type, the opcode bytes that identify it, the layout of the
data after them, who sends it and what answers it. Decoding dispatches on (message type, opcodes,
length), because Intermediate Get and Set requests share opcodes and differ only in length
(docs/cta2045.md §9.1). Sections cited are those of ``docs/cta2045.md``.

Basic DR and data-link messages carry one opcode; their second payload byte is data (a duration,
a state code, a rate code), so it is a field here. Intermediate DR messages carry two opcodes; a
reply has ``opcode2 | 0x80`` and starts with a response-code byte.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ven_edge.cta2045 import encodings as enc
from ven_edge.cta2045 import fields as f
from ven_edge.cta2045.frames import MessageType

BASIC = int(MessageType.BASIC_DR)
INTERMEDIATE = int(MessageType.INTERMEDIATE_DR)
DATA_LINK = int(MessageType.DATA_LINK)

#: Message types this codec implements (answered with a link ACK to a type query, §6).
SUPPORTED_TYPES = frozenset({BASIC, INTERMEDIATE, DATA_LINK})

#: Reply bit of an Intermediate opcode2 (docs/cta2045.md §9.1).
REPLY_BIT = 0x80

UCM = "UCM->SGD"
SGD = "SGD->UCM"
BOTH = "both"

#: ``reply`` of a request answered by an Application ACK carrying its opcode1 (§8.1).
APP_ACK = "app_ack"


@dataclass(frozen=True)
class MessageSpec:
    """One row of the table."""

    name: str
    #: Message type, or ``None`` for the Message-Type-Supported query (any type, empty payload).
    msg_type: int | None
    #: Opcode bytes at the start of the payload (one for Basic/data-link, two for Intermediate).
    opcodes: bytes
    layout: f.Layout
    direction: str
    summary: str
    #: What answers it: ``"app_ack"``, the name of a reply message, or ``None`` (link ACK only).
    reply: str | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        return self.layout.keys

    def describe_lengths(self) -> str:
        """Accepted payload lengths (opcodes included), for error messages and listings."""
        return self.layout.describe_lengths(len(self.opcodes))


def _basic(
    op1: int,
    name: str,
    opcode2: f.Field,
    summary: str,
    direction: str = UCM,
    reply: str | None = APP_ACK,
) -> MessageSpec:
    return MessageSpec(name, BASIC, bytes((op1,)), f.Layout((opcode2,)), direction, summary, reply)


def _link(
    op1: int, name: str, opcode2: f.Field, summary: str, reply: str | None = None
) -> MessageSpec:
    layout = f.Layout((opcode2,))
    return MessageSpec(name, DATA_LINK, bytes((op1,)), layout, BOTH, summary, reply)


def _inter(
    op1: int,
    op2: int,
    name: str,
    layout: f.Layout,
    summary: str,
    reply: str | None = None,
    direction: str = UCM,
) -> MessageSpec:
    if op2 & REPLY_BIT:
        direction = SGD if direction == UCM else direction
    return MessageSpec(name, INTERMEDIATE, bytes((op1, op2)), layout, direction, summary, reply)


_EMPTY = f.Layout()
_RC = f.UInt("response_code", names=enc.ResponseCode)
_RC_ONLY = f.Layout((_RC,))
_TEMP_UNITS = f.TemperatureUnits()
_DEVICE_TYPE = f.UInt("device_type", 2, names=enc.DeviceType)


def _rc_then(*groups: tuple[f.Field, ...]) -> f.Layout:
    """A reply: the response code, then data blocks that an error reply may leave out (§9.1)."""
    return f.Layout((_RC,), tuple(f.OptionalGroup(g) for g in groups))


_COMMODITY_RECORD = (
    f.CommodityCodeByte(),
    f.UInt("instantaneous", 6),
    f.UInt("cumulative", 6),
)
_SUBSCRIPTION = (f.CommodityCodeByte(), f.UInt("update_period", 2))
_UTC = (
    f.CtaTime("utc"),
    f.UInt("tz_offset_quarter_hours", signed=True),
    f.UInt("dst_offset_quarter_hours", signed=True),
)
_ENERGY_PRICE_TAIL = (f.CtaTime("expiry"), f.UInt("next_price", 4))
_ALU_BLOCK = (
    f.UInt("efficiency"),
    f.UInt("event_id", 4),
    f.CtaTime("start_time", zero_means_now=True),
    f.UInt("start_randomization_min"),
    f.UInt("end_randomization_min"),
)
_SET_POINTS = (_DEVICE_TYPE, _TEMP_UNITS, f.SetPoint("set_point_1"))
_SET_POINT_2 = (f.SetPoint("set_point_2"),)

MESSAGES: tuple[MessageSpec, ...] = (
    # --- Data link (08 03) and the type query, docs/cta2045.md §6 ---
    MessageSpec(
        "message_type_supported_query",
        None,
        b"",
        _EMPTY,
        BOTH,
        "header with length 0; answered by link ACK (supported) or link NAK 0x06",
    ),
    _link(0x16, "request_power_mode", f.UInt("mode"), "request a different power mode 0-5"),
    _link(
        0x17,
        "request_bit_rate",
        f.MappedCode("rate_code", "bit_rate_bps", enc.BIT_RATES),
        "request a different bit rate; both sides switch after the link ACK",
    ),
    _link(
        0x18,
        "max_payload_query",
        f.Reserved(),
        "query maximum payload length",
        "max_payload_response",
    ),
    _link(
        0x19,
        "max_payload_response",
        f.MappedCode("size_code", "max_payload_bytes", enc.MAX_PAYLOAD_SIZES),
        "maximum payload length",
    ),
    _link(
        0x1A,
        "sgd_slot_query",
        f.Reserved(),
        "query SGD slot number (Intwine only)",
        "sgd_slot_response",
    ),
    _link(0x1B, "sgd_slot_response", f.UInt("slot"), "SGD slot number (Intwine only)"),
    _link(
        0x1C,
        "available_slots_query",
        f.Reserved(),
        "query available slot numbers (Intwine only)",
        "available_slots_response",
    ),
    _link(0x1D, "available_slots_response", f.UInt("slots"), "available slots (Intwine only)"),
    _link(0x1E, "send_next_command_to_slot", f.UInt("slot"), "send next command to slot"),
    # --- Basic DR (08 01), docs/cta2045.md §8 ---
    _basic(0x01, "shed", f.Duration(), "shed (load curtail) for a duration"),
    # §13 row 12: opcode2 is sent as 0x00; any value is accepted ("duration to next event").
    _basic(0x02, "end_shed", f.Duration(), "end shed / run normal; ends every event"),
    _basic(0x03, "app_ack", f.UInt("opcode"), "application ACK of opcode1 `opcode`", BOTH, None),
    _basic(
        0x04,
        "app_nak",
        f.UInt("reason", names=enc.AppNakReason),
        "application NAK",
        BOTH,
        None,
    ),
    _basic(0x06, "request_power_level", f.PowerLevel(), "request for power level"),
    _basic(0x07, "present_relative_price", f.RelativePrice(), "present relative price"),
    _basic(0x08, "next_relative_price", f.RelativePrice(), "next period relative price"),
    _basic(0x09, "time_remaining", f.Duration(), "time remaining in present price period"),
    _basic(0x0A, "critical_peak", f.Duration(), "critical peak event for a duration"),
    _basic(0x0B, "grid_emergency", f.Duration(), "grid emergency for a duration"),
    _basic(0x0C, "grid_guidance", f.UInt("guidance", names=enc.GridGuidance), "grid guidance"),
    _basic(
        0x0E,
        "outside_comm_status",
        f.UInt("status", names=enc.OutsideCommStatus),
        "outside communication connection status (heartbeat)",
    ),
    _basic(0x11, "customer_override", f.Flag("in_effect"), "customer override", SGD),
    _basic(
        0x12,
        "operational_state_query",
        f.Reserved(),
        "operational state query",
        reply="operational_state_response",
    ),
    # Unsolicited 0x13 from the SGD is App-ACKed (EPRI-sim, docs/cta2045.md §13 row 11); a solicited
    # one is the reply to 0x12 and is only link-ACKed.
    _basic(
        0x13,
        "operational_state_response",
        f.UInt("state", names=enc.OperationalState),
        "operational state (solicited or unsolicited)",
        SGD,
    ),
    _basic(0x14, "sleep", f.Reserved(), "SGD going idle", SGD),
    _basic(0x15, "wake", f.Reserved(), "SGD wake / refresh request", SGD),
    _basic(0x16, "simple_time_sync", f.TimeSync(), "weekday and local hour, hourly"),
    _basic(0x17, "load_up", f.Duration(), "load up for a duration"),
    _basic(0x18, "pending_event_time", f.Duration(), "time until the next event"),
    _basic(0x19, "pending_event_type", f.UInt("event_opcode"), "opcode1 of the upcoming event"),
    _basic(0x1A, "reboot", f.UInt("reboot_type", names=enc.RebootType), "reboot"),
    # --- Intermediate DR (08 02), docs/cta2045.md §9.2 ---
    _inter(
        0x01,
        0x01,
        "device_information_request",
        _EMPTY,
        "get device information",
        "device_information_reply",
    ),
    # Payload lengths 16/32/48/51/53 (§13 row 5, §16 item 3): pycta2045 leaves out the firmware
    # version bytes.
    _inter(
        0x01,
        0x81,
        "device_information_reply",
        _rc_then(
            (
                f.Ascii("cta_version", 2),
                f.UInt("vendor_id", 2),
                _DEVICE_TYPE,
                f.UInt("device_revision", 2),
                f.Capabilities(),
                f.Reserved(),
            ),
            (f.Ascii("model_number", 16),),
            (f.Ascii("serial_number", 16),),
            (f.FirmwareDate(),),
            (f.UInt("firmware_major"), f.UInt("firmware_minor")),
        ),
        "device information",
    ),
    # Either side may ask for the time (EPRI-lib's UCM answers the SGD's request).
    _inter(0x02, 0x00, "get_utc_time", _EMPTY, "get UTC time", "get_utc_time_reply", BOTH),
    _inter(0x02, 0x00, "set_utc_time", f.Layout(_UTC), "set UTC time", "set_utc_time_reply"),
    # Response code 0 on success (EPRI-sim); EPRI-lib's 0x80 is a bug (§13 row 15).
    _inter(0x02, 0x80, "get_utc_time_reply", f.Layout((_RC, *_UTC)), "UTC time", direction=BOTH),
    _inter(0x02, 0x80, "set_utc_time_reply", _RC_ONLY, "set UTC time result"),
    _inter(0x03, 0x00, "get_energy_price", _EMPTY, "get energy price", "get_energy_price_reply"),
    # §13 row 1: three layouts exist; all are accepted by length. u16 price: Intwine/radinet
    # (7 bytes) and EPRI-lib (15 bytes with expiry and next price); u32 price: EPRI-sim (17).
    _inter(
        0x03,
        0x00,
        "set_energy_price",
        f.Layout(
            (f.UInt("price", 2), f.UInt("currency", 2), f.UInt("decimals")),
            (f.OptionalGroup(_ENERGY_PRICE_TAIL),),
        ),
        "set energy price, 16-bit price (Intwine, EPRI-lib)",
        "set_energy_price_reply",
    ),
    _inter(
        0x03,
        0x00,
        "set_energy_price_u32",
        f.Layout(
            (f.UInt("price", 4), f.UInt("currency", 2), f.UInt("decimals"), *_ENERGY_PRICE_TAIL)
        ),
        "set energy price, 32-bit price (EPRI-sim)",
        "set_energy_price_reply",
    ),
    _inter(
        0x03,
        0x80,
        "get_energy_price_reply",
        f.Layout(
            (_RC, f.UInt("price", 2), f.UInt("currency", 2), f.UInt("decimals")),
            (f.OptionalGroup(_ENERGY_PRICE_TAIL),),
        ),
        "energy price, 16-bit price",
    ),
    _inter(
        0x03,
        0x80,
        "get_energy_price_reply_u32",
        f.Layout(
            (
                _RC,
                f.UInt("price", 4),
                f.UInt("currency", 2),
                f.UInt("decimals"),
                *_ENERGY_PRICE_TAIL,
            )
        ),
        "energy price, 32-bit price (EPRI-sim)",
    ),
    _inter(0x03, 0x80, "set_energy_price_reply", _RC_ONLY, "set energy price result"),
    _inter(0x03, 0x01, "get_tier", _EMPTY, "get tier (EPRI-sim only)", "get_tier_reply"),
    _inter(
        0x03,
        0x01,
        "set_tier",
        f.Layout((f.UInt("tier"), f.CtaTime("expiry"), f.UInt("next_tier"))),
        "set tier (EPRI-sim only)",
        "set_tier_reply",
    ),
    _inter(
        0x03,
        0x81,
        "get_tier_reply",
        f.Layout((_RC, f.UInt("tier"), f.CtaTime("expiry"), f.UInt("next_tier"))),
        "tier",
    ),
    _inter(0x03, 0x81, "set_tier_reply", _RC_ONLY, "set tier result"),
    _inter(
        0x03,
        0x02,
        "get_temperature_offset",
        _EMPTY,
        "get temperature offset",
        "get_temperature_offset_reply",
    ),
    _inter(
        0x03,
        0x02,
        "set_temperature_offset",
        f.Layout((f.UInt("offset", signed=True), _TEMP_UNITS)),
        "set temperature offset (whole degrees)",
        "set_temperature_offset_reply",
    ),
    _inter(
        0x03,
        0x82,
        "get_temperature_offset_reply",
        f.Layout((_RC, f.UInt("offset", signed=True), _TEMP_UNITS)),
        "temperature offset",
    ),
    _inter(0x03, 0x82, "set_temperature_offset_reply", _RC_ONLY, "set temperature offset result"),
    _inter(0x03, 0x03, "get_set_point", _EMPTY, "get set point(s)", "get_set_point_reply"),
    # Set point 1 = upper element, 2 = lower element; 0x8000 = don't change (§9.2).
    _inter(
        0x03,
        0x03,
        "set_set_point",
        f.Layout(_SET_POINTS, (f.OptionalGroup(_SET_POINT_2),)),
        "set set point(s); device type must equal the SGD's own",
        "set_set_point_reply",
    ),
    _inter(
        0x03,
        0x83,
        "get_set_point_reply",
        f.Layout((_RC, *_SET_POINTS), (f.OptionalGroup(_SET_POINT_2),)),
        "set point(s); 0x8000 = not supported",
    ),
    _inter(0x03, 0x83, "set_set_point_reply", _RC_ONLY, "set set point result"),
    _inter(
        0x03,
        0x04,
        "get_present_temperature",
        _EMPTY,
        "get present temperature",
        "get_present_temperature_reply",
    ),
    _inter(
        0x03,
        0x84,
        "get_present_temperature_reply",
        _rc_then((_DEVICE_TYPE, _TEMP_UNITS, f.UInt("temperature", 2, signed=True))),
        "present temperature",
    ),
    # Duration in minutes, duty cycle = % reduction (75 = off 3/4 of the time). EPRI-sim omits
    # trailing zero fields and adds a period byte: lengths 13-17 accepted (§13 row 16).
    _inter(
        0x04,
        0x00,
        "start_cycling",
        f.Layout(
            (
                f.UInt("event_id", 4),
                f.CtaTime("start_time", zero_means_now=True),
                f.UInt("duration_min", 2),
                f.UInt("duty_cycle_reduction_percent"),
            ),
            (
                f.OptionalGroup((f.UInt("start_randomization_min"),)),
                f.OptionalGroup((f.UInt("end_randomization_min"),)),
                f.OptionalGroup((f.UInt("criticality"),)),
                f.OptionalGroup((f.UInt("duty_cycle_period_min"),)),
            ),
        ),
        "start autonomous cycling",
        "start_cycling_reply",
    ),
    _inter(0x04, 0x80, "start_cycling_reply", _RC_ONLY, "start cycling result"),
    _inter(
        0x04,
        0x01,
        "terminate_cycling",
        f.Layout((f.UInt("event_id", 4),), (f.OptionalGroup((f.UInt("end_randomization_min"),)),)),
        "terminate autonomous cycling",
        "terminate_cycling_reply",
    ),
    _inter(0x04, 0x81, "terminate_cycling_reply", _RC_ONLY, "terminate cycling result"),
    _inter(
        0x06,
        0x00,
        "get_commodity_read",
        f.Layout((), (f.OptionalGroup((f.CommodityCodeByte(),)),)),
        "get commodity read (one code, or all when absent)",
        "get_commodity_read_reply",
    ),
    _inter(
        0x06,
        0x00,
        "set_commodity_read",
        f.Layout(repeated=f.Repeated("records", _COMMODITY_RECORD, 1, "CommodityRecord")),
        "push commodity values to the peer",
        "get_commodity_read_reply",
    ),
    # Codes 6 and 7 carry stored energy in the cumulative field (§13 row 17).
    _inter(
        0x06,
        0x80,
        "get_commodity_read_reply",
        f.Layout((_RC,), repeated=f.Repeated("records", _COMMODITY_RECORD, 0, "CommodityRecord")),
        "commodity records: code, instantaneous rate, cumulative amount",
    ),
    _inter(
        0x06,
        0x01,
        "get_commodity_subscription",
        _EMPTY,
        "get commodity subscription",
        "commodity_subscription_reply",
    ),
    _inter(
        0x06,
        0x01,
        "set_commodity_subscription",
        f.Layout(repeated=f.Repeated("subscriptions", _SUBSCRIPTION, 1, "CommoditySubscription")),
        "set commodity subscription (update period unit not stated in the sources)",
        "commodity_subscription_reply",
    ),
    _inter(
        0x06,
        0x81,
        "commodity_subscription_reply",
        f.Layout(
            (_RC,),
            repeated=f.Repeated("subscriptions", _SUBSCRIPTION, 0, "CommoditySubscription"),
        ),
        "commodity subscription",
    ),
    # Single-source (cta2045 0.1.0): Get and Set share 0C 00 and differ in length (§13 row 18).
    _inter(
        0x0C,
        0x00,
        "get_advanced_load_up",
        _EMPTY,
        "get advanced load up (as cta2045 0.1.0 encodes it)",
        "advanced_load_up_reply",
    ),
    _inter(
        0x0C,
        0x00,
        "advanced_load_up",
        f.Layout((f.UInt("duration_min", 2), f.AluAmount()), (f.OptionalGroup(_ALU_BLOCK),)),
        "advanced load up: store energy (Wh) above normal within a duration in minutes",
        "advanced_load_up_reply",
    ),
    _inter(
        0x0C,
        0x80,
        "advanced_load_up_reply",
        _rc_then((f.UInt("duration_min", 2), f.AluAmount()), _ALU_BLOCK),
        "advanced load up result",
    ),
)

BY_NAME: dict[str, MessageSpec] = {spec.name: spec for spec in MESSAGES}
if len(BY_NAME) != len(MESSAGES):  # pragma: no cover - guards the table itself
    raise RuntimeError("duplicate message names in the CTA-2045 table")


def _index() -> dict[tuple[int, bytes], tuple[MessageSpec, ...]]:
    index: dict[tuple[int, bytes], list[MessageSpec]] = {}
    for spec in MESSAGES:
        if spec.msg_type is not None:
            index.setdefault((spec.msg_type, spec.opcodes), []).append(spec)
    return {key: tuple(specs) for key, specs in index.items()}


#: (message type, opcode bytes) → candidate rows, in table order.
BY_OPCODES = _index()


def candidates(msg_type: int, payload: bytes) -> Iterator[MessageSpec]:
    """Rows whose message type and opcodes match the start of ``payload``."""
    yield from BY_OPCODES.get((msg_type, payload[:2]), ())
    yield from BY_OPCODES.get((msg_type, payload[:1]), ())
