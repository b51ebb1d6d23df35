"""A constructor for every CTA-2045 command a UCM sends and for the SGD-side replies.

Each returns the typed message of its table row (:mod:`ven_edge.cta2045.typed`), encoded once by
:func:`~ven_edge.cta2045.codec.build`: its frame goes on the wire as it is.
"""

from __future__ import annotations

from datetime import datetime

from ven_edge.cta2045 import encodings as enc
from ven_edge.cta2045 import table
from ven_edge.cta2045 import typed as t
from ven_edge.cta2045.codec import build, expected_reply, spec_named, to_data_frame
from ven_edge.cta2045.command_kind import CommandKind
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
from ven_edge.cta2045.errors import MessageEncodeError
from ven_edge.cta2045.frames import Frame, MessageType, NakReason
from ven_edge.cta2045.message import LINK_ACK, LINK_NAK, Message

# --- Typed constructors (every command a UCM sends, and the SGD-side messages) ----------------


def message_type_supported_query(msg_type: int | str) -> t.MessageTypeSupportedQuery:
    return build(t.MessageTypeSupportedQuery, msg_type=msg_type)


def link_ack() -> Message:
    return build(LINK_ACK)


def link_nak(reason: int | NakReason) -> Message:
    return build(LINK_NAK, reason=int(reason))


def shed(duration_s: float | None = None) -> t.Shed:
    """Shed for ``duration_s`` (rounded up to 2·n² s; ``None`` = until End Shed)."""
    return build(t.Shed, duration_s=duration_s)


def end_shed() -> t.EndShed:
    """End Shed / Run Normal; opcode2 0x00 (§13 row 12)."""
    return build(t.EndShed, duration_code=0)


def load_up(duration_s: float | None = None) -> t.LoadUp:
    return build(t.LoadUp, duration_s=duration_s)


def critical_peak(duration_s: float | None = None) -> t.CriticalPeak:
    return build(t.CriticalPeak, duration_s=duration_s)


def grid_emergency(duration_s: float | None = None) -> t.GridEmergency:
    return build(t.GridEmergency, duration_s=duration_s)


def basic_command(kind: CommandKind, duration_s: float | None = None) -> Message:
    """The Basic DR message of a command kind (:attr:`CommandKind.basic_message`); End Shed
    carries no duration (§13 row 12)."""
    if kind is CommandKind.NORMAL:
        return end_shed()
    return build(kind.basic_message, duration_s=duration_s)


def grid_guidance(guidance: GridGuidance | int) -> t.GridGuidance:
    return build(t.GridGuidance, guidance=int(guidance))


def request_power_level(percent: float, produce: bool = False) -> t.RequestPowerLevel:
    """Request for Power Level: 0–100 % of rating, scaled to 0–127 rounding down (§8.2)."""
    return build(t.RequestPowerLevel, level_percent=percent, produce=produce)


def present_relative_price(ratio: float | None) -> t.PresentRelativePrice:
    """Present relative price as a ratio to the normal price (1.0 = normal; None = unknown)."""
    return build(t.PresentRelativePrice, price_ratio=ratio)


def next_relative_price(ratio: float | None) -> t.NextRelativePrice:
    return build(t.NextRelativePrice, price_ratio=ratio)


def time_remaining(duration_s: float | None) -> t.TimeRemaining:
    """Time remaining in the present price period (duration encoding, rounded up)."""
    return build(t.TimeRemaining, duration_s=duration_s)


def outside_comm_status(good: bool | OutsideCommStatus) -> t.OutsideCommStatus:
    """Outside-comm heartbeat: ``True`` = found/good, ``False`` = lost; or an explicit status."""
    if isinstance(good, OutsideCommStatus):
        status = good
    else:
        status = OutsideCommStatus.GOOD if good else OutsideCommStatus.NO_COMM
    return build(t.OutsideCommStatus, status=int(status))


def operational_state_query() -> t.OperationalStateQuery:
    return build(t.OperationalStateQuery)


def operational_state_response(state: OperationalState | int) -> t.OperationalStateResponse:
    return build(t.OperationalStateResponse, state=int(state))


def customer_override(in_effect: bool) -> t.CustomerOverride:
    return build(t.CustomerOverride, in_effect=in_effect)


def sleep() -> t.Sleep:
    return build(t.Sleep)


def wake() -> t.Wake:
    return build(t.Wake)


