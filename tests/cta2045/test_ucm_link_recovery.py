"""Over a real pty: idle-gap resync, the negotiated maximum payload, hourly time sync, reconnect.

docs/cta2045.md §5 and §13 row 8 (idle gap), §6 (maximum payload), §8.1 and §16.4 (Simple Time Sync
hourly), §16.4 (End Shed at start-up only).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from hil.heater import DrEvent
from hil.sim import run_simulator
from tests.conftest import wait_for as poll_until
from ven_edge.cta2045 import messages
from ven_edge.cta2045.device import DeviceSnapshot
from ven_edge.cta2045.frames import Frame, MessageType
from ven_edge.cta2045.messages import to_data_frame
from ven_edge.cta2045.ucm import (
    OUR_MAX_PAYLOAD,
    TIME_SYNC_S,
    UcmConfig,
    UcmSession,
    until_next_boundary,
)

from .sim_harness import FAST, rig, wait_for

#: The heater waits long for our ACK of its reply, and our parser's frame timeout is longer
#: still: only a quick resync (idle gap or payload bound) avoids the heater re-sending.
SIM_TIMERS = dataclasses.replace(FAST, ack_timeout=1.0)
SLOW_FRAME_TIMEOUT = dataclasses.replace(FAST, frame_timeout=2.0, reply_timeout=1.5)


def names(frames: list[Frame]) -> list[str]:
    out = []
    for frame in frames:
        if frame.is_type_query:
            out.append(f"mtsq_{frame.msg_type:04x}")
        else:
            out.append(messages.decode(frame).name)
    return out


async def test_vendor_type_byte_before_a_reply_is_dropped_at_once(tmp_path: Path) -> None:
    # No idle-gap rule here: the negotiated 128-byte maximum alone must reject "F0 08 01 00",
    # which claims a 256-byte vendor payload, instead of waiting for the frame timeout.
    ucm_timers = dataclasses.replace(SLOW_FRAME_TIMEOUT, idle_gap=None)
    async with rig(tmp_path, timers=SIM_TIMERS, ucm_timers=ucm_timers) as r:
        assert r.ucm.snapshot.max_payload == 128
        r.sim.control("prefix f0 1")
        assert json.dumps(r.sim.state())  # the fault switches still serialise
        outcome = await r.ucm.shed(600)
        assert outcome.ok, outcome
        assert outcome.attempts == 1
        assert r.sim.faults.prefixed == 0
        assert r.sim.driver is not None
        assert r.sim.driver.counters.retries == 0  # our link ACK came in time
        link = r.ucm.snapshot.link
        assert link.garbage_bytes == 1
        assert link.link_naks_sent == 0


async def test_stray_header_before_a_reply_is_ended_by_the_idle_gap(tmp_path: Path) -> None:
    # "08 02 00" + the App ACK claims an 8-byte Intermediate payload that never completes; the
    # line then goes quiet (the heater waits for our ACK) and the 20 ms gap ends the wait.
    async with rig(tmp_path, timers=SIM_TIMERS, ucm_timers=SLOW_FRAME_TIMEOUT) as r:
        r.sim.faults.garbage_prefix, r.sim.faults.prefixed = b"\x08\x02\x00", 1
        outcome = await r.ucm.shed(600)
        assert outcome.ok, outcome
        assert outcome.attempts == 1
        assert r.sim.driver is not None
        assert r.sim.driver.counters.retries == 0
        link = r.ucm.snapshot.link
        assert link.garbage_bytes == 3
        assert link.link_naks_sent == 0  # the recovered reply was ACKed, nothing NAKed


async def test_heater_stalling_mid_frame_is_nakked_after_the_gap(tmp_path: Path) -> None:
    async with rig(tmp_path, timers=SIM_TIMERS, ucm_timers=SLOW_FRAME_TIMEOUT) as r:
        assert r.sim.driver is not None
        whole = to_data_frame(messages.operational_state_response(0)).serialize()
        r.sim.driver.write_raw(whole[:5])
        # 1.5 s: less than the frame timeout.
        await poll_until(lambda: r.ucm.snapshot.link.link_naks_sent == 1, 1.5, "the link NAK")
        assert (await r.ucm.operational_state()).ok


def test_time_sync_waits_for_the_top_of_the_local_hour() -> None:
    assert TIME_SYNC_S == 3600
    india = timezone(timedelta(hours=5, minutes=30))
    assert until_next_boundary(datetime(2026, 12, 1, 14, 59, 30, tzinfo=india), 3600) == 32.0
    assert until_next_boundary(datetime(2026, 12, 1, 15, 0, 0, tzinfo=UTC), 3600) == 3602.0
    assert until_next_boundary(datetime(2026, 12, 1, 15, 0, 0, tzinfo=UTC), 1.0) == 1.1


async def test_simple_time_sync_at_commissioning_and_every_period(tmp_path: Path) -> None:
    tuesday_2pm = datetime(2026, 12, 1, 14, 30, tzinfo=UTC)
    expected = to_data_frame(messages.simple_time_sync_at(tuesday_2pm.astimezone()))
    async with rig(tmp_path, time_sync_s=0.3, wall_clock=lambda: tuesday_2pm) as r:
        assert expected in r.sim.received  # sent while commissioning
        await poll_until(lambda: r.sim.received.count(expected) >= 3, 5.0, "three retries")
        assert all(
            f == expected for f in r.sim.received if f.payload[:1] == b"\x16"
        )  # weekday 2, the local hour


async def test_no_time_sync_when_disabled(tmp_path: Path) -> None:
    async with rig(tmp_path, time_sync_s=0) as r:
        assert "simple_time_sync" not in names(r.sim.received)


async def test_hang_up_reopen_commissions_again_without_end_shed(tmp_path: Path) -> None:
    async with rig(tmp_path, timers=SIM_TIMERS) as r:
        first = names(r.sim.received)
        assert first.count("end_shed") == 1  # at the first start-up only
        assert r.ucm.snapshot.commissionings == 1
        assert (await r.ucm.shed(3600)).ok
        seen: list[DeviceSnapshot] = []
        r.ucm.on_change(seen.append)
        before = len(r.sim.received)
        r.sim.hang_up(reopen_after=0.2)
        snap = await wait_for(r.ucm, lambda s: s.commissionings == 2, 10.0)
        assert snap.commissioned
        assert snap.link.reconnects == 1
        assert any(not s.commissioned and s.commissionings == 1 for s in seen)
        again = names(r.sim.received[before:])
        for step in ("mtsq_0801", "mtsq_0802", "mtsq_0803", "max_payload_query"):
            assert step in again
        assert "device_information_request" in again
        assert "simple_time_sync" in again
        assert "end_shed" not in again  # the control loop decides what to re-send
        assert r.sim.heater.event is DrEvent.SHED  # so the heater's event survives
        assert snap.max_payload == 128  # negotiated afresh
        assert (await r.ucm.operational_state()).ok


async def test_without_commissioning_long_replies_are_still_accepted(tmp_path: Path) -> None:
    # Nothing negotiates the maximum payload: our parser must accept the heater's 53-byte
    # Device Information reply rather than wait for a negotiation that never comes.
    path = tmp_path / "heater"
    async with run_simulator(path, timers=FAST):
        ucm = UcmSession(
            UcmConfig(port=str(path), timers=FAST, commission=False, heartbeat_s=0, poll_s=0)
        )
        await ucm.start()
        try:
            async with asyncio.timeout(10):
                await ucm.wait_ready()
            outcome = await ucm.device_information()
            assert outcome.ok, outcome
            assert ucm.snapshot.device_info is not None
            assert ucm.snapshot.max_payload == 2  # we still send only Basic-sized frames
            assert OUR_MAX_PAYLOAD == 4096
        finally:
            await ucm.stop()


async def test_heater_without_data_link_messages_still_gets_long_replies_through(
    tmp_path: Path,
) -> None:
    # The heater NAKs 08 03 with 0x06, so no maximum payload is negotiated (§6): we keep sending
    # only Basic-sized requests but accept its 53-byte Device Information reply.
    path = tmp_path / "heater"
    basic_and_intermediate = frozenset({MessageType.BASIC_DR, MessageType.INTERMEDIATE_DR})
    async with run_simulator(path, timers=FAST, supported_types=basic_and_intermediate) as sim:
        ucm = UcmSession(UcmConfig(port=str(path), timers=FAST, heartbeat_s=0, poll_s=0))
        await ucm.start()
        try:
            async with asyncio.timeout(10):
                await ucm.wait_ready()
            snap = ucm.snapshot
            assert MessageType.DATA_LINK in snap.unsupported_types
            assert "max_payload_query" not in names(sim.received)
            assert snap.device_info is not None
            assert snap.max_payload == 2
        finally:
            await ucm.stop()


async def test_unplugged_pty_is_watched_and_reopened_without_blind_retries(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """While the heater's pty is gone the session looks for the path instead of trying to open it
    on an exponential backoff (0.5, 1, 2, 4 s... which reopened up to several seconds late)."""
    caplog.set_level(logging.WARNING, logger="ven_edge.cta2045.ucm")
    path = tmp_path / "heater"
    async with run_simulator(path, timers=FAST) as sim:
        ucm = UcmSession(UcmConfig(port=str(path), timers=FAST, heartbeat_s=0, poll_s=0))
        await ucm.start()
        try:
            async with asyncio.timeout(10):
                await ucm.wait_ready()
            sim.hang_up(reopen_after=3.0)
            snap = await wait_for(ucm, lambda s: s.commissionings == 2, 30.0)
            assert snap.link.reconnects == 1
        finally:
            await ucm.stop()
    failed_opens = [m for m in caplog.messages if "cannot open serial port" in m]
    assert failed_opens == []
