"""The simulated half-duplex line: byte timing, collisions and their damage, on virtual time."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hil import virtual_time
from hil.bus import BusPort, HalfDuplexBus, byte_time, overlaps
from ven_edge.cta2045.driver import LinkDriver
from ven_edge.cta2045.frames import Frame, MessageType
from ven_edge.cta2045.link import WRITE_LATENCY, LinkTimers
from ven_edge.cta2045.transport import PortError

T = byte_time(19200)
SHED = bytes.fromhex("0801000201000c3d")


class Recorder(asyncio.Protocol):
    def __init__(self) -> None:
        self.chunks: list[tuple[float, bytes]] = []
        self.lost = False

    def data_received(self, data: bytes) -> None:
        self.chunks.append((asyncio.get_running_loop().time(), data))

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True

    @property
    def data(self) -> bytes:
        return b"".join(d for _, d in self.chunks)


def two_ends(bus: HalfDuplexBus) -> tuple[BusPort, Recorder, BusPort, Recorder]:
    ra, rb = Recorder(), Recorder()
    return bus.attach("a", ra), ra, bus.attach("b", rb), rb


async def at(when: float) -> None:
    await asyncio.sleep(when - asyncio.get_running_loop().time())


def test_byte_time_is_ten_bits_at_19200() -> None:
    assert pytest.approx(0.000520833, rel=1e-5) == T
    assert byte_time(38400) == pytest.approx(T / 2)


def test_a_frame_arrives_when_its_last_byte_has_left_the_line() -> None:
    async def main() -> None:
        bus = HalfDuplexBus()
        a, ra, _b, rb = two_ends(bus)
        await at(1.0)
        a.write(SHED)
        await at(2.0)
        assert rb.chunks == [(pytest.approx(1.0 + 8 * T), SHED)]
        assert ra.chunks == []  # an end does not hear itself
        (tx,) = bus.log["a"]
        assert tx.start == 1.0
        assert tx.end == pytest.approx(1.0 + 8 * T)
        assert [s for s, _, _ in tx.byte_slots()] == pytest.approx([1.0 + i * T for i in range(8)])
        assert bus.collisions == 0
        assert bus.log["b"] == []

    virtual_time.run(main())


def test_writes_from_one_end_queue_back_to_back() -> None:
    async def main() -> None:
        bus = HalfDuplexBus()
        a, _ra, _b, rb = two_ends(bus)
        a.write(b"\x06\x00")
        a.write(SHED)  # still sending the ACK: queued behind it, as in a UART FIFO
        assert a.get_write_buffer_size() == 10
        await at(1.0)
        assert rb.chunks == [
            (pytest.approx(2 * T), b"\x06\x00"),
            (pytest.approx(10 * T), SHED),
        ]
        assert bus.log["a"][1].start == pytest.approx(2 * T)
        assert bus.collisions == 0

    virtual_time.run(main())


def test_overlapping_writes_garble_both_frames_for_both_receivers() -> None:
    async def main() -> None:
        bus = HalfDuplexBus()
        a, ra, b, rb = two_ends(bus)
        a.write(SHED)
        await at(3.5 * T)  # b answers in the middle of byte 3 of a's frame
        b.write(b"\x06\x00")
        await at(1.0)
        assert bus.collisions == 1
        heard_by_b = rb.data
        assert len(heard_by_b) == 8
        # b's two bytes cover 3.5T..5.5T: a's bytes 3, 4 and 5 are hit, the others are intact.
        damaged = [i for i in range(8) if heard_by_b[i] != SHED[i]]
        assert damaged == [3, 4, 5]
        heard_by_a = ra.data
        assert len(heard_by_a) == 2
        assert heard_by_a[0] != 0x06
        assert heard_by_a[1] != 0x00
        assert bus.log["a"][0].collided
        assert bus.log["b"][0].collided
        assert bus.garbled_bytes == 5

    virtual_time.run(main())


def test_a_write_starting_exactly_when_the_other_ends_does_not_collide() -> None:
    async def main() -> None:
        bus = HalfDuplexBus()
        a, ra, b, rb = two_ends(bus)
        a.write(SHED)
        await at(8 * T)
        b.write(b"\x06\x00")
        await at(1.0)
        assert bus.collisions == 0
        assert rb.data == SHED
        assert ra.data == b"\x06\x00"

    virtual_time.run(main())


def test_an_end_at_another_baud_rate_hears_noise() -> None:
    async def main() -> None:
        bus = HalfDuplexBus()
        ra, rb = Recorder(), Recorder()
        a = bus.attach("a", ra)
        bus.attach("b", rb, baudrate=38400)
        a.write(SHED)
        await at(1.0)
        assert rb.data != SHED
        assert len(rb.data) == 16

    virtual_time.run(main())


def test_closing_detaches_and_reports_connection_lost() -> None:
    async def main() -> None:
        bus = HalfDuplexBus()
        a, _ra, b, rb = two_ends(bus)
        with pytest.raises(PortError):
            bus.attach("b", Recorder())
        bus.disconnect("b")
        await asyncio.sleep(0)
        assert rb.lost
        assert b.is_closing()
        assert bus.port("b") is None
        a.write(SHED)
        b.write(SHED)  # ignored after close
        await at(1.0)
        assert rb.data == b""
        assert bus.log["b"] == []
        bus.attach("b", Recorder())  # the name is free again

    virtual_time.run(main())


@given(
    st.lists(
        st.tuples(st.sampled_from("ab"), st.integers(0, 400), st.binary(min_size=1, max_size=12)),
        min_size=1,
        max_size=12,
    )
)
def test_damage_is_exactly_the_overlapped_bytes(writes: list[tuple[str, int, bytes]]) -> None:
    """Any schedule: a byte is heard intact iff no byte of the other end overlapped it."""

    async def main() -> None:
        bus = HalfDuplexBus()
        ports = dict(zip("ab", two_ends(bus)[::2], strict=True))
        for sender, tick, data in sorted(writes, key=lambda w: w[1]):
            await at(tick * T / 4)
            ports[sender].write(data)
        await at(10.0)
        expected_collisions = 0
        for name, other in (("a", "b"), ("b", "a")):
            for tx in bus.log[name]:
                hit = False
                for i, (s, e, value) in enumerate(tx.byte_slots()):
                    overlapped = any(overlaps(o.start, o.end, s, e) for o in bus.log[other])
                    assert (tx.heard[i] != value) == overlapped
                    hit |= overlapped
                assert tx.collided == hit
                expected_collisions += hit
        # One collision per write that overlaps an earlier write of the other end.
        every = bus.log["a"] + bus.log["b"]
        later_overlapping = sum(
            any(
                o.sender != tx.sender
                and o.seq < tx.seq
                and overlaps(o.start, o.end, tx.start, tx.end)
                for o in every
            )
            for tx in every
        )
        assert bus.collisions == later_overlapping
        assert (bus.collisions == 0) == (expected_collisions == 0)

    virtual_time.run(main())


def test_two_link_drivers_complete_a_request_over_the_bus_with_spec_timers() -> None:
    async def main() -> None:
        bus = HalfDuplexBus()
        answered: list[float] = []

        def heater_on_frame(frame: Frame) -> None:
            answered.append(asyncio.get_running_loop().time())
            heater.reply(Frame(MessageType.BASIC_DR, bytes([0x03, frame.payload[0]])))

        heater = LinkDriver(LinkTimers(), on_frame=heater_on_frame)
        ucm = LinkDriver(LinkTimers())
        await bus.open("heater", lambda: heater)
        await bus.open("ucm", lambda: ucm)
        done = await ucm.request(
            Frame(MessageType.BASIC_DR, b"\x01\x00"), matcher=lambda f: f.payload[:1] == b"\x03"
        )
        assert done.ok
        assert done.reply is not None
        assert done.reply.payload == b"\x03\x01"
        assert answered == [pytest.approx(8 * T)]
        ack = bus.log["heater"][0]
        assert ack.data == b"\x06\x00"
        assert ack.start == pytest.approx(8 * T + 0.040)  # tMA after the frame's last byte
        # tIM after the ACK's last byte has surely left (the write may reach the line late)
        assert bus.log["heater"][1].start == pytest.approx(ack.end + WRITE_LATENCY + 0.100)
        assert bus.collisions == 0

    virtual_time.run(main())


def test_virtual_time_jumps_to_the_next_timer() -> None:
    async def main() -> float:
        await asyncio.sleep(3600)
        return asyncio.get_running_loop().time()

    assert virtual_time.run(main()) == 3600.0


def test_write_latency_delays_each_write_within_its_bound_and_keeps_order() -> None:
    async def main() -> None:
        bus = HalfDuplexBus(write_latency_s=0.010)
        a, _ra, _b, rb = two_ends(bus)
        for k in range(20):
            await at(k * 0.050)
            a.write(SHED)
        a.write(b"\x06\x00")  # right behind the last frame: never before it
        await at(5.0)
        starts = [tx.start for tx in bus.log["a"]]
        for k, start in enumerate(starts[:20]):
            assert k * 0.050 <= start <= k * 0.050 + 0.010
        assert len(set(starts)) == 21  # the delays differ
        assert starts[20] >= bus.log["a"][19].end
        assert rb.data == SHED * 20 + b"\x06\x00"

    virtual_time.run(main())