def simple_time_sync(weekday: int, hour: int) -> t.SimpleTimeSync:
    """Weekday 0 = Sunday and local hour including DST (§8.1)."""
    return build(t.SimpleTimeSync, weekday=weekday, hour=hour)


def simple_time_sync_at(local: datetime) -> t.SimpleTimeSync:
    """Simple Time Sync for a local wall-clock time (``isoweekday() % 7`` makes Sunday 0)."""
    return simple_time_sync(local.isoweekday() % 7, local.hour)


def pending_event_time(duration_s: float | None) -> t.PendingEventTime:
    return build(t.PendingEventTime, duration_s=duration_s)


def pending_event_type(event_opcode: int) -> t.PendingEventType:
    """The opcode1 of the upcoming event (0x01, 0x02, 0x0A, 0x0B or 0x17)."""
    return build(t.PendingEventType, event_opcode=event_opcode)


def reboot(reboot_type: RebootType | int = RebootType.SOFT) -> t.Reboot:
    return build(t.Reboot, reboot_type=int(reboot_type))


def app_ack(opcode: int) -> t.AppAck:
    """Application ACK of the message whose opcode1 is ``opcode``."""
    return build(t.AppAck, opcode=opcode)


def app_nak(reason: AppNakReason | int) -> t.AppNak:
    return build(t.AppNak, reason=int(reason))


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


def max_payload_query() -> t.MaxPayloadQuery:
    return build(t.MaxPayloadQuery)


def max_payload_response(max_payload_bytes: int) -> t.MaxPayloadResponse:
    """Maximum payload response; ``max_payload_bytes`` must be one of the §6 sizes."""
    return build(t.MaxPayloadResponse, max_payload_bytes=max_payload_bytes)


def request_bit_rate(bit_rate_bps: int) -> t.RequestBitRate:
    return build(t.RequestBitRate, bit_rate_bps=bit_rate_bps)


def request_power_mode(mode: int) -> t.RequestPowerMode:
    return build(t.RequestPowerMode, mode=mode)


def device_information_request() -> t.DeviceInformationRequest:
    return build(t.DeviceInformationRequest)


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
) -> t.DeviceInformationReply:
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
    return build(t.DeviceInformationReply, **values)


def get_utc_time() -> t.GetUtcTime:
    return build(t.GetUtcTime)


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
) -> t.SetUtcTime:
    """Set UTC Time: ``when`` (aware), the zone and DST offsets in quarter hours (§9.2)."""
    return build(
        t.SetUtcTime, **_utc_values(when, tz_offset_quarter_hours, dst_offset_quarter_hours)
    )


def get_utc_time_reply(
    when: datetime,
    tz_offset_quarter_hours: int = 0,
    dst_offset_quarter_hours: int = 0,
    response_code: ResponseCode | int = ResponseCode.SUCCESS,
) -> t.GetUtcTimeReply:
    values = _utc_values(when, tz_offset_quarter_hours, dst_offset_quarter_hours)
    return build(t.GetUtcTimeReply, response_code=int(response_code), **values)


def commodity_read_request(code: CommodityCode | int | None = None) -> t.GetCommodityRead:
    """Get Commodity Read for one code, or for every supported code when ``None``."""
    if code is None:
        return build(t.GetCommodityRead)
    return build(t.GetCommodityRead, code=int(code))


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
) -> t.GetCommodityReadReply:
    return build(t.GetCommodityReadReply, response_code=int(response_code), records=records)


def get_set_point() -> t.GetSetPoint:
    return build(t.GetSetPoint)


def set_set_point(
    device_type: int,
    set_point_1: int | None,
    set_point_2: int | None = None,
    units: TemperatureUnit | int = TemperatureUnit.FAHRENHEIT,
    *,
    with_set_point_2: bool = True,
) -> t.SetSetPoint:
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
    return build(t.SetSetPoint, **values)


def get_set_point_reply(
    device_type: int,
    set_point_1: int | None,
    set_point_2: int | None = None,
    units: TemperatureUnit | int = TemperatureUnit.FAHRENHEIT,
    response_code: ResponseCode | int = ResponseCode.SUCCESS,
) -> t.GetSetPointReply:
    return build(
        t.GetSetPointReply,
        response_code=int(response_code),
        device_type=int(device_type),
        units=int(units),
        set_point_1=set_point_1,
        set_point_2=set_point_2,
    )


def get_present_temperature() -> t.GetPresentTemperature:
    return build(t.GetPresentTemperature)


