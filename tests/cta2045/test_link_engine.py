"""The sans-I/O link engine driven by an explicit clock: every timer checked exactly."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ven_edge.cta2045.frames import Frame, LinkNak, MessageType
from ven_edge.cta2045.link import (
    APP_REPLY_TIMEOUT,
    LINK_ACK_TIMEOUT,
    RETRIES,
    RETRY_INTERVAL,
    T_AR,
    T_MA,
    UNNEGOTIATED_MAX_PAYLOAD,
    WRITE_LATENCY,
    Failure,
    FrameReceived,
    LinkBusy,
    LinkEngine,
    LinkError,
    LinkEvent,
    LinkTimers,
    RequestDone,
    Transmit,
)
from ven_edge.cta2045.stream import IDLE_GAP

#: tIM, the quiet time between messages, and one byte at 19200 baud 8N1 (docs/cta2045.md §1, §5).
T_IM = 0.100
BYTE_TIME = 10 / 19200
ACK = bytes.fromhex("0600")
SHED = Frame(MessageType.BASIC_DR, bytes((0x01, 0x00)))
APP_ACK_SHED = Frame(MessageType.BASIC_DR, bytes((0x03, 0x01)))
OVERRIDE = Frame(MessageType.BASIC_DR, bytes((0x11, 0x01)))
APP_ACK_OVERRIDE = Frame(MessageType.BASIC_DR, bytes((0x03, 0x11)))


def is_app_ack_of_shed(frame: Frame) -> bool:
    return frame.payload[:1] in (b"\x03", b"\x04")


def written(events: list[LinkEvent]) -> list[bytes]:
    return [e.data for e in events if isinstance(e, Transmit)]


def done(events: list[LinkEvent]) -> list[RequestDone]:
    return [e for e in events if isinstance(e, RequestDone)]


def test_spec_timer_constants() -> None:
    assert (T_MA, LINK_ACK_TIMEOUT, T_AR, APP_REPLY_TIMEOUT) == (0.040, 0.200, 0.100, 3.0)
    assert (RETRY_INTERVAL, RETRIES) == (0.5, 3)
    assert LinkTimers().frame_timeout == 0.5


def test_received_frame_is_acked_exactly_tma_later() -> None:
    engine = LinkEngine()
    events = engine.receive(OVERRIDE.serialize(), 10.0)
    assert [e for e in events if isinstance(e, FrameReceived)] == [FrameReceived(OVERRIDE)]
    assert written(events) == []
    assert engine.next_deadline() == pytest.approx(10.0 + T_MA)
    assert written(engine.poll(10.0 + T_MA - 1e-6)) == []
    assert written(engine.poll(10.0 + T_MA)) == [ACK]
    assert engine.next_deadline() is None


def test_app_reply_waits_tar_after_our_ack() -> None:
    engine = LinkEngine()
    engine.receive(OVERRIDE.serialize(), 0.0)
    assert written(engine.reply(APP_ACK_OVERRIDE, 0.001)) == []
    assert written(engine.poll(T_MA)) == [ACK]
    # tAR after our ACK, and tIM after the ACK's last byte surely left (two bytes at 19200 baud)
    sent = T_MA + WRITE_LATENCY + 2 * BYTE_TIME + T_IM
    assert T_IM >= T_AR
    assert written(engine.poll(sent - 1e-6)) == []
    assert written(engine.poll(sent)) == [APP_ACK_OVERRIDE.serialize()]
    # our reply waits for the peer's link ACK, and nothing more
    assert engine.poll(sent + 0.05) == []
    assert engine.receive(ACK, sent + 0.06) == []
    assert engine.next_deadline() is None


def test_request_ack_then_reply() -> None:
    engine = LinkEngine()
    request_id, events = engine.request(SHED, 0.0, matcher=is_app_ack_of_shed)
    assert written(events) == [SHED.serialize()]
    assert engine.busy
    engine.receive(ACK, 0.05)
    assert engine.next_deadline() == pytest.approx(0.05 + APP_REPLY_TIMEOUT)
    events = engine.receive(APP_ACK_SHED.serialize(), 0.2)
    [result] = done(events)
    assert result == RequestDone(request_id, reply=APP_ACK_SHED, attempts=1)
    assert not engine.busy
    assert written(engine.poll(0.2 + T_MA)) == [ACK]  # the reply itself is link-ACKed


def test_one_request_at_a_time() -> None:
    engine = LinkEngine()
    engine.request(SHED, 0.0, matcher=is_app_ack_of_shed)
    with pytest.raises(LinkBusy):
        engine.request(SHED, 0.0)


def test_no_ack_retries_three_times_500_ms_apart_then_fails() -> None:
    engine = LinkEngine()
    _, events = engine.request(SHED, 0.0, matcher=is_app_ack_of_shed)
    sends = [0.0] if written(events) else []
    t = 0.0
    results: list[RequestDone] = []
    while not results:
        deadline = engine.next_deadline()
        assert deadline is not None
        t = deadline
        events = engine.poll(t)
        if written(events):
            sends.append(t)
        results += done(events)
    assert sends == pytest.approx([0.0, 0.5, 1.0, 1.5])
    assert t == pytest.approx(1.5 + LINK_ACK_TIMEOUT)
    assert results[0].failure is Failure.NO_ACK
    assert results[0].attempts == RETRIES + 1
    assert engine.counters.retries == RETRIES


def test_checksum_nak_is_retried_and_a_later_ack_succeeds() -> None:
    engine = LinkEngine()
    engine.request(SHED, 0.0, matcher=is_app_ack_of_shed)
    assert engine.receive(LinkNak(0x03).serialize(), 0.05) == []
    assert engine.next_deadline() == pytest.approx(RETRY_INTERVAL)
    assert written(engine.poll(RETRY_INTERVAL)) == [SHED.serialize()]
    engine.receive(ACK, 0.55)
    [result] = done(engine.receive(APP_ACK_SHED.serialize(), 0.7))
    assert result.ok
    assert result.attempts == 2


@pytest.mark.parametrize("reason", [0x02, 0x06, 0x07])
def test_permanent_nak_ends_the_request(reason: int) -> None:
    engine = LinkEngine()
    engine.request(SHED, 0.0, matcher=is_app_ack_of_shed)
    [result] = done(engine.receive(LinkNak(reason).serialize(), 0.05))
    assert result.failure is Failure.LINK_NAK
    assert result.nak == reason
    assert not engine.busy


def test_reply_timeout_retries_idempotent_requests_only() -> None:
    engine = LinkEngine()
    engine.request(SHED, 0.0, matcher=is_app_ack_of_shed, idempotent=False)
    engine.receive(ACK, 0.05)
    [result] = done(engine.poll(0.05 + APP_REPLY_TIMEOUT))
    assert result.failure is Failure.REPLY_TIMEOUT
    assert result.attempts == 1

    engine.request(SHED, 10.0, matcher=is_app_ack_of_shed)
    engine.receive(ACK, 10.05)
    assert written(engine.poll(10.05 + APP_REPLY_TIMEOUT)) == [SHED.serialize()]


def test_reply_before_ack_counts_as_ack() -> None:
    engine = LinkEngine()
    engine.request(SHED, 0.0, matcher=is_app_ack_of_shed)
    [result] = done(engine.receive(APP_ACK_SHED.serialize(), 0.15))
    assert result.ok
    assert engine.next_deadline() == pytest.approx(0.15 + T_MA)  # only our ACK of the reply left
    engine.poll(0.15 + T_MA)
    assert engine.next_deadline() is None


def test_type_query_gets_only_a_link_ack() -> None:
    engine = LinkEngine()
    request_id, _ = engine.request(Frame(MessageType.INTERMEDIATE_DR), 0.0)
    [result] = done(engine.receive(ACK, 0.05))
    assert result == RequestDone(request_id, attempts=1)


def test_unsupported_type_bad_length_and_checksum_are_nakked() -> None:
    engine = LinkEngine(supported_types=frozenset({MessageType.BASIC_DR}))
    events = engine.receive(Frame(MessageType.INTERMEDIATE_DR, b"\x01\x01").serialize(), 0.0)
    assert [e.kind for e in events if isinstance(e, LinkError)] == ["unsupported_type"]
    assert written(engine.poll(T_MA)) == [bytes.fromhex("1506")]

    engine.receive(Frame(MessageType.BASIC_DR, b"\x01\x00\x00").serialize(), 1.0)
    assert written(engine.poll(1.0 + T_MA)) == [bytes.fromhex("1502")]

    bad = bytearray(SHED.serialize())
    bad[-1] ^= 0xFF
    events = engine.receive(bytes(bad), 2.0)
    # the rejected bytes are then rescanned and discarded as garbage
    assert [e.kind for e in events if isinstance(e, LinkError)] == ["checksum", "garbage"]
    assert written(engine.poll(2.0 + T_MA)) == [bytes.fromhex("1503")]
    assert engine.counters.checksum_errors == 1


def test_partial_frame_abandoned_after_500_ms_with_nak_05() -> None:
    engine = LinkEngine(LinkTimers(idle_gap=None))  # bytes trickling in: no idle gap
    engine.receive(SHED.serialize()[:5], 0.0)
    assert engine.next_deadline() == pytest.approx(0.5)
    assert engine.poll(0.499) == []
    events = engine.poll(0.5)
    assert next(e.kind for e in events if isinstance(e, LinkError)) == "frame_timeout"
    assert written(engine.poll(0.5 + T_MA)) == [bytes.fromhex("1505")]


def test_unsolicited_frame_handled_while_request_waits() -> None:
    engine = LinkEngine()
    engine.request(SHED, 0.0, matcher=is_app_ack_of_shed)
    engine.receive(ACK, 0.05)
    # the heater reports a customer override before answering
    events = engine.receive(OVERRIDE.serialize(), 0.1)
    assert FrameReceived(OVERRIDE) in events
    engine.reply(APP_ACK_OVERRIDE, 0.1)
    assert written(engine.poll(0.1 + T_MA)) == [ACK]
    sent = 0.1 + T_MA + WRITE_LATENCY + 2 * BYTE_TIME + T_IM
    assert written(engine.poll(sent)) == [APP_ACK_OVERRIDE.serialize()]
    engine.receive(ACK, 0.3)
    [result] = done(engine.receive(APP_ACK_SHED.serialize(), 0.4))
    assert result.ok
    assert engine.busy is False


def test_ack_and_reply_in_one_read_and_split_reads() -> None:
    engine = LinkEngine()
    engine.request(SHED, 0.0, matcher=is_app_ack_of_shed)
    data = ACK + APP_ACK_SHED.serialize()
    results: list[RequestDone] = []
    for i, byte in enumerate(data):
        results += done(engine.receive(bytes([byte]), 0.01 * i))
    assert len(results) == 1
    assert results[0].reply == APP_ACK_SHED
    assert written(engine.poll(0.5)) == [ACK]  # our ACK of the reply

    engine.request(SHED, 1.0, matcher=is_app_ack_of_shed)
    assert len(done(engine.receive(data, 1.1))) == 1


def test_close_fails_the_outstanding_request() -> None:
    engine = LinkEngine()
    engine.request(SHED, 0.0, matcher=is_app_ack_of_shed)
    [result] = done(engine.close())
    assert result.failure is Failure.CLOSED
    assert engine.next_deadline() is None


def test_garbage_is_counted_and_the_next_frame_still_found() -> None:
    engine = LinkEngine()
    events = engine.receive(b"\xaa\x55\x00" + OVERRIDE.serialize(), 0.0)
    assert FrameReceived(OVERRIDE) in events
    assert engine.counters.garbage_bytes == 3


@given(st.lists(st.tuples(st.binary(max_size=40), st.floats(0, 1)), max_size=30))
def test_random_bytes_never_raise_and_never_wedge(chunks: list[tuple[bytes, float]]) -> None:
    engine = LinkEngine()
    t = 0.0
    for data, dt in chunks:
        t += dt
        engine.receive(data, t)
    # Run the clock out: every timer must fire and leave the engine idle.
    for _ in range(100):
        deadline = engine.next_deadline()
        if deadline is None:
            break
        assert math.isfinite(deadline)
        t = max(t, deadline)
        engine.poll(t)
    assert engine.next_deadline() is None


@given(st.data())
def test_two_engines_over_any_chunking_complete_the_request(data: st.DataObject) -> None:
    """UCM and heater engines wired back to back; bytes delivered in arbitrary chunks."""
    ucm, sgd = LinkEngine(), LinkEngine()
    _, events = ucm.request(SHED, 0.0, matcher=is_app_ack_of_shed)
    wire = {id(ucm): bytearray(), id(sgd): bytearray()}  # bytes travelling TO each engine
    results: list[RequestDone] = []
    t = 0.0

    def route(source: LinkEngine, evs: list[LinkEvent]) -> None:
        target = sgd if source is ucm else ucm
        for e in evs:
            if isinstance(e, Transmit):
                wire[id(target)] += e.data
            elif isinstance(e, RequestDone):
                results.append(e)
            elif isinstance(e, FrameReceived) and source is sgd:
                route(sgd, sgd.reply(APP_ACK_SHED, t))

    route(ucm, events)
    for _ in range(200):
        if results:
            break
        for engine in (sgd, ucm):
            pending = wire[id(engine)]
            if pending:
                n = data.draw(st.integers(1, len(pending)))
                chunk = bytes(pending[:n])
                del pending[:n]
                route(engine, engine.receive(chunk, t))
        deadlines = [d for d in (ucm.next_deadline(), sgd.next_deadline()) if d is not None]
        if not any(wire.values()) and deadlines:
            t = min(deadlines)
        for engine in (ucm, sgd):
            route(engine, engine.poll(t))
    assert len(results) == 1
    assert results[0].reply == APP_ACK_SHED
    assert results[0].attempts == 1


# --- idle gap and the negotiated maximum payload ---------------------------------------------

DEVICE_INFO_REPLY = Frame(MessageType.INTERMEDIATE_DR, bytes((0x01, 0x81, 0x00)) + bytes(50))


def max_payload_response(code: int) -> Frame:
    return Frame(MessageType.DATA_LINK, bytes((0x19, code)))


def test_partial_frame_before_an_idle_gap_is_nakked_05_after_20_ms() -> None:
    engine = LinkEngine()
    engine.receive(SHED.serialize()[:5], 0.0)
    assert engine.next_deadline() == pytest.approx(IDLE_GAP)
    events = engine.poll(IDLE_GAP)
    assert next(e.kind for e in events if isinstance(e, LinkError)) == "frame_timeout"
    assert written(engine.poll(IDLE_GAP + T_MA)) == [bytes.fromhex("1505")]


def test_stray_byte_before_a_reply_is_acked_not_nakked() -> None:
    engine = LinkEngine()
    engine.max_payload = 4096  # 08 08 01 00 claims 256 bytes: only the gap ends the wait
    engine.request(SHED, 0.0, matcher=is_app_ack_of_shed)
    engine.receive(ACK, 0.05)
    assert done(engine.receive(b"\x08" + APP_ACK_SHED.serialize(), 0.2)) == []
    [result] = done(engine.poll(0.2 + IDLE_GAP))
    assert result.reply == APP_ACK_SHED
    assert written(engine.poll(0.2 + IDLE_GAP + T_MA)) == [ACK]  # and no NAK 0x05


def test_max_payload_is_two_bytes_until_negotiated() -> None:
    assert UNNEGOTIATED_MAX_PAYLOAD == 2
    engine = LinkEngine()
    assert engine.max_payload == UNNEGOTIATED_MAX_PAYLOAD
    engine.receive(max_payload_response(6).serialize(), 0.0)  # the peer takes 128 bytes
    assert engine.max_payload == 128
    engine.poll(T_MA)
    engine.send(max_payload_response(13), 1.0)  # we take 4096: the smaller one binds
    assert engine.max_payload == 128
    engine.receive(ACK, 1.05)
    engine.send(max_payload_response(5), 2.0)  # we take only 64 now
    assert engine.max_payload == 64
    engine.max_payload = 4096  # a peer that does not negotiate
    assert engine.max_payload == 4096


def test_an_unknown_size_code_changes_nothing() -> None:
    engine = LinkEngine()
    engine.receive(max_payload_response(6).serialize(), 0.0)
    engine.receive(max_payload_response(0x7F).serialize(), 1.0)
    assert engine.max_payload == 128


def test_vendor_type_garbage_is_rejected_at_once_after_negotiation() -> None:
    # 0xF0 (vendor type, §2) then the App ACK reads as type F008 with a 0x0100-byte payload: more
    # than the negotiated 128, so the parser drops the byte at once instead of waiting 500 ms.
    engine = LinkEngine(LinkTimers(idle_gap=None))
    engine.receive(max_payload_response(6).serialize(), 0.0)
    engine.poll(T_MA)
    engine.request(SHED, 1.0, matcher=is_app_ack_of_shed)
    engine.receive(ACK, 1.05)
    [result] = done(engine.receive(b"\xf0" + APP_ACK_SHED.serialize(), 1.2))
    assert result.reply == APP_ACK_SHED
    assert engine.counters.garbage_bytes == 1


def test_before_negotiation_a_long_frame_is_refused() -> None:
    engine = LinkEngine(LinkTimers(idle_gap=None))
    events = engine.receive(DEVICE_INFO_REPLY.serialize(), 0.0)
    assert not any(isinstance(e, FrameReceived) for e in events)
    assert written(engine.poll(T_MA)) == [LinkNak(0x02).serialize()]
    engine.max_payload = 128
    events = engine.receive(DEVICE_INFO_REPLY.serialize(), 1.0)
    assert FrameReceived(DEVICE_INFO_REPLY) in events


# --- half-duplex line rules (docs/cta2045.md §1, §5) ---------------------------------------

OP_STATE_QUERY = Frame(MessageType.BASIC_DR, bytes((0x12, 0x00)))
#: Our ACK's last byte has surely left (the write may reach the line WRITE_LATENCY late).
END_OF_ACK = T_MA + WRITE_LATENCY + 2 * BYTE_TIME


def test_our_ack_of_a_reply_goes_before_the_next_request_then_a_quiet_time() -> None:
    engine = LinkEngine()
    engine.request(SHED, 0.0, matcher=is_app_ack_of_shed)
    engine.receive(ACK, 0.05)
    [result] = done(engine.receive(APP_ACK_SHED.serialize(), 0.2))
    assert result.ok
    # the next request comes at once from the caller, but the reply's ACK is owed first
    _, events = engine.request(OP_STATE_QUERY, 0.2)
    assert written(events) == []
    assert written(engine.poll(0.2 + T_MA)) == [ACK]
    start = 0.2 + END_OF_ACK + T_IM
    assert engine.next_deadline() == pytest.approx(start)
    assert written(engine.poll(start - 1e-6)) == []
    assert written(engine.poll(start)) == [OP_STATE_QUERY.serialize()]


def test_a_frame_waits_a_quiet_time_after_the_peers_last_byte() -> None:
    engine = LinkEngine()
    engine.receive(ACK, 1.0)  # a stray ACK: no ACK of ours is owed, but the line was busy
    _, events = engine.request(OP_STATE_QUERY, 1.01)
    assert written(events) == []
    assert written(engine.poll(1.0 + T_IM)) == [OP_STATE_QUERY.serialize()]


def test_nothing_starts_while_the_peer_is_mid_frame() -> None:
    engine = LinkEngine()
    frame = OVERRIDE.serialize()
    engine.receive(frame[:3], 5.0)
    _, events = engine.request(OP_STATE_QUERY, 5.005)
    assert written(events) == []
    assert written(engine.poll(5.01)) == []
    engine.receive(frame[3:], 5.015)
    assert written(engine.poll(5.015 + T_MA)) == [ACK]
    assert written(engine.poll(5.015 + END_OF_ACK + T_IM)) == [OP_STATE_QUERY.serialize()]


def test_an_ack_due_while_the_peer_sends_its_next_frame_waits_for_its_end() -> None:
    engine = LinkEngine()
    engine.receive(OVERRIDE.serialize(), 0.0)
    engine.receive(APP_ACK_SHED.serialize()[:2], 0.03)  # the peer did not keep the quiet time
    assert written(engine.poll(T_MA)) == []
    assert engine.next_deadline() == pytest.approx(0.03 + IDLE_GAP)
    assert written(engine.receive(APP_ACK_SHED.serialize()[2:], 0.045)) == [ACK]
    assert written(engine.poll(0.045 + T_MA)) == [ACK]


def test_an_over_long_frame_is_nakked_02_and_the_next_frame_acked() -> None:
    engine = LinkEngine(LinkTimers(idle_gap=None))  # 2 bytes until negotiated (§6)
    events = engine.receive(DEVICE_INFO_REPLY.serialize() + OVERRIDE.serialize(), 0.0)
    assert [e for e in events if isinstance(e, FrameReceived)] == [FrameReceived(OVERRIDE)]
    assert [e.kind for e in events if isinstance(e, LinkError)][:1] == ["bad_length"]
    assert written(engine.poll(T_MA)) == [LinkNak(0x02).serialize(), ACK]
