"""CTA-2045 messages: a constructor for every command a UCM sends and the SGD-side replies.

This module is the public face of the message layer: with the constructors (``shed(duration_s=600)``
…) it offers the codec of :mod:`ven_edge.cta2045.codec` (:class:`Message`, :func:`decode`,
:func:`encode`, :func:`expected_reply`, :func:`is_reply_to`) under the same names.
"""

from __future__ import annotations

from datetime import datetime

from ven_edge.cta2045 import encodings as enc
from ven_edge.cta2045 import table
from ven_edge.cta2045.codec import (
    LINK_ACK,
    LINK_NAK,
    MTSQ,
    ExpectedReply,
    Message,
    build,
    decode,
    encode,
    expected_reply,
    is_reply_to,
    is_supported,
    parse_type,
    spec_named,
    to_data_frame,
    to_frame,
    type_hex,
)
from ven_edge.cta2045.encodings import (
    AppNakReason,
    CommodityCode,
    GridGuidance,
    OperationalState,
    OutsideCommStatus,
    RebootType,
    ResponseCode,
    TemperatureUnit,
)
from ven_edge.cta2045.errors import (
    MessageDecodeError,
    MessageEncodeError,
    PayloadLengthError,
    UnknownMessageError,
)
from ven_edge.cta2045.frames import (
    ChecksumError,
    Frame,
    LengthError,
    LinkAck,
    LinkNak,
    MessageType,
    NakReason,
)

__all__ = [
    "LINK_ACK",
    "LINK_NAK",
    "MTSQ",
    "AppNakReason",
    "ChecksumError",
    "CommodityCode",
    "ExpectedReply",
    "GridGuidance",
    "LengthError",
    "Message",
    "MessageDecodeError",
    "MessageEncodeError",
    "OperationalState",
    "OutsideCommStatus",
    "PayloadLengthError",
    "RebootType",
    "ResponseCode",
    "TemperatureUnit",
    "UnknownMessageError",
    "advanced_load_up",
    "advanced_load_up_reply",
    "app_ack",
    "app_nak",
    "build",
    "commodity_read_request",
    "commodity_read_response",
    "commodity_record",
    "critical_peak",
    "customer_override",
    "decode",
    "device_information_request",
    "device_information_response",
    "encode",
    "end_shed",
    "expected_reply",
    "get_advanced_load_up",
    "get_present_temperature",
    "get_set_point",
    "get_set_point_reply",
    "get_temperature_offset",
    "get_temperature_offset_reply",
    "get_utc_time",
    "get_utc_time_reply",
    "grid_emergency",
    "grid_guidance",
    "is_reply_to",
    "is_supported",
    "link_ack",
    "link_nak",
    "load_up",
    "max_payload_query",
    "max_payload_response",
    "message_type_supported_query",
    "next_relative_price",
    "operational_state_query",
    "operational_state_response",
    "outside_comm_status",
    "pending_event_time",
    "pending_event_type",
    "present_relative_price",
    "present_temperature_reply",
    "reboot",
    "request_bit_rate",
    "request_power_level",
    "request_power_mode",
    "response_code_reply",
    "set_set_point",
    "set_temperature_offset",
    "set_utc_time",
    "shed",
    "simple_time_sync",
    "simple_time_sync_at",
    "sleep",
    "start_cycling",
    "terminate_cycling",
    "time_remaining",
    "to_data_frame",
    "to_frame",
    "wake",
]

# --- Typed constructors (every command a UCM sends, and the SGD-side messages) ----------------


def message_type_supported_query(msg_type: int | str) -> Message:
    return Message(MTSQ, type_hex(parse_type(msg_type)), None, None, {})


def link_ack() -> Message:
    return decode(LinkAck())


def link_nak(reason: int | NakReason) -> Message:
    return decode(LinkNak(int(reason)))


def shed(duration_s: float | None = None) -> Message:
    """Shed for ``duration_s`` (rounded up to 2·n² s; ``None`` = until End Shed)."""
    return build("shed", duration_s=duration_s)


def end_shed() -> Message:
    """End Shed / Run Normal; opcode2 0x00 (§13 row 12)."""
    return build("end_shed", duration_code=0)


def load_up(duration_s: float | None = None) -> Message:
    return build("load_up", duration_s=duration_s)


def critical_peak(duration_s: float | None = None) -> Message:
    return build("critical_peak", duration_s=duration_s)


def grid_emergency(duration_s: float | None = None) -> Message:
    return build("grid_emergency", duration_s=duration_s)