def present_temperature_reply(
    device_type: int,
    temperature: int,
    units: TemperatureUnit | int = TemperatureUnit.FAHRENHEIT,
    response_code: ResponseCode | int = ResponseCode.SUCCESS,
) -> t.GetPresentTemperatureReply:
    return build(
        t.GetPresentTemperatureReply,
        response_code=int(response_code),
        device_type=int(device_type),
        units=int(units),
        temperature=temperature,
    )


def get_temperature_offset() -> t.GetTemperatureOffset:
    return build(t.GetTemperatureOffset)


def set_temperature_offset(
    offset: int, units: TemperatureUnit | int = TemperatureUnit.FAHRENHEIT
) -> t.SetTemperatureOffset:
    return build(t.SetTemperatureOffset, offset=offset, units=int(units))


def get_temperature_offset_reply(
    offset: int,
    units: TemperatureUnit | int = TemperatureUnit.FAHRENHEIT,
    response_code: ResponseCode | int = ResponseCode.SUCCESS,
) -> t.GetTemperatureOffsetReply:
    return build(
        t.GetTemperatureOffsetReply,
        response_code=int(response_code),
        offset=offset,
        units=int(units),
    )


def advanced_load_up(wh: float, duration_s: float) -> t.AdvancedLoadUp:
    """Advanced Load Up: store ``wh`` above normal within ``duration_s`` (§9.2, single-source).

    The duration is sent in whole minutes rounded up; the energy in the finest unit that holds
    it, the count rounded up.
    """
    if not duration_s > 0:
        raise MessageEncodeError(f"duration_s must be positive, got {duration_s!r}")
    minutes = -(-int(duration_s * 1000) // 60000)
    return build(t.AdvancedLoadUp, duration_min=minutes, energy_wh=wh)


def get_advanced_load_up() -> t.GetAdvancedLoadUp:
    return build(t.GetAdvancedLoadUp)


def advanced_load_up_reply(
    duration_min: int | None = None,
    energy_wh: float | None = None,
    response_code: ResponseCode | int = ResponseCode.SUCCESS,
) -> t.AdvancedLoadUpReply:
    """Advanced Load Up reply: the response code, and the active request when ``duration_min``
    is given (``energy_wh=None`` sends units 0xFF, "not active")."""
    if duration_min is None:
        return build(t.AdvancedLoadUpReply, response_code=int(response_code))
    return build(
        t.AdvancedLoadUpReply,
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
) -> t.StartCycling:
    """Start Autonomous Cycling (16-byte form of EPRI-lib and Intwine); ``None`` start = now."""
    start = 0 if start_time is None else enc.cta_seconds(start_time)
    return build(
        t.StartCycling,
        event_id=event_id,
        start_time_s=start,
        duration_min=duration_min,
        duty_cycle_reduction_percent=duty_cycle_reduction_percent,
        start_randomization_min=start_randomization_min,
        end_randomization_min=end_randomization_min,
        criticality=criticality,
    )


def terminate_cycling(event_id: int, end_randomization_min: int = 0) -> t.TerminateCycling:
    return build(t.TerminateCycling, event_id=event_id, end_randomization_min=end_randomization_min)


def response_code_reply(reply: str | Message, response_code: ResponseCode | int) -> Message:
    """The three-byte Intermediate reply holding only a response code.

    ``reply`` is a reply name (``"set_set_point_reply"``) or the request being answered; the
    bytes are :func:`response_code_frame`'s (the answer to opcodes the table does not know). A Get
    reply with an error code carries no data (§9.1), so it is the row of the same opcodes that
    holds only the code, as decoding names it (``get_set_point_reply`` →
    ``set_set_point_reply``).
    """
    if isinstance(reply, Message):
        expected = expected_reply(reply)
        if expected is None or expected.msg_type != f"{table.INTERMEDIATE:04X}":
            raise MessageEncodeError(f"{reply.name} is not answered by an Intermediate reply")
        name = expected.names[0]
    else:
        name = reply
    spec = spec_named(name)
    if spec.msg_type != table.INTERMEDIATE or not spec.opcodes[1] & table.REPLY_BIT:
        raise MessageEncodeError(f"{name} is not an Intermediate reply")
    short = next(
        row
        for row in table.BY_OPCODES[(table.INTERMEDIATE, spec.opcodes)]
        if row.layout.fits(1)  # every reply row has one (the Set reply, or an error-only form)
    )
    return build(short.name, response_code=int(response_code))
