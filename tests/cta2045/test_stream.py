"""Sans-I/O stream parser: read() boundaries, garbage, resync and the 500 ms frame timeout."""

from __future__ import annotations

import itertools
import random
import sys
from pathlib import Path
from types import FrameType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ven_edge.cta2045 import messages as m
from ven_edge.cta2045 import stream
from ven_edge.cta2045.codec import to_frame
from ven_edge.cta2045.encodings import MAX_PAYLOAD_SIZES
from ven_edge.cta2045.frames import Frame, LinkAck, LinkNak, NakReason
from ven_edge.cta2045.stream import (
    FRAME_TIMEOUT,
    IDLE_GAP,
    BytesDiscarded,
    FrameReader,
    FrameRejected,
    ReaderEvent,
    frames_from_bytes,
)

SHED = bytes.fromhex("08 01 00 02 01 05 02 42")
APP_ACK = bytes.fromhex("08 01 00 02 03 01 04 42")
DEVICE_INFO_REQUEST = bytes.fromhex("08 02 00 02 01 01 04 43")


def _frames(events: list[ReaderEvent]) -> list[Frame | LinkAck | LinkNak]:
    return [e for e in events if isinstance(e, Frame | LinkAck | LinkNak)]


def _drain(reader: FrameReader, events: list[ReaderEvent], now: float) -> float:
    """Let the frame timeout expire until nothing is buffered; return the clock."""
    while reader.buffered:
        deadline = reader.deadline()
        assert deadline is not None
        now = max(now, deadline)
        events += reader.poll(now)
    return now


def test_ack_and_reply_in_one_read() -> None:
    # EPRI-lib's waitForAck failure mode (§11.2): the ACK and the reply arrive together.
    events = FrameReader().feed(b"\x06\x00" + APP_ACK, 0.0)
    assert events == [LinkAck(), Frame(0x0801, b"\x03\x01")]


def test_byte_by_byte() -> None:
    reader = FrameReader()
    events: list[ReaderEvent] = []
    for i, byte in enumerate(SHED + b"\x15\x03"):
        events += reader.feed(bytes((byte,)), i * 0.001)
    assert events == [Frame(0x0801, b"\x01\x05"), LinkNak(3)]
    assert reader.buffered == 0
    assert reader.deadline() is None


def test_bad_checksum_is_reported_once_then_resync() -> None:
    corrupt = bytearray(SHED)
    corrupt[5] ^= 0x10
    events = FrameReader().feed(bytes(corrupt) + APP_ACK, 0.0)
    rejected = [e for e in events if isinstance(e, FrameRejected)]
    assert len(rejected) == 1
    assert rejected[0].nak is NakReason.CHECKSUM_ERROR
    assert "expected check bytes" in rejected[0].detail
    assert _frames(events) == [Frame(0x0801, b"\x03\x01")]


def test_partial_frame_abandoned_after_timeout_with_nak_05() -> None:
    reader = FrameReader(idle_gap=None)  # the frame timeout alone
    assert reader.feed(SHED[:5], 10.0) == []
    assert reader.deadline() == 10.0 + FRAME_TIMEOUT
    assert reader.poll(10.0 + FRAME_TIMEOUT - 0.001) == []
    events = reader.poll(10.0 + FRAME_TIMEOUT)
    assert isinstance(events[0], FrameRejected)
    assert events[0].nak is NakReason.MESSAGE_TIMEOUT
    assert events[0].data == SHED[:5]
    assert reader.buffered == 0
    # The line is usable again.
    assert reader.feed(APP_ACK, 11.0) == [Frame(0x0801, b"\x03\x01")]


def test_garbage_before_a_frame_is_discarded() -> None:
    events = FrameReader().feed(b"\x00\x41\x42" + SHED, 0.0)
    assert events == [BytesDiscarded(b"\x00\x41\x42"), Frame(0x0801, b"\x01\x05")]


def test_header_swallowing_a_real_frame_is_recovered() -> None:
    # A stray "08 01 00 0A" claims 10 payload bytes covering the real frame; the checksum fails
    # and the hunt finds the frame inside.
    events = FrameReader().feed(b"\x08\x01\x00\x0a" + SHED + b"\x00" * 4, 0.0)
    assert Frame(0x0801, b"\x01\x05") in _frames(events)


