"""The interop tap: the ordering rules on synthetic records, on the bus, and as a pty relay."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hil import virtual_time
from hil.bus import HalfDuplexBus, byte_time
from hil.sim import run_simulator
from hil.tap import Chunk, Kind, check, chunks_from_bus, run_tap
from ven_edge.cta2045 import messages
from ven_edge.cta2045.codec import to_data_frame
from ven_edge.cta2045.driver import LinkDriver
from ven_edge.cta2045.link import LinkTimers
from ven_edge.cta2045.transport import open_serial
from ven_edge.cta2045.ucm import reply_matcher

T = byte_time(19200)
SHED = bytes.fromhex("0801000201000c3d")
APP_ACK = to_data_frame(messages.app_ack(0x01)).serialize()
ACK = b"\x06\x00"


def chunk(direction: str, start: float, data: bytes) -> Chunk:
    return Chunk(direction, start, start + len(data) * T, data)


def transaction(t0: float) -> tuple[list[Chunk], float]:
    """A well-behaved Shed exchange from ``t0``; returns the chunks and when the line is free."""
    req = chunk("U", t0, SHED)
    ack = chunk("S", req.end + 0.040, ACK)
    reply = chunk("S", ack.end + 0.100, APP_ACK)
    ack2 = chunk("U", reply.end + 0.040, ACK)
    return [req, ack, reply, ack2], ack2.end


def test_a_well_behaved_exchange_has_no_violations() -> None:
    first, free = transaction(0.0)
    second, _ = transaction(free + 0.100)
    report = check(first + second)
    assert report.violations == []
    assert [m.kind for m in report.messages] == [Kind.FRAME, Kind.ACK, Kind.FRAME, Kind.ACK] * 2


def test_next_request_before_acking_the_reply_breaks_two_rules() -> None:
    chunks, _ = transaction(0.0)
    reply = chunks[2]
    # The UCM pattern from an interop trace: next request 1 ms after the reply, its ACK later.
    hurried = [*chunks[:3], chunk("U", reply.end + 0.001, SHED), chunk("U", reply.end + 0.040, ACK)]
    report = check(hurried)
    assert report.by_rule() == {"ack_not_first": 1, "quiet_time": 1}


def test_overlapping_directions_are_two_talkers() -> None:
    chunks, _ = transaction(0.0)
    req = chunks[0]
    report = check([req, chunk("S", req.start + 3 * T, ACK)])
    assert report.count("two_talkers") == 1


def test_a_frame_too_soon_after_an_ack_breaks_the_quiet_time() -> None:
    req = chunk("U", 0.0, SHED)
    ack = chunk("S", req.end + 0.040, ACK)
    reply = chunk("S", ack.end + 0.0985, APP_ACK)  # 98.5 ms: timed from the ACK's first byte
    assert check([req, ack, reply]).by_rule() == {"quiet_time": 1}


def test_split_and_merged_chunks_are_framed_by_content() -> None:
    req = chunk("U", 0.0, SHED[:3])
    rest = chunk("U", req.end, SHED[3:])
    both = chunk("S", rest.end + 0.040, ACK + APP_ACK)  # ACK and reply in one write
    report = check([req, rest, both])
    assert [(m.direction, m.kind) for m in report.messages] == [
        ("U", Kind.FRAME),
        ("S", Kind.ACK),
        ("S", Kind.FRAME),
    ]
    assert report.messages[0].start == 0.0
    assert report.messages[0].end == pytest.approx(8 * T)
    assert report.by_rule() == {"quiet_time": 1}  # the reply followed the ACK at once


def test_noise_bad_check_bytes_and_an_idle_gap() -> None:
    bad = SHED[:-1] + b"\x00"
    cut = chunk("S", 0.0, b"\x00\x01" + bad + SHED[:5])
    late = chunk("S", cut.end + 0.5, SHED[5:])  # 500 ms later: the partial frame was noise
    kinds = [m.kind for m in check([cut, late]).messages]
    assert kinds == [Kind.NOISE, Kind.BAD_FRAME, Kind.NOISE, Kind.NOISE]


@given(
    st.lists(
        st.tuples(st.sampled_from("US"), st.floats(0, 5), st.binary(min_size=1, max_size=40)),
        max_size=20,
    )
)
def test_any_record_is_framed_without_losing_a_byte(raw: list[tuple[str, float, bytes]]) -> None:
    chunks = [chunk(d, t, data) for d, t, data in raw]
    report = check(chunks)
    for d in "US":
        sent = b"".join(c.data for c in sorted(chunks, key=lambda c: c.start) if c.direction == d)
        framed = b"".join(m.data for m in report.messages if m.direction == d)
        assert framed == sent
    assert all(v.rule in {"two_talkers", "ack_not_first", "quiet_time"} for v in report.violations)


async def polite_requests(ucm: LinkDriver, count: int, pause: float) -> None:
    """Requests with a pause after each answer long enough for the ACK and the quiet time."""
    for message in [messages.operational_state_query(), messages.shed(600)] * count:
        done = await ucm.request(to_data_frame(message), matcher=reply_matcher(message))
        assert done.ok, done
        await asyncio.sleep(pause)


def test_simulator_and_a_polite_ucm_on_the_bus_keep_every_rule() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        bus = HalfDuplexBus()
        async with run_simulator("heater", bus=bus, clock=loop.time):
            ucm = LinkDriver(LinkTimers())
            await bus.open("ucm", lambda: ucm)
            await polite_requests(ucm, 5, 0.2)
        report = check(chunks_from_bus(bus.log))
        assert report.violations == []
        assert sum(m.kind is Kind.FRAME for m in report.messages) == 20
        assert bus.collisions == 0

    virtual_time.run(main())


@pytest.mark.parametrize("fast", [False, True], ids=["spec", "fast"])
async def test_tap_relays_the_simulator_to_a_plain_ucm_over_ptys(
    tmp_path: Path, fast: bool
) -> None:
    timers = LinkTimers.fast() if fast else LinkTimers()
    if fast:  # generous: a loaded machine still answers a pty within these
        timers = LinkTimers(0, 2.0, 0, 4.0, 2.0, 0.05, 3, None)
    async with (
        run_simulator(tmp_path / "heater", timers=timers),
        run_tap(tmp_path / "ucm", tmp_path / "heater") as tap,
    ):
        _, ucm = await open_serial(str(tmp_path / "ucm"), lambda: LinkDriver(timers))
        await ucm.wait_open()
        try:
            async with asyncio.timeout(60):
                await polite_requests(ucm, 3, 0.2)
                await asyncio.sleep(0.3)  # the UCM's last ACK crosses the tap
        finally:
            ucm.close()
    report = tap.report()
    frames = [m for m in report.messages if m.kind is Kind.FRAME]
    assert [m.direction for m in frames] == ["U>S", "S>U"] * 6
    # Order cannot be faked by scheduling delays: the heater ACKs every request before it
    # replies, also with zero timers, and the UCM ACKs every reply before its next request.
    assert report.count("ack_not_first") == 0
    if not fast:
        # With tMA 40 ms nothing answers within a byte time, whatever the relay's delays.
        assert report.count("two_talkers") == 0
