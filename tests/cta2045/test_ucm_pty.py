"""The UCM session against the simulated heater over a real pty pair: every command."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hil.heater import COMM_TIMEOUT_S, DrEvent, HeaterConfig
from hil.sim import run_simulator
from ven_edge.cta2045 import messages
from ven_edge.cta2045.device import DeviceSnapshot
from ven_edge.cta2045.frames import Frame, MessageType
from ven_edge.cta2045.link import T_AR, T_MA, LinkTimers
from ven_edge.cta2045.messages import to_data_frame
from ven_edge.cta2045.transport import open_serial
from ven_edge.cta2045.ucm import MAX_HEARTBEAT_S, Status, UcmConfig, UcmSession

from .sim_harness import FAST, rig, wait_for


async def test_commissioning_fills_the_device_model(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        snap = r.ucm.snapshot
        assert snap.commissioned
        assert snap.link.connected
        assert snap.supported_types == frozenset(
            {MessageType.BASIC_DR, MessageType.INTERMEDIATE_DR, MessageType.DATA_LINK}
        )
        assert snap.max_payload == 128
        assert snap.device_info is not None
        assert snap.device_info.device_type == 0x0003
        assert snap.device_info.model == "VEN-EDGE-SIM-50"
        assert snap.device_info.firmware == "2026-01-01 v1.0"
        assert snap.operational_state == 0
        assert snap.energy_capacity_wh == round(r.sim.heater.state.capacity_wh)
        assert snap.stored_energy_wh == round(r.sim.heater.state.stored_wh)
        # MTSQ 0801/0802/0803, max payload, device info, outside comm, end shed, op state, commodity
        names = [f.payload[:1].hex() or f"mtsq{f.msg_type:04x}" for f in r.sim.received]
        assert names[:3] == ["mtsq0801", "mtsq0802", "mtsq0803"]
        assert "02" in names  # End Shed at start-up
        assert r.sim.heater.log == []  # nothing was curtailed


@pytest.mark.parametrize(
    ("command", "args", "event", "state"),
    [
        ("shed", (600,), DrEvent.SHED, {2, 4}),
        ("critical_peak", (600,), DrEvent.CRITICAL_PEAK, {2, 4}),
        ("grid_emergency", (None,), DrEvent.GRID_EMERGENCY, {4}),
        ("load_up", (1800,), DrEvent.LOAD_UP, {3, 6}),
        ("advanced_load_up", (500, 3600), DrEvent.ADVANCED_LOAD_UP, {3, 6}),
        ("power_level", (50,), DrEvent.POWER_LEVEL, {2, 4}),
    ],
)
async def test_event_commands_change_the_heater(
    tmp_path: Path, command: str, args: tuple[object, ...], event: DrEvent, state: set[int]
) -> None:
    async with rig(tmp_path) as r:
        outcome = await getattr(r.ucm, command)(*args)
        assert outcome.status is Status.OK, outcome
        assert r.sim.heater.event is event
        op = await r.ucm.operational_state()
        assert op.ok
        assert r.ucm.snapshot.operational_state in state
        end = await r.ucm.end_shed()
        assert end.ok
        assert r.sim.heater.event is DrEvent.NONE
        await r.ucm.operational_state()
        assert r.ucm.snapshot.operational_state in (0, 1)


async def test_information_commands(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        sp = await r.ucm.get_set_point()
        assert sp.ok
        assert sp.data["set_point_1"] == 120
        assert r.ucm.snapshot.set_point_c == pytest.approx(48.89, abs=0.01)

        assert (await r.ucm.set_set_point(52.0)).ok
        assert r.sim.heater.set_point_f == 126  # 52 °C in whole °F
        assert r.ucm.snapshot.set_point_c == pytest.approx(52.22, abs=0.01)
        bad = await r.ucm.set_set_point(90.0)  # 194 °F: outside the heater's range
        assert bad.status is Status.APP_NAK
        assert bad.reason_text == "BAD_VALUE"
        assert r.sim.heater.set_point_f == 126  # the last good value stays

        temp = await r.ucm.present_temperature()
        assert temp.ok
        assert r.ucm.snapshot.present_temperature_c is not None

        one = await r.ucm.commodity_read(7)
        assert one.ok
        assert [rec["code"] for rec in one.data["records"]] == [7]

        when = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
        assert (await r.ucm.set_utc_time(when)).ok
        assert r.sim.heater.utc_offset_s == pytest.approx(when.timestamp() - time.time(), abs=5)

        for ratio in (2.0, None):
            assert (await r.ucm.present_relative_price(ratio)).ok
            assert (await r.ucm.next_relative_price(ratio)).ok
        assert (await r.ucm.time_sync()).ok
        assert (await r.ucm.outside_comm()).ok
        assert (await r.ucm.device_information()).ok
        assert (await r.ucm.max_payload()).data["max_payload_bytes"] == 128


async def test_shed_duration_expires_in_the_heater(tmp_path: Path) -> None:
    async with rig(tmp_path, heater_config=HeaterConfig(comm_timeout_s=3600)) as r:
        assert (await r.ucm.shed(600)).ok  # opcode2 0x12 = 648 s
        assert r.sim.heater.event is DrEvent.SHED
        r.clock.skip(600)
        await r.ucm.operational_state()
        assert r.sim.heater.event is DrEvent.SHED
        r.clock.skip(48)
        await r.ucm.operational_state()
        assert r.sim.heater.event is DrEvent.NONE
        assert r.ucm.snapshot.operational_state in (0, 1)


async def test_missing_heartbeat_ends_curtailment(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:  # the UCM's heartbeat is off in this rig
        assert (await r.ucm.critical_peak(None)).ok
        r.clock.skip(COMM_TIMEOUT_S - 10)
        await r.ucm.operational_state()
        assert r.sim.heater.event is DrEvent.CRITICAL_PEAK
        assert (await r.ucm.outside_comm()).ok  # one heartbeat restarts the watchdog
        r.clock.skip(COMM_TIMEOUT_S - 10)
        await r.ucm.operational_state()
        assert r.sim.heater.event is DrEvent.CRITICAL_PEAK
        r.clock.skip(20)
        await r.ucm.operational_state()
        assert r.sim.heater.event is DrEvent.NONE
        assert r.sim.heater.log[-1] == "critical_peak ended: outside communication lost"


async def test_customer_override_is_reported_and_refuses_events(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        changes: list[DeviceSnapshot] = []
        unsubscribe = r.ucm.on_change(changes.append)
        r.sim.set_override(True)
        await wait_for(r.ucm, lambda snap: snap.override_active)
        assert changes[-1].override_active
        shed = await r.ucm.shed(600)
        assert shed.status is Status.APP_NAK
        assert shed.reason == 5
        alu = await r.ucm.advanced_load_up(500, 600)
        assert alu.status is Status.APP_NAK
        assert alu.reason == 7  # Intermediate response code: customer override
        await r.ucm.operational_state()
        assert r.ucm.snapshot.operational_state in (11, 12)
        assert r.ucm.snapshot.link.app_naks_received == 2

        r.sim.set_override(False)
        await wait_for(r.ucm, lambda snap: not snap.override_active)
        assert (await r.ucm.shed(600)).ok
        unsubscribe()
        count = len(changes)
        await r.ucm.end_shed()
        await r.ucm.operational_state()
        assert len(changes) == count  # unsubscribed


async def test_heartbeat_and_polling_run_by_themselves(tmp_path: Path) -> None:
    async with rig(tmp_path, heartbeat_s=0.1, poll_s=0.1) as r:
        before = r.sim.heater.last_comm_at
        r.sim.heater.override = True  # changes the state without telling the UCM
        await wait_for(r.ucm, lambda snap: snap.operational_state in (11, 12))
        assert r.sim.heater.last_comm_at > before


def test_heartbeat_is_capped_at_15_minutes() -> None:
    assert UcmConfig(port="/dev/null", heartbeat_s=3600).heartbeat_s == MAX_HEARTBEAT_S
    with pytest.raises(ValueError, match="must be >= 0"):
        UcmConfig(port="/dev/null", poll_s=-1)


async def test_spec_timers_over_the_pty(tmp_path: Path) -> None:
    """Both sides on the digest's timers: the reply cannot come before tMA + tAR."""
    async with rig(tmp_path, timers=LinkTimers(), ready_timeout=20) as r:
        outcome = await r.ucm.shed(600)
        assert outcome.ok
        assert outcome.attempts == 1
        assert T_MA + T_AR <= outcome.elapsed_s < 1.0
        state = await r.ucm.operational_state()
        assert state.ok
        assert state.elapsed_s >= T_MA + T_AR


