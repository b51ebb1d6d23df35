"""Message codec: constructors, precise errors, request/reply pairing and round-trip properties."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ven_edge.cta2045 import encodings as enc
from ven_edge.cta2045 import messages as m
from ven_edge.cta2045.codec import (
    ExpectedReply,
    build,
    decode,
    encode,
    expected_reply,
    is_reply_to,
    is_supported,
)
from ven_edge.cta2045.encodings import ResponseCode
from ven_edge.cta2045.errors import (
    FieldValueError,
    MessageDecodeError,
    MessageEncodeError,
    PayloadLengthError,
    UnknownMessageError,
)
from ven_edge.cta2045.frames import (
    ChecksumError,
    Frame,
    FrameError,
    LengthError,
    LinkAck,
    LinkNak,
    NakReason,
    checksum,
)
from ven_edge.cta2045.message import Message
from ven_edge.cta2045.table import BY_NAME, MESSAGES, MessageSpec


def frame(msg_type: int, payload: str) -> bytes:
    return Frame(msg_type, bytes.fromhex(payload)).serialize()


# --- Constructors: each produces the documented wire bytes ---------------------------------


@pytest.mark.parametrize(
    ("message", "wire"),
    [
        (m.shed(), "08 01 00 02 01 00 0C 3D"),
        (m.shed(duration_s=2), "08 01 00 02 01 01 0A 3E"),
        (m.shed(duration_s=50), "08 01 00 02 01 05 02 42"),
        (m.end_shed(), "08 01 00 02 02 00 09 3F"),
        (m.load_up(duration_s=1800), "08 01 00 02 17 1E 8D 87"),
        (m.critical_peak(duration_s=50), "08 01 00 02 0A 05 E6 54"),
        (m.grid_emergency(duration_s=50), "08 01 00 02 0B 05 E3 56"),
        (m.request_power_level(50), "08 01 00 02 06 3F 7E 86"),
        (m.present_relative_price(2.0), "08 01 00 02 07 65 2F AE"),
        (m.next_relative_price(4.0), "08 01 00 02 08 99 C3 E4"),
        (m.time_remaining(1800), "08 01 00 02 09 1E B7 6B"),
        (m.grid_guidance(enc.GridGuidance.NEUTRAL), "08 01 00 02 0C 01 E8 54"),
        (m.outside_comm_status(True), "08 01 00 02 0E 01 E2 58"),
        (m.outside_comm_status(False), "08 01 00 02 0E 00 E4 57"),
        (m.customer_override(True), "08 01 00 02 11 01 D9 5E"),
        (m.operational_state_query(), "08 01 00 02 12 00 D8 5F"),
        (
            m.operational_state_response(enc.OperationalState.RUNNING_CURTAILED),
            "08 01 00 02 13 02 D1 63",
        ),
        (m.sleep(), "08 01 00 02 14 00 D2 63"),
        (m.wake(), "08 01 00 02 15 00 CF 65"),
        (m.simple_time_sync(2, 14), "08 01 00 02 16 4E 30 B5"),
        (m.simple_time_sync_at(datetime(2026, 12, 1, 14, 5)), "08 01 00 02 16 4E 30 B5"),
        (m.pending_event_time(578), "08 01 00 02 18 11 A4 7C"),
        (m.pending_event_type(0x01), "08 01 00 02 19 01 C1 6E"),
        (m.reboot(), "08 01 00 02 1A 00 C0 6F"),
        (m.app_ack(0x01), "08 01 00 02 03 01 04 42"),
        (m.app_nak(enc.AppNakReason.CUSTOMER_OVERRIDE), "08 01 00 02 04 05 F8 48"),
        (m.message_type_supported_query(0x0801), "08 01 00 00 7E CD"),
        (m.message_type_supported_query("0803"), "08 03 00 00 76 D3"),
        (m.max_payload_query(), "08 03 00 02 18 00 BA 75"),
        (m.max_payload_response(4096), "08 03 00 02 19 0D 9D 84"),
        (m.request_bit_rate(19200), "08 03 00 02 17 00 BD 73"),
        (m.request_power_mode(0), "08 03 00 02 16 00 C0 71"),
        (m.device_information_request(), "08 02 00 02 01 01 04 43"),
        (m.get_utc_time(), "08 02 00 02 02 00 03 44"),
        (
            m.set_utc_time(datetime(2025, 2, 8, 18, 16, 32, tzinfo=UTC), -32, 4),
            "08 02 00 08 02 00 2F 3A 5C 00 E0 04 52 44",
        ),
        (
            m.get_utc_time_reply(datetime(2025, 2, 8, 18, 16, 32, tzinfo=UTC), -32, 4),
            "08 02 00 09 02 80 00 2F 3A 5C 00 E0 04 04 11",
        ),
        (m.commodity_read_request(), "08 02 00 02 06 00 F6 4C"),
        (
            m.commodity_read_request(enc.CommodityCode.ELECTRICITY_CONSUMED),
            "08 02 00 03 06 00 00 35 0D",
        ),
        (m.get_set_point(), "08 02 00 02 03 03 F9 49"),
        (m.set_set_point(3, 125, None), "08 02 00 09 03 03 00 03 00 00 7D 80 00 F6 44"),
        (m.get_set_point_reply(3, 120, None), "08 02 00 0A 03 83 00 00 03 00 00 78 80 00 36 88"),
        (m.response_code_reply("set_set_point_reply", 0), "08 02 00 03 03 83 00 B6 0B"),
        (m.get_present_temperature(), "08 02 00 02 03 04 F7 4A"),
        (m.present_temperature_reply(3, 118), "08 02 00 08 03 84 00 00 03 00 00 76 49 F8"),
        (m.get_temperature_offset(), "08 02 00 02 03 02 FB 48"),
        (m.set_temperature_offset(-5), "08 02 00 04 03 02 FB 00 84 C1"),
        (
            m.start_cycling(1, 60, 50),
            "08 02 00 10 04 00 00 00 00 01 00 00 00 00 00 3C 32 00 00 00 59 6E",
        ),
        (m.terminate_cycling(1), "08 02 00 07 04 01 00 00 00 01 00 20 1E"),
        (m.get_advanced_load_up(), "08 02 00 02 0C 00 E4 58"),
        (
            m.commodity_read_response([m.commodity_record(0, 0, 0, measured=False)]),
            "08 02 00 10 06 80 00 00 00 00 00 00 00 00 00 00 00 00 00 00 9F 15",
        ),
    ],
    ids=lambda value: value.name if isinstance(value, Message) else "",
)
def test_constructor_wire_bytes(message: Message, wire: str) -> None:
    assert encode(message) == bytes.fromhex(wire)


def test_device_information_response_matches_epri_vector() -> None:
    message = m.device_information_response(
        vendor_id=0x4455,
        device_type=0,
        device_revision=0x5566,
        capabilities=0x20212223,
        model_number="0" * 16,
        serial_number="0" * 16,
        firmware=(2001, 2, 1, 0, 0),  # month byte 0x01 is February: 0 = January (§13 row 6)
    )
    epri = bytes.fromhex(
        "08 02 00 35 01 81 00 31 30 44 55 00 00 55 66 20 21 22 23 00"
        + " 30" * 32
        + " 01 01 01 00 00 5B F1"
    )
    assert encode(message) == epri


def test_device_information_short_forms() -> None:
    base = m.device_information_response(vendor_id=1, device_type=3)
    assert len(encode(base)) == 6 + 16
    assert decode(encode(base)).fields["device_type_name"] == "WATER_HEATER_HEAT_PUMP"
    with_model = m.device_information_response(vendor_id=1, device_type=3, model_number="HPWH-50")
    assert len(encode(with_model)) == 6 + 32
    assert decode(encode(with_model)).fields["model_number"] == "HPWH-50" + "\x00" * 9


def test_advanced_load_up_constructor() -> None:
    message = m.advanced_load_up(wh=1500, duration_s=3600)
    assert message.fields["duration_min"] == 60
    assert message.fields["energy_wh"] == 1500
    assert (message.fields["value"], message.fields["unit_code"]) == (1500, 0)
    big = m.advanced_load_up(wh=100_000.5, duration_s=61)
    assert big.fields["duration_min"] == 2  # whole minutes, rounded up
    assert big.fields["unit_code"] == 1
    assert big.fields["value"] == 10_001


def test_durations_round_up_and_saturate() -> None:
    assert m.shed(duration_s=600).fields["duration_code"] == 0x12  # 648 s, never shorter
    assert m.shed(duration_s=578).fields["duration_code"] == 0x11
    assert m.shed(duration_s=0.1).fields["duration_code"] == 1
    assert m.shed(duration_s=10**6).fields["duration_code"] == 0xFF
    assert m.shed(duration_s=10**6).fields["duration_s"] is None
    with pytest.raises(MessageEncodeError, match="duration must be positive"):
        m.shed(duration_s=0)


@given(st.floats(min_value=0.001, max_value=2 * 254 * 254))
def test_duration_code_is_the_smallest_not_shorter(seconds: float) -> None:
    code = enc.duration_code(seconds)
    assert 1 <= code <= 254
    assert 2 * code * code >= seconds
    assert code == 1 or 2 * (code - 1) ** 2 < seconds


@given(st.floats(min_value=-1e9, allow_nan=False))
def test_both_duration_roundings_bracket_the_seconds(seconds: float) -> None:
    # Commands are cut to what the wire can say (down); renewals cover what is left (up).
    down, up = enc.within_duration_s(seconds), enc.covering_duration_s(seconds)
    assert 2 <= down <= up <= enc.MAX_DURATION_S
    assert enc.duration_seconds(enc.within_duration_code(seconds)) == down
    assert enc.duration_seconds(enc.covering_duration_code(seconds)) == up
    if 2 <= seconds <= enc.MAX_DURATION_S:
        assert down <= seconds <= up
        n = enc.within_duration_code(seconds)
        assert n == 254 or 2 * (n + 1) ** 2 > seconds  # the longest not longer
    if 0 < seconds <= enc.MAX_DURATION_S:
        assert enc.covering_duration_code(seconds) == enc.duration_code(seconds)


@given(st.floats(min_value=0, max_value=9.7))
def test_price_code_is_the_nearest(ratio: float) -> None:
    code = enc.price_code(ratio)
    best = min(range(1, 255), key=lambda n: abs((n - 1) * (n + 63) / 8192 - ratio))
    chosen = enc.price_ratio(code)
    assert chosen is not None
    assert abs(chosen - ratio) <= abs((best - 1) * (best + 63) / 8192 - ratio) + 1e-12


@given(st.integers(0, 100), st.booleans())
def test_power_level_rounds_down(percent: int, produce: bool) -> None:
    code = enc.power_level_code(percent, produce)
    assert bool(code & 0x80) == produce
    level = code & 0x7F
    assert level * 100 / 127 <= percent + 1e-9 < (level + 1) * 100 / 127


def test_encode_by_name_and_fields() -> None:
    assert encode("shed", duration_s=50) == bytes.fromhex("08 01 00 02 01 05 02 42")
    # The wire code wins over the derived value, so a decoded message re-encodes exactly.
    assert encode("shed", duration_code=5, duration_s=9999) == encode("shed", duration_s=50)
    assert encode("link_nak", reason=3) == b"\x15\x03"
    assert encode("link_ack") == b"\x06\x00"
    assert encode(m.link_nak(NakReason.MESSAGE_TIMEOUT)) == b"\x15\x05"


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: encode("no_such_message"), "unknown message name 'no_such_message'"),
        (lambda: encode("shed", duraton_s=5), "unknown field.*duraton_s.*known: duration_code"),
        (lambda: encode("app_ack"), "app_ack: missing field opcode"),
        (lambda: encode("app_ack", opcode=256), r"opcode=256 is outside 0\.\.255"),
        (lambda: encode("simple_time_sync", weekday=7, hour=1), r"weekday=7 is outside 0\.\.6"),
        (lambda: encode("customer_override", in_effect=2), "in_effect must be a bool"),
        (lambda: m.max_payload_response(100), "max_payload_bytes=100 is not one of"),
        (lambda: encode("message_type_supported_query"), "needs msg_type"),
        (lambda: encode(m.shed(), duration_s=4), "either in the Message or as keywords"),
        (
            lambda: encode("set_set_point", device_type=3, units=0, set_point_2=5),
            "missing field set_point_1",
        ),
        (
            lambda: encode(
                "device_information_reply",
                **{
                    "response_code": 0,
                    "cta_version": "10",
                    "vendor_id": 1,
                    "device_type": 3,
                    "device_revision": 0,
                    "capabilities": 0,
                    "serial_number": "x",
                },
            ),
            "optional fields serial_number need model_number",
        ),
        (lambda: m.set_utc_time(datetime(2025, 1, 1)), "timezone-aware"),
    ],
)
def test_encode_errors_are_precise(call: object, error: str) -> None:
    assert callable(call)
    with pytest.raises(MessageEncodeError, match=error):
        call()


# --- Decoding errors ------------------------------------------------------------------------


def test_checksum_error_names_expected_and_received() -> None:
    with pytest.raises(ChecksumError) as info:
        decode(bytes.fromhex("08 01 00 02 03 02 04 42"))  # EPRI negative control (§3)
    assert str(info.value) == "checksum error: expected check bytes 02 43, received 04 42"
    assert info.value.expected == b"\x02\x43"


@pytest.mark.parametrize(
    ("wire", "error"),
    [
        ("08 01 00 02 01 00 0C", "length field 0x0002 declares 2 payload byte.*got 7 bytes"),
        ("08 01 00 02 01 00 0C 3D 00", "got 9 bytes \\(1 extra\\)"),
        ("06 00 06 00", "a link ACK/NAK is 2 bytes; got 4 bytes"),
        ("08", "1 byte\\(s\\) is not a frame"),
    ],
)
def test_frame_length_mismatch(wire: str, error: str) -> None:
    with pytest.raises(LengthError, match=error):
        decode(bytes.fromhex(wire))


def test_payload_length_mismatch_lists_what_fits() -> None:
    with pytest.raises(PayloadLengthError) as info:
        decode(frame(0x0801, "01 00 00"))
    assert "shed (BASIC_DR (0801)) needs a payload of 2 byte(s), length field says 3" in str(
        info.value
    )
    assert info.value.nak is NakReason.INVALID_LENGTH
    with pytest.raises(PayloadLengthError, match=r"set_set_point_reply.* 8 or 10 or 3"):
        decode(frame(0x0802, "03 83 00 00 03 00"))
    with pytest.raises(PayloadLengthError, match=r"3 \+ 13·N"):
        decode(frame(0x0802, "06 80 00 01"))


@pytest.mark.parametrize(
    ("msg_type", "payload", "error", "nak"),
    [
        (0x0801, "05 00", "unknown opcode1 0x05 for BASIC_DR", NakReason.UNSUPPORTED_MESSAGE_TYPE),
        (0x0802, "05 00", "unknown opcodes 0x05 0x00", NakReason.REQUEST_NOT_SUPPORTED),
        (0x0803, "20 00", "unknown opcode1 0x20 for DATA_LINK", NakReason.REQUEST_NOT_SUPPORTED),
        (0x0901, "01 00", "unsupported message type 0901", NakReason.UNSUPPORTED_MESSAGE_TYPE),
        (0x0804, "01 00", "unsupported COMMISSIONING", NakReason.UNSUPPORTED_MESSAGE_TYPE),
    ],
)
def test_unknown_opcodes(msg_type: int, payload: str, error: str, nak: NakReason) -> None:
    with pytest.raises(UnknownMessageError, match=error) as info:
        decode(frame(msg_type, payload))
    assert info.value.nak is nak


def test_field_value_errors() -> None:
    with pytest.raises(FieldValueError, match="hour 31"):
        decode(frame(0x0801, "16 FF"))
    with pytest.raises(FieldValueError, match="in_effect must be 0 or 1, got 0x02"):
        decode(frame(0x0801, "11 02"))


def test_tolerant_decoding_where_harmless() -> None:
    # End Shed with a non-zero opcode2: accepted (§13 row 12); we send 0x00.
    assert decode(frame(0x0801, "02 11")).fields["duration_s"] == 578
    # Unknown operational state codes are reported, not fatal (§13 row 19).
    assert decode(frame(0x0801, "13 20")).fields["state_name"] == "UNKNOWN"
    # Commodity code bit 7 = measured (§13 row 2); the code itself is the low 7 bits.
    record = decode(frame(0x0802, "06 80 00 87" + " 00" * 12)).fields["records"]
    assert isinstance(record, list)
    assert record[0]["code"] == 7
    assert record[0]["measured"] is True
    # Start Cycling from EPRI-sim without trailing zero fields (§13 row 16).
    short = decode(frame(0x0802, "04 00 00 00 00 01 00 00 00 00 00 3C 32"))
    assert short.name == "start_cycling"
    assert "criticality" not in short.fields
    # Energy price in all three layouts (§13 row 1).
    assert decode(frame(0x0802, "03 00" + " 00" * 13)).name == "set_energy_price"
    assert decode(frame(0x0802, "03 00" + " 00" * 15)).name == "set_energy_price_u32"
    # EPRI-lib puts 0x80 in the Get UTC reply's response code (§13 row 15); we send 0 and
    # still read the time from its form.
    epri_utc = decode(frame(0x0802, "02 80 80 2F 3A 5C 00 E0 04"))
    assert epri_utc.fields["utc"] == "2025-02-08T18:16:32Z"
    assert epri_utc.fields["response_code_name"] == "UNKNOWN"
    assert m.get_utc_time_reply(datetime(2025, 1, 1, tzinfo=UTC)).fields["response_code"] == 0
    # Device information without the optional trailing blocks (§16 item 3: 16/32/48/51/53).
    base = "01 81 00 31 30 44 55 00 03 00 01 00 00 00 4F 00"
    for extra in (
        "",
        " 41" * 16,
        " 41" * 32,
        " 41" * 32 + " 1A 00 01",
        " 41" * 32 + " 1A 00 01 02 03",
    ):
        info = decode(frame(0x0802, base + extra))
        assert info.name == "device_information_reply"
        assert info.fields["capability_names"] == [
            "CYCLING",
            "TIER",
            "PRICE",
            "TEMPERATURE_OFFSET",
            "ADVANCED_LOAD_UP",
        ]
    with pytest.raises(PayloadLengthError, match="16 or 32 or 48 or 51 or 53"):
        decode(frame(0x0802, base + " 41"))
    # An error reply to a Get that has no Set sibling is just the response code.
    error_reply = decode(frame(0x0802, "03 84 01"))
    assert error_reply.name == "get_present_temperature_reply"
    assert error_reply.fields["response_code_name"] == "NOT_IMPLEMENTED"


def test_decode_link_frames_and_objects() -> None:
    assert decode(LinkAck()).name == "link_ack"
    nak = decode(LinkNak(0x06))
    assert nak.msg_type == "15"
    assert nak.fields["reason_name"] == "UNSUPPORTED_MESSAGE_TYPE"
    assert decode(Frame(0x0801, b"\x01\x05")) == m.shed(duration_s=50)


def test_message_is_immutable_and_json_ready() -> None:
    message = m.shed(duration_s=50)
    with pytest.raises(TypeError):
        message.fields["duration_code"] = 1  # type: ignore[index]
    assert message.to_json() == {
        "name": "shed",
        "msg_type": "0801",
        "opcode1": 1,
        "opcode2": 5,
        "fields": {"duration_code": 5, "duration_s": 50},
    }
    assert hash(message) == hash(m.shed(duration_s=50))


# --- Requests and replies -------------------------------------------------------------------


def test_basic_commands_expect_an_app_ack_of_their_opcode() -> None:
    request = m.shed(duration_s=50)
    expected = expected_reply(request)
    assert expected == ExpectedReply("0801", 0x03, 0x01, ("app_ack", "app_nak"))
    assert is_reply_to(m.app_ack(0x01), request)
    assert not is_reply_to(m.app_ack(0x02), request)
    assert is_reply_to(m.app_nak(enc.AppNakReason.CUSTOMER_OVERRIDE), request)
    assert not is_reply_to(m.operational_state_response(2), request)


def test_operational_state_query_expects_0x13() -> None:
    request = m.operational_state_query()
    assert is_reply_to(m.operational_state_response(4), request)
    assert not is_reply_to(m.app_ack(0x12), request)


def test_intermediate_replies_match_on_opcodes() -> None:
    request = m.get_set_point()
    expected = expected_reply(request)
    assert expected is not None
    assert (expected.msg_type, expected.opcode1, expected.opcode2) == ("0802", 0x03, 0x83)
    assert "get_set_point_reply" in expected.names
    assert is_reply_to(m.get_set_point_reply(3, 120), request)
    # A Get answered with an error code is three bytes and decodes like the Set reply.
    assert is_reply_to(m.response_code_reply("set_set_point_reply", 1), request)
    assert not is_reply_to(m.present_temperature_reply(3, 118), request)
    # pycta2045 answers unsupported Intermediate requests with a Basic App NAK (§12.4).
    assert is_reply_to(m.app_nak(1), request)
    assert is_reply_to(m.commodity_read_response([]), m.commodity_read_request())


def test_link_only_messages_expect_no_reply() -> None:
    for request in (
        m.message_type_supported_query(0x0801),
        m.request_bit_rate(19200),
        m.app_ack(1),
        m.app_nak(0),
        m.get_set_point_reply(3, 120),
        m.link_ack(),
    ):
        assert expected_reply(request) is None
        assert not is_reply_to(m.app_nak(0), request)
    assert expected_reply(m.max_payload_query()) == ExpectedReply(
        "0803", 0x19, None, ("max_payload_response", "app_nak")
    )
    assert is_reply_to(m.max_payload_response(128), m.max_payload_query())


def test_sgd_originated_messages_expect_app_ack() -> None:
    for request, opcode in (
        (m.customer_override(True), 0x11),
        (m.sleep(), 0x14),
        (m.wake(), 0x15),
        (m.operational_state_response(2), 0x13),  # unsolicited: App ACK (§13 row 11)
    ):
        assert is_reply_to(m.app_ack(opcode), request)


def test_is_supported() -> None:
    assert is_supported("0801")
    assert is_supported(0x0802)
    assert is_supported("0803")
    assert not is_supported("0804")
    assert not is_supported(0x0901)
    assert not is_supported("zz")


def test_every_request_names_an_existing_reply() -> None:
    for spec in MESSAGES:
        assert spec.reply is None or spec.reply == "app_ack" or spec.reply in BY_NAME


# --- Round-trip properties over the whole table ---------------------------------------------


def _data_lengths(spec: MessageSpec) -> list[int]:
    layout = spec.layout
    if layout.repeated is None:
        return list(layout.lengths())
    fixed = sum(f.size for f in layout.fixed)
    first = layout.repeated.min_count
    return [fixed + k * layout.repeated.size for k in range(first, first + 3)]


@st.composite
def wire_payloads(draw: st.DrawFn) -> tuple[MessageSpec, int, bytes]:
    spec = draw(st.sampled_from([s for s in MESSAGES if s.msg_type is not None]))
    length = draw(st.sampled_from(_data_lengths(spec)))
    assert spec.msg_type is not None
    return spec, spec.msg_type, spec.opcodes + draw(st.binary(min_size=length, max_size=length))


@given(wire_payloads())
def test_every_accepted_payload_reencodes_exactly(case: tuple[MessageSpec, int, bytes]) -> None:
    _spec, msg_type, payload = case
    raw = Frame(msg_type, payload).serialize()
    try:
        message = decode(raw)
    except FieldValueError:
        return  # a strict field (bool, time sync) refused a value it does not allow
    assert encode(message) == raw
    assert decode(encode(message.name, **message.fields)) == message


@given(st.binary(max_size=64))
def test_decode_raises_only_frame_errors(data: bytes) -> None:
    try:
        message = decode(data)
    except FrameError:
        return
    assert encode(message) == data


@given(st.integers(0x0800, 0x0803), st.binary(max_size=24))
def test_decode_any_checksum_valid_frame(msg_type: int, payload: bytes) -> None:
    raw = Frame(msg_type, payload).serialize()
    assert raw[-2:] == checksum(raw[:-2])
    try:
        message = decode(raw)
    except MessageDecodeError as exc:
        error: MessageDecodeError | None = exc
    else:
        error = None
        assert encode(message) == raw
    if error is not None:
        # A checksum-valid frame we cannot use says why and which link NAK to send.
        assert str(error)
        assert error.nak in NakReason


@given(
    st.sampled_from(["shed", "load_up", "critical_peak", "grid_emergency", "time_remaining"]),
    st.one_of(st.none(), st.integers(1, 200_000)),
)
def test_duration_commands_round_trip(name: str, seconds: int | None) -> None:
    message = build(name, duration_s=seconds)
    decoded = decode(encode(message))
    assert decoded == message
    actual = decoded.fields["duration_s"]
    if seconds is None or seconds > 2 * 254 * 254:
        assert actual is None
    else:
        assert isinstance(actual, int)
        assert actual >= seconds


@pytest.mark.parametrize(
    ("request_message", "reply_name"),
    [
        (m.set_set_point(3, 125), "set_set_point_reply"),
        (m.get_set_point(), "get_set_point_reply"),
        (m.set_utc_time(datetime(2026, 1, 1, tzinfo=UTC)), "set_utc_time_reply"),
        (m.get_temperature_offset(), "get_temperature_offset_reply"),
        (m.set_temperature_offset(2), "set_temperature_offset_reply"),
        (m.advanced_load_up(500, 3600), "advanced_load_up_reply"),
        (m.start_cycling(1, 60, 50), "start_cycling_reply"),
    ],
)
def test_expected_reply_names_the_tables_reply_first(
    request_message: Message, reply_name: str
) -> None:
    expected = expected_reply(request_message)
    assert expected is not None
    assert expected.names[0] == reply_name
    assert expected.names[-1] == "app_nak"


@pytest.mark.parametrize(
    "request_message",
    [
        m.get_set_point(),
        m.set_set_point(3, 125),
        m.get_utc_time(),
        m.get_present_temperature(),
        m.device_information_request(),
        m.commodity_read_request(),
        m.get_advanced_load_up(),
        m.advanced_load_up(500, 3600),
        m.terminate_cycling(1),
    ],
    ids=lambda msg: msg.name,
)
def test_error_reply_for_every_intermediate_request(request_message: Message) -> None:
    expected = expected_reply(request_message)
    assert expected is not None
    for source in (request_message, expected.names[0]):
        reply = m.response_code_reply(source, ResponseCode.NOT_IMPLEMENTED)
        wire = encode(reply)
        assert len(wire) == 4 + 3 + 2  # header, opcodes and the response code, check bytes
        assert reply.fields["response_code_name"] == "NOT_IMPLEMENTED"
        assert is_reply_to(decode(wire), request_message)


def test_response_code_reply_refuses_non_replies() -> None:
    with pytest.raises(MessageEncodeError, match="shed is not answered by an Intermediate"):
        m.response_code_reply(m.shed(), 1)
    with pytest.raises(MessageEncodeError, match="get_set_point is not an Intermediate reply"):
        m.response_code_reply("get_set_point", 1)


def test_sgd_side_reply_constructors() -> None:
    offset = m.get_temperature_offset_reply(-5)
    assert encode(offset) == bytes.fromhex("08 02 00 05 03 82 00 FB 00 3D 87")
    active = decode(encode(m.advanced_load_up_reply(45, 2500)))
    assert active.name == "advanced_load_up_reply"
    assert (active.fields["duration_min"], active.fields["energy_wh"]) == (45, 2500)
    idle = decode(encode(m.advanced_load_up_reply(0, None)))
    assert idle.fields["unit_code"] == 0xFF
    assert idle.fields["energy_wh"] is None
    assert len(encode(m.advanced_load_up_reply(response_code=1))) == 9


@pytest.mark.parametrize(
    "spec", [s for s in MESSAGES if s.msg_type is not None], ids=lambda s: s.name
)
def test_every_table_row_decodes_and_reencodes(spec: MessageSpec) -> None:
    assert spec.msg_type is not None
    for length in _data_lengths(spec):
        for fill in (0x00, 0x01):
            raw = Frame(spec.msg_type, spec.opcodes + bytes([fill]) * length).serialize()
            message = decode(raw)
            assert message.name == spec.name  # no two rows share opcodes and a length
            assert encode(message) == raw
            assert set(message.fields) <= set(BY_NAME[message.name].keys)