def grid_guidance(guidance: GridGuidance | int) -> Message:
    return build("grid_guidance", guidance=int(guidance))


def request_power_level(percent: float, produce: bool = False) -> Message:
    """Request for Power Level: 0–100 % of rating, scaled to 0–127 rounding down (§8.2)."""
    return build("request_power_level", level_percent=percent, produce=produce)


def present_relative_price(ratio: float | None) -> Message:
    """Present relative price as a ratio to the normal price (1.0 = normal; None = unknown)."""
    return build("present_relative_price", price_ratio=ratio)


def next_relative_price(ratio: float | None) -> Message:
    return build("next_relative_price", price_ratio=ratio)


def time_remaining(duration_s: float | None) -> Message:
    """Time remaining in the present price period (duration encoding, rounded up)."""
    return build("time_remaining", duration_s=duration_s)


def outside_comm_status(good: bool | OutsideCommStatus) -> Message:
    """Outside-comm heartbeat: ``True`` = found/good, ``False`` = lost; or an explicit status."""
    if isinstance(good, OutsideCommStatus):
        status = good
    else:
        status = OutsideCommStatus.GOOD if good else OutsideCommStatus.NO_COMM
    return build("outside_comm_status", status=int(status))


def operational_state_query() -> Message:
    return build("operational_state_query")


def operational_state_response(state: OperationalState | int) -> Message:
    return build("operational_state_response", state=int(state))


def customer_override(in_effect: bool) -> Message:
    return build("customer_override", in_effect=in_effect)


def sleep() -> Message:
    return build("sleep")


def wake() -> Message:
    return build("wake")


def simple_time_sync(weekday: int, hour: int) -> Message:
    """Weekday 0 = Sunday and local hour including DST (§8.1)."""
    return build("simple_time_sync", weekday=weekday, hour=hour)


def simple_time_sync_at(local: datetime) -> Message:
    """Simple Time Sync for a local wall-clock time (``isoweekday() % 7`` makes Sunday 0)."""
    return simple_time_sync(local.isoweekday() % 7, local.hour)


def pending_event_time(duration_s: float | None) -> Message:
    return build("pending_event_time", duration_s=duration_s)


def pending_event_type(event_opcode: int) -> Message:
    """The opcode1 of the upcoming event (0x01, 0x02, 0x0A, 0x0B or 0x17)."""
    return build("pending_event_type", event_opcode=event_opcode)


def reboot(reboot_type: RebootType | int = RebootType.SOFT) -> Message:
    return build("reboot", reboot_type=int(reboot_type))


def app_ack(opcode: int) -> Message:
    """Application ACK of the message whose opcode1 is ``opcode``."""
    return build("app_ack", opcode=opcode)


def app_nak(reason: AppNakReason | int) -> Message:
    return build("app_nak", reason=int(reason))


def response_code_frame(opcode1: int, opcode2: int, code: int) -> Frame:
    """An Intermediate DR reply carrying only a response code (docs/cta2045.md §9.1).

    Same opcode1, ``opcode2 | 0x80``, then the code: three bytes whatever the request, so a
    failed Get is as short as a Set reply.
    """
    return Frame(MessageType.INTERMEDIATE_DR, bytes((opcode1, opcode2 | 0x80, code)))


def not_supported_reply(frame: Frame) -> Frame | None:
    """What either side answers to a frame it cannot handle (docs/cta2045.md §14).

    Basic DR: App NAK 0x01 (opcode1 not supported). An Intermediate DR request: the reply layout
    of §9.1 (same opcode1, opcode2 | 0x80) with response code 1, not implemented. Anything else
    (a reply, another message type): nothing beyond the link ACK.
    """
    p = frame.payload
    if frame.msg_type == MessageType.BASIC_DR:
        return to_data_frame(app_nak(AppNakReason.OPCODE1_NOT_SUPPORTED))
    if frame.msg_type == MessageType.INTERMEDIATE_DR and len(p) >= 2 and p[1] < 0x80:
        return response_code_frame(p[0], p[1], ResponseCode.NOT_IMPLEMENTED)
    return None


def max_payload_query() -> Message:
    return build("max_payload_query")


def max_payload_response(max_payload_bytes: int) -> Message:
    """Maximum payload response; ``max_payload_bytes`` must be one of the §6 sizes."""
    return build("max_payload_response", max_payload_bytes=max_payload_bytes)


def request_bit_rate(bit_rate_bps: int) -> Message:
    return build("request_bit_rate", bit_rate_bps=bit_rate_bps)


def request_power_mode(mode: int) -> Message:
    return build("request_power_mode", mode=mode)