async def test_command_without_port_is_not_connected(tmp_path: Path) -> None:
    session = UcmSession(UcmConfig(port=str(tmp_path / "absent"), reconnect_initial_s=0.05))
    await session.start()
    try:
        await asyncio.sleep(0.2)
        outcome = await session.shed(60)
        assert outcome.status is Status.NOT_CONNECTED
        snap = session.snapshot
        assert not snap.link.connected
        assert snap.link.last_error is not None
        assert "absent" in snap.link.last_error
    finally:
        await session.stop()


async def test_heater_requests_are_answered_while_a_command_waits(tmp_path: Path) -> None:
    """The heater's own queries (type query, UTC time, max payload, sleep) cross our Shed."""
    async with rig(tmp_path) as r:
        driver = r.sim.driver
        assert driver is not None
        r.sim.faults.delay_s, r.sim.faults.delays = 0.3, 1  # hold the Shed's App ACK back
        shed = asyncio.ensure_future(r.ucm.shed(600))
        await asyncio.sleep(0.05)

        def reply_to(request: messages.Message) -> Callable[[Frame], bool]:
            def match(frame: Frame) -> bool:
                return messages.is_reply_to(messages.decode(frame), request)

            return match

        mtsq = await driver.request(Frame(MessageType.INTERMEDIATE_DR))
        assert mtsq.ok
        assert mtsq.reply is None  # a link ACK is the whole answer
        utc = await driver.request(
            to_data_frame(messages.get_utc_time()), matcher=reply_to(messages.get_utc_time())
        )
        assert utc.reply is not None
        when = messages.decode(utc.reply).fields["utc_s"]
        now = int(time.time()) - 946_684_800
        assert isinstance(when, int)
        assert abs(when - now) < 5
        size = await driver.request(
            to_data_frame(messages.max_payload_query()),
            matcher=lambda f: f.payload[:1] == b"\x19",
        )
        assert size.reply is not None
        assert messages.decode(size.reply).fields["max_payload_bytes"] == 4096
        sleep = await driver.request(
            to_data_frame(messages.sleep()), matcher=reply_to(messages.sleep())
        )
        assert sleep.reply is not None
        assert messages.decode(sleep.reply) == messages.app_ack(0x14)

        outcome = await shed
        assert outcome.ok
        assert outcome.attempts == 1


