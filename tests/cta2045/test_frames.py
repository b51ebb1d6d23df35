"""Link-layer frames: checksum (docs/cta2045.md §3), ACK/NAK (§2, §4) and parse_frame."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ven_edge.cta2045.frames import (
    ChecksumError,
    Frame,
    IncompleteFrame,
    LengthError,
    LinkAck,
    LinkNak,
    checksum,
    parse_frame,
)


def _fletcher_sums(data: bytes) -> tuple[int, int]:
    """Intwine-style verification: run the sums over the whole frame (§3 step 5)."""
    c0, c1 = 0xAA, 0
    for byte in data:
        c0 = (c0 + byte) % 255
        c1 = (c1 + c0) % 255
    return c0, c1


def test_worked_example() -> None:
    # §3 worked example: Shed with unknown duration → check bytes 0C 3D.
    assert checksum(bytes.fromhex("08 01 00 02 01 00")) == b"\x0c\x3d"
    assert _fletcher_sums(bytes.fromhex("08 01 00 02 01 00 0C 3D")) == (0, 0)


def test_negative_control_fails() -> None:
    # EPRI-lib ChecksumUnitTest: 08 01 00 02 03 02 04 42 must fail; the correct tail is 02 43.
    with pytest.raises(ChecksumError) as info:
        parse_frame(bytes.fromhex("08 01 00 02 03 02 04 42"))
    assert info.value.expected == b"\x02\x43"
    assert info.value.received == b"\x04\x42"
    assert "expected check bytes 02 43, received 04 42" in str(info.value)


@given(st.binary(max_size=300))
def test_check_bytes_zero_the_running_sums(data: bytes) -> None:
    assert _fletcher_sums(data + checksum(data)) == (0, 0)


@given(st.binary(min_size=10, max_size=16))
def test_check_bytes_either_side_of_the_short_cut(data: bytes) -> None:
    assert _fletcher_sums(data + checksum(data)) == (0, 0)


@pytest.mark.parametrize("fill", [0x00, 0xFE, 0xFF])
def test_check_bytes_of_the_largest_frames(fill: int) -> None:
    data = bytes((0x08, 0x02, 0x10, 0x00)) + bytes((fill,)) * 4096  # header + 4096-byte payload
    assert _fletcher_sums(data + checksum(data)) == (0, 0)


@given(st.integers(0x0800, 0x09FF), st.binary(max_size=300), st.binary(max_size=10))
def test_frame_round_trip(msg_type: int, payload: bytes, tail: bytes) -> None:
    raw = Frame(msg_type, payload).serialize()
    assert raw[:4] == msg_type.to_bytes(2, "big") + len(payload).to_bytes(2, "big")
    frame, rest = parse_frame(raw + tail)
    assert frame == Frame(msg_type, payload)
    assert rest == tail


@given(st.integers(0x0800, 0x09FF), st.binary(min_size=1, max_size=40), st.data())
def test_any_single_byte_corruption_is_detected(
    msg_type: int, payload: bytes, data: st.DataObject
) -> None:
    raw = bytearray(Frame(msg_type, payload).serialize())
    index = data.draw(st.integers(4, len(raw) - 1))  # payload or check bytes
    raw[index] ^= data.draw(st.integers(1, 254))  # a change of 255 is invisible mod 255
    with pytest.raises(ChecksumError):
        parse_frame(bytes(raw))


def test_link_ack_and_nak() -> None:
    assert LinkAck().serialize() == b"\x06\x00"
    assert LinkNak(0x05).serialize() == b"\x15\x05"
    assert parse_frame(b"\x06\x00\x15\x03") == (LinkAck(), b"\x15\x03")
    nak, rest = parse_frame(b"\x15\x03")
    assert nak == LinkNak(3)
    assert rest == b""
    assert isinstance(nak, LinkNak)
    assert nak.reason_name == "CHECKSUM_ERROR"
    assert LinkNak(0x42).reason_name == "UNKNOWN_0x42"


def test_type_query_and_opcodes() -> None:
    query = Frame(0x0801)
    assert query.serialize() == bytes.fromhex("08 01 00 00 7E CD")
    assert query.is_type_query
    assert query.opcode1 is None
    assert query.opcode2 is None
    shed = Frame(0x0801, b"\x01\x05")
    assert (shed.opcode1, shed.opcode2, shed.is_type_query) == (1, 5, False)


@pytest.mark.parametrize(("data", "needed"), [(b"", 2), (b"\x08", 1), (b"\x08\x01\x00", 1)])
def test_incomplete_header(data: bytes, needed: int) -> None:
    with pytest.raises(IncompleteFrame) as info:
        parse_frame(data)
    assert info.value.needed == needed


def test_incomplete_body_and_impossible_length() -> None:
    with pytest.raises(IncompleteFrame) as info:
        parse_frame(bytes.fromhex("08 01 00 02 01"))
    assert info.value.needed == 3
    with pytest.raises(LengthError, match="exceeds the largest payload of 4096"):
        parse_frame(bytes.fromhex("08 02 10 01"))


def test_frame_validates_its_fields() -> None:
    with pytest.raises(ValueError, match="does not fit in two bytes"):
        Frame(0x10000)
    with pytest.raises(ValueError, match="does not fit the length field"):
        Frame(0x0802, bytes(0x10000))