def test_reset_forgets_the_partial_frame() -> None:
    reader = FrameReader()
    reader.feed(SHED[:3], 0.0)
    reader.reset()
    assert reader.buffered == 0
    assert reader.deadline() is None
    assert reader.feed(SHED, 0.1) == [Frame(0x0801, b"\x01\x05")]


def test_frames_from_bytes() -> None:
    assert frames_from_bytes(b"\x06\x00" + SHED) == [LinkAck(), Frame(0x0801, b"\x01\x05")]


# --- Properties -----------------------------------------------------------------------------

_messages = [
    m.shed(duration_s=600),
    m.end_shed(),
    m.app_ack(1),
    m.operational_state_response(4),
    m.outside_comm_status(True),
    m.message_type_supported_query(0x0802),
    m.max_payload_response(4096),
    m.device_information_request(),
    m.get_set_point_reply(3, 120, None),
    m.commodity_read_response([m.commodity_record(0, 4500, 123456), m.commodity_record(7, 0, 9)]),
]
data_frames = st.sampled_from([to_frame(msg) for msg in _messages]) | st.builds(
    Frame, st.sampled_from([0x0801, 0x0802, 0x0803]), st.binary(max_size=12)
)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=300)
@given(st.binary(max_size=400), st.lists(st.integers(0, 10_000), max_size=30))
def test_random_bytes_never_raise(data: bytes, cuts: list[int]) -> None:
    reader = FrameReader()
    events: list[ReaderEvent] = []
    now = 0.0
    for chunk in _split(data, cuts):
        now += 0.05
        events += reader.feed(chunk, now)
    _drain(reader, events, now)
    assert reader.buffered == 0
    # Every input byte is accounted for exactly once: in a frame, in a discard, or as the first
    # byte of a rejected frame (the rest of a rejected frame is rescanned).
    accounted = sum(
        len(e.serialize())
        if isinstance(e, Frame | LinkAck | LinkNak)
        else len(e.data)
        if isinstance(e, BytesDiscarded)
        else 1
        for e in events
    )
    assert accounted == len(data)


@settings(max_examples=300)
@given(
    st.lists(st.tuples(st.binary(max_size=20), data_frames), min_size=1, max_size=8),
    st.binary(max_size=20),
    st.lists(st.integers(0, 10_000), max_size=20),
)
def test_frames_interleaved_with_garbage_are_all_recovered(
    pieces: list[tuple[bytes, Frame]], tail: bytes, cuts: list[int]
) -> None:
    stream = b"".join(garbage + frame.serialize() for garbage, frame in pieces) + tail
    sent = [frame for _garbage, frame in pieces]
    # Chunked arbitrarily, all arriving within one frame timeout...
    reader = FrameReader()
    events: list[ReaderEvent] = []
    for chunk in _split(stream, cuts):
        events += reader.feed(chunk, 0.0)
    _drain(reader, events, 0.0)
    received = [e for e in events if isinstance(e, Frame)]
    # ...every frame sent comes out, in order (garbage may add frames of its own).
    it = iter(received)
    assert all(any(got == want for got in it) for want in sent), (sent, received)
    # The result does not depend on where the reads were cut.
    whole: list[ReaderEvent] = []
    single = FrameReader()
    whole += single.feed(stream, 0.0)
    _drain(single, whole, 0.0)
    assert [e for e in whole if isinstance(e, Frame)] == received


@given(
    st.lists(data_frames | st.sampled_from([LinkAck(), LinkNak(3), LinkNak(5)]), max_size=12),
    st.lists(st.integers(0, 10_000), max_size=20),
)
def test_clean_stream_any_boundaries(
    frames: list[Frame | LinkAck | LinkNak], cuts: list[int]
) -> None:
    stream = b"".join(f.serialize() for f in frames)
    reader = FrameReader()
    events: list[ReaderEvent] = []
    for chunk in _split(stream, cuts):
        events += reader.feed(chunk, 0.0)
    assert events == frames


# --- Idle-gap resynchronisation (docs/cta2045.md §5 tML, §13 row 8) ------------------------------


