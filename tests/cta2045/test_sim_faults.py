"""Every fault switch of the simulated heater, over a real pty: the documented recovery.

After each fault a plain command must succeed again: nothing is left stuck.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hil.heater import DrEvent
from hil.sim import Faults, send_control
from ven_edge.cta2045.frames import Frame, MessageType
from ven_edge.cta2045.ucm import Status

from .sim_harness import FAST, Rig, rig, wait_for


async def still_works(r: Rig) -> None:
    outcome = await r.ucm.operational_state()
    assert outcome.ok, outcome
    assert outcome.attempts == 1


async def test_bit_flip_in_a_reply_is_nakked_and_resent(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.sim.faults.bit_flips = 1
        outcome = await r.ucm.shed(600)
        assert outcome.ok  # the corrupted App ACK was NAKed 0x03, the heater sent it again
        snap = r.ucm.snapshot
        assert snap.link.checksum_errors == 1
        assert snap.link.link_naks_sent == 1
        assert r.sim.driver is not None
        assert r.sim.driver.counters.naks_received == 1
        assert r.sim.driver.counters.retries == 1
        await still_works(r)


async def test_dropped_ack_before_a_reply_counts_as_acked(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.sim.faults.drop_acks = 1
        outcome = await r.ucm.shed(600)
        assert outcome.ok
        assert outcome.attempts == 1  # the App ACK proved the Shed arrived
        await still_works(r)


async def test_dropped_ack_without_reply_is_retried(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.sim.faults.drop_acks = 2
        outcome = await r.ucm.message_type_supported(MessageType.BASIC_DR)
        assert outcome.ok
        assert outcome.attempts == 3  # two sends went unanswered, 50 ms apart in the fast rig
        assert r.ucm.snapshot.link.timeouts == 2
        await still_works(r)


@pytest.mark.parametrize(
    ("fault", "reason_text"),
    [("drop-acks 10", "no link ACK"), ("delay 30 10", "no application reply")],
)
async def test_silence_times_out_after_three_retries(
    tmp_path: Path, fault: str, reason_text: str
) -> None:
    async with rig(tmp_path) as r:
        r.sim.control(fault)
        if fault.startswith("drop-acks"):
            # A type query has no reply that could stand in for the dropped ACKs.
            outcome = await r.ucm.message_type_supported(MessageType.BASIC_DR)
        else:
            outcome = await r.ucm.end_shed()
        assert outcome.status is Status.TIMEOUT
        assert outcome.reason_text == reason_text
        assert outcome.attempts == 4
        r.sim.faults.drop_acks = r.sim.faults.delays = 0
        await still_works(r)


async def test_transient_link_nak_is_retried(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.sim.faults.link_nak_code, r.sim.faults.link_naks = 0x03, 2
        outcome = await r.ucm.load_up(600)
        assert outcome.ok
        assert outcome.attempts == 3
        assert r.sim.heater.event is DrEvent.LOAD_UP
        await still_works(r)


@pytest.mark.parametrize(("code", "name"), [(0x06, "UNSUPPORTED_MESSAGE_TYPE"), (0x02, None)])
async def test_permanent_link_nak_is_reported(tmp_path: Path, code: int, name: str | None) -> None:
    async with rig(tmp_path) as r:
        r.sim.faults.link_nak_code, r.sim.faults.link_naks = code, 1
        outcome = await r.ucm.shed(600)
        assert outcome.status is Status.LINK_NAK
        assert outcome.reason == code
        assert outcome.attempts == 1
        if name:
            assert outcome.reason_text == name
        assert r.sim.heater.event is DrEvent.NONE  # a NAKed frame is not acted on
        await still_works(r)


async def test_forced_app_nak_is_reported_with_its_reason(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.sim.faults.app_nak_code, r.sim.faults.app_naks = 0x03, 1
        outcome = await r.ucm.shed(600)
        assert outcome.status is Status.APP_NAK
        assert outcome.reason == 3
        assert outcome.reason_text == "BUSY"
        # Intermediate requests get the code as their response code: 7 = customer override
        r.sim.faults.app_nak_code, r.sim.faults.app_naks = 0x07, 1
        inter = await r.ucm.get_set_point()
        assert inter.status is Status.APP_NAK
        assert inter.reason_text == "CUSTOMER_OVERRIDE"
        await still_works(r)


async def test_reply_later_than_the_timeout_is_retried(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        # The fast rig waits 0.8 s for a reply; this one comes after 1.2 s.
        r.sim.faults.delay_s, r.sim.faults.delays = FAST.reply_timeout + 0.4, 1
        outcome = await r.ucm.shed(600)
        assert outcome.ok
        assert outcome.attempts == 2
        assert r.ucm.snapshot.link.timeouts == 1
        await asyncio.sleep(0.6)  # the late App ACK arrives and is ignored as a duplicate
        await still_works(r)


async def test_slow_reply_within_the_window_is_fine(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.sim.faults.delay_s, r.sim.faults.delays = 0.2, 1
        outcome = await r.ucm.shed(600)
        assert outcome.ok
        assert outcome.attempts == 1
        assert outcome.elapsed_s >= 0.2


async def test_garbage_is_skipped(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.sim.inject_garbage(64)
        await still_works(r)
        assert r.ucm.snapshot.link.garbage_bytes > 0


async def test_partial_frame_is_nakked_after_the_frame_timeout(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        assert r.sim.driver is not None
        whole = Frame(MessageType.BASIC_DR, b"\x13\x00").serialize()
        r.sim.driver.write_raw(whole[:5])  # the heater "stalls" mid-frame
        await asyncio.sleep(FAST.frame_timeout + 0.1)
        assert r.ucm.snapshot.link.link_naks_sent == 1
        await still_works(r)


async def test_hang_up_is_survived_by_reopening(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.sim.hang_up(reopen_after=0.3)
        await wait_for(r.ucm, lambda snap: not snap.link.connected)
        lost = await r.ucm.shed(60)
        assert lost.status is Status.NOT_CONNECTED
        snap = await wait_for(r.ucm, lambda s: s.link.connected and s.commissioned)
        assert snap.link.reconnects == 1
        await still_works(r)
        assert r.sim.hangups == 1


async def test_hang_up_during_a_request_ends_it(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.sim.faults.delay_s, r.sim.faults.delays = 5.0, 1
        request = asyncio.ensure_future(r.ucm.shed(60))
        await asyncio.sleep(0.1)
        r.sim.hang_up(reopen_after=0.2)
        outcome = await asyncio.wait_for(request, 5)
        assert outcome.status is Status.NOT_CONNECTED
        r.sim.faults.delays = 0
        await wait_for(r.ucm, lambda s: s.link.connected and s.commissioned)
        await still_works(r)


async def test_runtime_control_socket(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        reply = await send_control(r.sim.path, "drop-acks 2")
        assert reply["ok"]
        assert reply["state"]["faults"]["drop_acks"] == 2
        assert r.sim.faults.drop_acks == 2
        assert (await send_control(r.sim.path, "link-nak 0x06 1"))["ok"]
        assert (r.sim.faults.link_nak_code, r.sim.faults.link_naks) == (6, 1)
        bad = await send_control(r.sim.path, "melt")
        assert not bad["ok"]
        assert "unknown command" in bad["error"]
        assert (await send_control(r.sim.path, "override on"))["ok"]
        await wait_for(r.ucm, lambda snap: snap.override_active)
        state = await send_control(r.sim.path, "state")
        assert state["state"]["override"] is True
        assert (tmp_path / "heater.ctl").stat().st_mode & 0o777 == 0o600


async def test_faults_given_up_front(tmp_path: Path) -> None:
    faults = Faults(bit_flips=1, drop_acks=1)
    async with rig(tmp_path, faults=faults) as r:
        # commissioning absorbed both faults
        assert faults.bit_flips == 0
        assert faults.drop_acks == 0
        assert r.ucm.snapshot.commissioned
        await still_works(r)


async def test_refuse_switches_answer_with_the_response_code_until_set_back(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path) as r:
        r.sim.control("refuse alu 1")
        r.sim.control("refuse set-point 2")
        alu = await r.ucm.advanced_load_up(2000, 3600)
        assert alu.status is Status.APP_NAK
        assert alu.reason == 1
        set_point = await r.ucm.set_set_point(50.0)
        assert set_point.status is Status.APP_NAK
        assert set_point.reason == 2
        assert r.sim.heater.event is DrEvent.NONE
        assert r.sim.heater.set_point_f == 120
        # Basic messages are still taken, and 0 takes the refused messages again.
        assert (await r.ucm.load_up(600)).ok
        r.sim.control("refuse alu 0")
        r.sim.control("refuse set-point 0")
        assert (await r.ucm.advanced_load_up(2000, 3600)).ok
        assert r.sim.heater.alu_extra_wh == 2000
        assert (await r.ucm.set_set_point(50.0)).ok
        assert r.sim.heater.set_point_f == 122
        with pytest.raises(ValueError, match="alu or set-point"):
            r.sim.control("refuse shed 1")