def device_information_request() -> Message:
    return build("device_information_request")


def device_information_response(
    *,
    vendor_id: int,
    device_type: int,
    device_revision: int = 0,
    capabilities: int = 0,
    cta_version: str = "10",
    model_number: str | None = None,
    serial_number: str | None = None,
    firmware: tuple[int, int, int, int, int] | None = None,
    response_code: ResponseCode | int = ResponseCode.SUCCESS,
) -> Message:
    """Device Information reply; ``firmware`` = (year, month 1–12, day, major, minor).

    The model and serial blocks are 16 bytes each (not 15 as PyPI cta2045 reads them, §13 row 4).
    """
    values: dict[str, object] = {
        "response_code": int(response_code),
        "cta_version": cta_version,
        "vendor_id": vendor_id,
        "device_type": int(device_type),
        "device_revision": device_revision,
        "capabilities": int(capabilities),
    }
    if model_number is not None or serial_number is not None or firmware is not None:
        values["model_number"] = model_number or ""
    if serial_number is not None or firmware is not None:
        values["serial_number"] = serial_number or ""
    if firmware is not None:
        year, month, day, major, minor = firmware
        values.update(
            firmware_year=year,
            firmware_month=month,
            firmware_day=day,
            firmware_major=major,
            firmware_minor=minor,
        )
    return build("device_information_reply", **values)


def get_utc_time() -> Message:
    return build("get_utc_time")


def _utc_values(
    when: datetime, tz_offset_quarter_hours: int, dst_offset_quarter_hours: int
) -> dict[str, object]:
    try:
        seconds = enc.cta_seconds(when)
    except ValueError as exc:
        raise MessageEncodeError(str(exc)) from None
    return {
        "utc_s": seconds,
        "tz_offset_quarter_hours": tz_offset_quarter_hours,
        "dst_offset_quarter_hours": dst_offset_quarter_hours,
    }


def set_utc_time(
    when: datetime, tz_offset_quarter_hours: int = 0, dst_offset_quarter_hours: int = 0
) -> Message:
    """Set UTC Time: ``when`` (aware), the zone and DST offsets in quarter hours (§9.2)."""
    return build(
        "set_utc_time", **_utc_values(when, tz_offset_quarter_hours, dst_offset_quarter_hours)
    )


def get_utc_time_reply(
    when: datetime,
    tz_offset_quarter_hours: int = 0,
    dst_offset_quarter_hours: int = 0,
    response_code: ResponseCode | int = ResponseCode.SUCCESS,
) -> Message:
    values = _utc_values(when, tz_offset_quarter_hours, dst_offset_quarter_hours)
    return build("get_utc_time_reply", response_code=int(response_code), **values)


def commodity_read_request(code: CommodityCode | int | None = None) -> Message:
    """Get Commodity Read for one code, or for every supported code when ``None``."""
    if code is None:
        return build("get_commodity_read")
    return build("get_commodity_read", code=int(code))


def commodity_record(
    code: CommodityCode | int, instantaneous: int, cumulative: int, measured: bool = True
) -> dict[str, object]:
    """One record of a commodity reply (units follow the code, §9.3)."""
    return {
        "code": int(code),
        "measured": measured,
        "instantaneous": instantaneous,
        "cumulative": cumulative,
    }


def commodity_read_response(
    records: list[dict[str, object]], response_code: ResponseCode | int = ResponseCode.SUCCESS
) -> Message:
    return build("get_commodity_read_reply", response_code=int(response_code), records=records)


def get_set_point() -> Message:
    return build("get_set_point")


def set_set_point(
    device_type: int,
    set_point_1: int | None,
    set_point_2: int | None = None,
    units: TemperatureUnit | int = TemperatureUnit.FAHRENHEIT,
    *,
    with_set_point_2: bool = True,
) -> Message:
    """Set Set Point; ``None`` = don't change (0x8000). Nine bytes like EPRI-lib and Intwine.

    ``device_type`` must equal the SGD's own type or it answers "bad value" (§15).
    """
    values: dict[str, object] = {
        "device_type": int(device_type),
        "units": int(units),
        "set_point_1": set_point_1,
    }
    if with_set_point_2:
        values["set_point_2"] = set_point_2
    return build("set_set_point", **values)


def get_set_point_reply(
    device_type: int,
    set_point_1: int | None,
    set_point_2: int | None = None,
    units: TemperatureUnit | int = TemperatureUnit.FAHRENHEIT,
    response_code: ResponseCode | int = ResponseCode.SUCCESS,
) -> Message:
    return build(
        "get_set_point_reply",
        response_code=int(response_code),
        device_type=int(device_type),
        units=int(units),
        set_point_1=set_point_1,
        set_point_2=set_point_2,
    )