def test_partial_frame_then_idle_gap_is_abandoned_with_nak_05() -> None:
    reader = FrameReader()
    assert reader.feed(SHED[:5], 10.0) == []
    assert reader.deadline() == 10.0 + IDLE_GAP  # long before the 500 ms frame timeout
    assert reader.poll(10.0 + IDLE_GAP - 0.001) == []
    [rejected, *rest] = reader.poll(10.0 + IDLE_GAP)
    assert isinstance(rejected, FrameRejected)
    assert rejected.nak is NakReason.MESSAGE_TIMEOUT
    assert "line went idle" in rejected.detail
    assert rejected.data == SHED[:5]
    assert rest == [BytesDiscarded(SHED[1:5])]
    assert reader.buffered == 0
    assert reader.deadline() is None
    # The late rest of the abandoned frame is garbage; the next frame is found.
    events = reader.feed(SHED[5:] + APP_ACK, 10.1)
    assert _frames(events) == [Frame(0x0801, b"\x03\x01")]


def test_stray_byte_before_a_frame_costs_one_gap_and_no_nak() -> None:
    # 08 08 ... claims type 0808 and a 0x0100-byte payload that never comes.
    reader = FrameReader()
    assert reader.feed(b"\x08" + APP_ACK, 0.0) == []
    events = reader.poll(IDLE_GAP)
    assert events == [BytesDiscarded(b"\x08"), Frame(0x0801, b"\x03\x01")]


def test_link_ack_ending_a_burst_is_accepted() -> None:
    reader = FrameReader()
    assert reader.feed(b"\x09\x06\x00", 0.0) == []
    assert reader.poll(IDLE_GAP) == [BytesDiscarded(b"\x09"), LinkAck()]


def test_gap_after_a_checksum_error_ends_the_hunt_quietly() -> None:
    reader = FrameReader()
    corrupt = bytearray(b"\x08\x02\x00\x06" + bytes(8))
    events = reader.feed(bytes(corrupt[:10]) + b"\x08\x02\x00", 0.0)  # 08 02 00 06 + 6 of 8 bytes
    events += reader.feed(bytes(corrupt[10:]), 0.001)
    assert [type(e) for e in events].count(FrameRejected) == 1  # the checksum error
    events = reader.poll(0.001 + IDLE_GAP)
    assert all(isinstance(e, BytesDiscarded) for e in events)
    assert reader.buffered == 0


def test_without_idle_gap_only_the_frame_timeout_applies() -> None:
    reader = FrameReader(idle_gap=None)
    reader.feed(SHED[:5], 0.0)
    assert reader.poll(0.1) == []
    assert reader.deadline() == FRAME_TIMEOUT


def test_late_read_after_a_busy_loop_does_not_split_a_frame() -> None:
    # The rest of the frame is read 50 ms later (the event loop was busy) before the reader was
    # polled: the bytes were on the line together, so the frame stands.
    reader = FrameReader()
    reader.feed(SHED[:3], 0.0)
    assert reader.feed(SHED[3:], 0.05) == [Frame(0x0801, b"\x01\x05")]


def test_bytes_trickling_without_a_gap_still_hit_the_frame_timeout() -> None:
    reader = FrameReader()
    events = reader.feed(b"\x08\x02\x01\x00", 0.0)  # claims 256 bytes
    t = 0.0
    while not events:
        t += IDLE_GAP / 2
        assert reader.poll(t - 0.001) == []
        events = reader.feed(b"\x00", t)
    assert t == pytest.approx(FRAME_TIMEOUT, abs=IDLE_GAP)
    assert isinstance(events[0], FrameRejected)
    assert "500 ms" in events[0].detail


@settings(max_examples=200)
@given(
    st.lists(data_frames | st.sampled_from([LinkAck(), LinkNak(3)]), min_size=1, max_size=6),
    st.lists(st.integers(0, 10_000), max_size=20),
    st.lists(st.floats(0.0, 0.95), max_size=40),
)
def test_prompt_reads_with_polls_in_between_match_one_read(
    frames: list[Frame | LinkAck | LinkNak], cuts: list[int], delays: list[float]
) -> None:
    """Split across reads that come within the idle gap, with the caller polling in between."""
    stream = b"".join(f.serialize() for f in frames)
    reader = FrameReader()
    events: list[ReaderEvent] = []
    now = 100.0
    pauses = iter(delays)
    for chunk in _split(stream, cuts):
        events += reader.feed(chunk, now)
        step = next(pauses, 0.5) * IDLE_GAP
        events += reader.poll(now + step / 2)  # the loop looks at the line meanwhile
        now += step
    events += reader.poll(now + IDLE_GAP)
    assert events == frames
    assert reader.buffered == 0