async def test_heater_side_timing_on_the_wire(tmp_path: Path) -> None:
    """Spec timers on a raw pty: ACK 40-200 ms after our frame, reply >= 100 ms after the ACK."""
    arrivals: list[tuple[float, bytes]] = []
    got_reply = asyncio.Event()

    class Recorder(asyncio.Protocol):
        def data_received(self, data: bytes) -> None:
            arrivals.append((time.monotonic(), data))
            if sum(len(d) for _, d in arrivals) >= 10:  # ACK (2) + App ACK frame (8)
                got_reply.set()

    async with run_simulator(tmp_path / "heater", timers=LinkTimers()):
        transport, _ = await open_serial(str(tmp_path / "heater"), Recorder)
        try:
            sent = time.monotonic()
            transport.write(to_data_frame(messages.shed(600)).serialize())
            async with asyncio.timeout(5):
                await got_reply.wait()
            transport.write(b"\x06\x00")  # acknowledge the App ACK like a UCM
        finally:
            transport.close()
    stream = b"".join(d for _, d in arrivals)
    assert stream == b"\x06\x00" + to_data_frame(messages.app_ack(0x01)).serialize()
    assert arrivals[0][1] == b"\x06\x00"  # the ACK comes alone: the reply waits tAR
    ack_at, reply_at = arrivals[0][0], arrivals[1][0]
    # Lower bounds only: a loaded machine can delay any reply, never hasten one (the round trip
    # on the spec timers is measured in bench/cta2045_link.py).
    assert ack_at - sent >= T_MA
    assert reply_at - ack_at >= T_AR - 0.002  # the loop timer may fire a hair early


async def test_frames_above_the_heater_maximum_are_not_sent(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        driver = r.sim.driver
        assert driver is not None
        # The heater announces that it takes only Basic-sized (2-byte) payloads.
        driver.send(to_data_frame(messages.max_payload_response(2)))
        await wait_for(r.ucm, lambda snap: snap.max_payload == 2)
        received = len(r.sim.received)
        outcome = await r.ucm.set_set_point(50.0)
        assert outcome.status is Status.NOT_SENT
        assert outcome.reason_text is not None
        assert "exceeds the heater's maximum of 2" in outcome.reason_text
        assert len(r.sim.received) == received
        # The negotiated maximum bounds both directions: Basic-sized traffic still flows.
        assert (await r.ucm.operational_state()).ok


async def test_an_accepted_event_clears_a_stale_override(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.sim.set_override(True)
        await wait_for(r.ucm, lambda snap: snap.override_active)
        r.sim.heater.override = False  # released without telling the UCM (no 0x11 00)
        assert (await r.ucm.load_up(600)).ok
        assert not r.ucm.snapshot.override_active


async def test_an_unexpected_error_while_opening_is_survived(tmp_path: Path) -> None:
    calls = 0

    async def flaky_opener(path: str, factory: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("adapter firmware hiccup")
        return await open_serial(path, factory, **kwargs)

    async with run_simulator(tmp_path / "heater", timers=FAST):
        config = UcmConfig(
            port=str(tmp_path / "heater"),
            timers=FAST,
            heartbeat_s=0,
            poll_s=0,
            reconnect_initial_s=0.05,
        )
        session = UcmSession(config, opener=flaky_opener)
        await session.start()
        try:
            async with asyncio.timeout(10):
                await session.wait_ready()
            assert calls == 2
            error = session.snapshot.link.last_error
            assert error == "RuntimeError: adapter firmware hiccup"
            assert (await session.operational_state()).ok
        finally:
            await session.stop()