def get_present_temperature() -> Message:
    return build("get_present_temperature")


def present_temperature_reply(
    device_type: int,
    temperature: int,
    units: TemperatureUnit | int = TemperatureUnit.FAHRENHEIT,
    response_code: ResponseCode | int = ResponseCode.SUCCESS,
) -> Message:
    return build(
        "get_present_temperature_reply",
        response_code=int(response_code),
        device_type=int(device_type),
        units=int(units),
        temperature=temperature,
    )


def get_temperature_offset() -> Message:
    return build("get_temperature_offset")


def set_temperature_offset(
    offset: int, units: TemperatureUnit | int = TemperatureUnit.FAHRENHEIT
) -> Message:
    return build("set_temperature_offset", offset=offset, units=int(units))


def get_temperature_offset_reply(
    offset: int,
    units: TemperatureUnit | int = TemperatureUnit.FAHRENHEIT,
    response_code: ResponseCode | int = ResponseCode.SUCCESS,
) -> Message:
    return build(
        "get_temperature_offset_reply",
        response_code=int(response_code),
        offset=offset,
        units=int(units),
    )


def advanced_load_up(wh: float, duration_s: float) -> Message:
    """Advanced Load Up: store ``wh`` above normal within ``duration_s`` (§9.2, single-source).

    The duration is sent in whole minutes rounded up; the energy in the finest unit that holds
    it, the count rounded up.
    """
    if not duration_s > 0:
        raise MessageEncodeError(f"duration_s must be positive, got {duration_s!r}")
    minutes = -(-int(duration_s * 1000) // 60000)
    return build("advanced_load_up", duration_min=minutes, energy_wh=wh)


def get_advanced_load_up() -> Message:
    return build("get_advanced_load_up")


def advanced_load_up_reply(
    duration_min: int | None = None,
    energy_wh: float | None = None,
    response_code: ResponseCode | int = ResponseCode.SUCCESS,
) -> Message:
    """Advanced Load Up reply: the response code, and the active request when ``duration_min``
    is given (``energy_wh=None`` sends units 0xFF, "not active")."""
    if duration_min is None:
        return build("advanced_load_up_reply", response_code=int(response_code))
    return build(
        "advanced_load_up_reply",
        response_code=int(response_code),
        duration_min=duration_min,
        energy_wh=energy_wh,
    )


def start_cycling(
    event_id: int,
    duration_min: int,
    duty_cycle_reduction_percent: int,
    start_time: datetime | None = None,
    start_randomization_min: int = 0,
    end_randomization_min: int = 0,
    criticality: int = 0,
) -> Message:
    """Start Autonomous Cycling (16-byte form of EPRI-lib and Intwine); ``None`` start = now."""
    start = 0 if start_time is None else enc.cta_seconds(start_time)
    return build(
        "start_cycling",
        event_id=event_id,
        start_time_s=start,
        duration_min=duration_min,
        duty_cycle_reduction_percent=duty_cycle_reduction_percent,
        start_randomization_min=start_randomization_min,
        end_randomization_min=end_randomization_min,
        criticality=criticality,
    )


def terminate_cycling(event_id: int, end_randomization_min: int = 0) -> Message:
    return build(
        "terminate_cycling", event_id=event_id, end_randomization_min=end_randomization_min
    )


def response_code_reply(reply: str | Message, response_code: ResponseCode | int) -> Message:
    """The three-byte Intermediate reply holding only a response code.

    ``reply`` is a reply name (``"set_set_point_reply"``) or the request being answered; the
    bytes are :func:`response_code_frame`'s. A Get reply with an error code carries no data
    (§9.1), so it decodes as the reply of the same opcodes that holds only the code
    (``get_set_point_reply`` → ``set_set_point_reply``).
    """
    if isinstance(reply, Message):
        expected = expected_reply(reply)
        if expected is None or expected.msg_type != type_hex(table.INTERMEDIATE):
            raise MessageEncodeError(f"{reply.name} is not answered by an Intermediate reply")
        name = expected.names[0]
    else:
        name = reply
    spec = spec_named(name)
    if spec.msg_type != table.INTERMEDIATE or not spec.opcodes[1] & table.REPLY_BIT:
        raise MessageEncodeError(f"{name} is not an Intermediate reply")
    return decode(response_code_frame(spec.opcodes[0], spec.opcodes[1], int(response_code)))