@settings(max_examples=200)
@given(
    data_frames,
    st.integers(1, 40),
    st.binary(max_size=12),
    data_frames,
)
def test_partial_frame_then_gap_then_a_frame(
    cut: Frame, keep: int, noise: bytes, following: Frame
) -> None:
    """A frame cut short (or noise) followed by silence never delays the next frame."""
    partial = (noise + cut.serialize())[: len(noise) + min(keep, len(cut.serialize()) - 1)]
    reader = FrameReader()
    events = reader.feed(partial, 0.0)
    deadline = reader.deadline()
    if deadline is not None:
        assert deadline <= IDLE_GAP  # abandoned on the gap, not after 500 ms
        events += reader.poll(IDLE_GAP)
    assert reader.buffered == 0
    assert sum(isinstance(e, FrameRejected) and e.nak == 5 for e in events) <= 1
    after = reader.feed(following.serialize(), 1.0)
    assert _frames(after) == [following]


# --- over-long frames and bounded work per byte -------------------------------------------------

#: pycta2045's 51-byte Device Information reply (docs/cta2045.md §10): longer than the 2 bytes a
#: link takes before the maximum payload is negotiated (§6).
DEVICE_INFO_51 = bytes.fromhex(
    "08 02 00 33 01 81 00 00 42 00 00 00 02 00 00 00 00 00 00 00" + " 31" * 32 + " 1E 03 0C 73 8A"
)


def test_over_long_native_frame_is_rejected_with_nak_02_once_then_the_next_frame_found() -> None:
    reader = FrameReader(2, idle_gap=None)
    events = reader.feed(DEVICE_INFO_51 + APP_ACK, 0.0)
    rejected = [e for e in events if isinstance(e, FrameRejected)]
    assert [r.nak for r in rejected] == [NakReason.INVALID_LENGTH]  # "larger than the maximum"
    assert "51 bytes" in rejected[0].detail
    assert _frames(events) == [Frame(0x0801, bytes.fromhex("0301"))]
    assert reader.buffered == 0


def test_vendor_byte_before_a_frame_is_dropped_without_nak() -> None:
    # F0 08 01 00 reads as vendor type F008 claiming 256 bytes: garbage, not a frame to NAK.
    events = FrameReader(128, idle_gap=None).feed(b"\xf0" + APP_ACK, 0.0)
    assert not any(isinstance(e, FrameRejected) for e in events)
    assert _frames(events) == [Frame(0x0801, bytes.fromhex("0301"))]


class WorkBudgetExceeded(Exception):
    pass


def parser_lines_per_byte(max_payload: int, data: bytes, budget_per_byte: int) -> float:
    """Python lines the parser modules execute per byte fed (a count of work, not a time); stops
    as soon as the budget is spent."""
    package = str(Path(stream.__file__).parent)
    limit = budget_per_byte * len(data)
    count = 0

    def local(frame: FrameType, event: str, arg: object) -> object:
        nonlocal count
        count += 1
        if count > limit:
            raise WorkBudgetExceeded
        return local

    def calls(frame: FrameType, event: str, arg: object) -> object:
        return local if frame.f_code.co_filename.startswith(package) else None

    reader = FrameReader(max_payload)
    previous = sys.gettrace()
    sys.settrace(calls)
    try:
        for i in range(0, len(data), 16):  # at wire speed: no idle gap inside the stream
            reader.feed(data[i : i + 16], i * 10 / 19200)
    except WorkBudgetExceeded:
        pass
    finally:
        sys.settrace(previous)
    return count / len(data)


@pytest.mark.parametrize("max_payload", sorted(set(MAX_PAYLOAD_SIZES.values())))
def test_parser_work_per_byte_is_bounded_at_every_maximum_payload(max_payload: int) -> None:
    # Headers that claim just the maximum at every offset make a naive parser re-check about
    # max_payload bytes per byte; the F0 F0 0F 0F claims 3855/4080 bytes.
    n = 2 * max_payload + 256
    streams = {
        "random": random.Random(max_payload).randbytes(n),
        "f0f00f0f": bytes.fromhex("F0 F0 0F 0F") * (n // 4),
        "vendor claims": (b"\xf0\xf0" + max_payload.to_bytes(2, "big")) * (n // 4),
        "native claims": (b"\x08\x02" + max_payload.to_bytes(2, "big")) * (n // 4),
    }
    budget = 100  # about 25-45 lines per byte are spent whatever the stream
    for name, data in streams.items():
        assert parser_lines_per_byte(max_payload, data, budget) <= budget, name
