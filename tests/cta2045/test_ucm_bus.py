"""The UCM session on the simulated half-duplex RS-485 bus, on virtual time.

Every figure here is virtual time of :mod:`hil.virtual_time`: exact, whatever the machine load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any, TypeVar

import pytest

from hil import virtual_time
from hil.bus import HalfDuplexBus, Transmission
from hil.sim import Faults, Simulator, run_simulator
from ven_edge.cta2045 import cli_send
from ven_edge.cta2045.driver import LinkDriver, PriorityGate
from ven_edge.cta2045.frames import Frame, MessageType
from ven_edge.cta2045.link import T_MA, LinkTimers
from ven_edge.cta2045.transport import PortError
from ven_edge.cta2045.ucm import Status, UcmConfig, UcmSession
from ven_edge.status_model import HeaterLinkHealth
from ven_edge.web import status as ws

T = TypeVar("T")
ACK = b"\x06\x00"
#: tIM, the quiet time between messages (docs/cta2045.md §5).
T_IM = 0.100
#: Float slack when comparing virtual instants (the bus's own tolerance is 0.1 µs).
EPS = 1e-6


def run(main: Callable[[], Awaitable[T]]) -> T:
    async def wrapped() -> T:
        return await main()

    return virtual_time.run(wrapped())


@dataclass
class BusRig:
    bus: HalfDuplexBus
    sim: Simulator
    session: UcmSession


@contextlib.asynccontextmanager
async def session_on(
    opener: Any, *, port: str = "bus", ready: bool = True, **config: Any
) -> AsyncIterator[UcmSession]:
    """A started UCM session (spec timers, no heartbeat or polls unless given), stopped after."""
    settings: dict[str, Any] = {"heartbeat_s": 0, "poll_s": 0}
    settings.update(config)
    session = UcmSession(UcmConfig(port=port, timers=LinkTimers(), **settings), opener=opener)
    await session.start()
    try:
        if ready:
            async with asyncio.timeout(60):
                await session.wait_ready()
        yield session
    finally:
        await session.stop()


@contextlib.asynccontextmanager
async def bus_rig(
    *, faults: Faults | None = None, opener: Any = None, **config: Any
) -> AsyncIterator[BusRig]:
    """The simulated heater and a UCM session (spec timers) on one bus, session commissioned."""
    loop = asyncio.get_running_loop()
    bus = HalfDuplexBus()
    settings: dict[str, Any] = {"time_sync_s": 0}
    settings.update(config)
    async with (
        run_simulator("heater", bus=bus, clock=loop.time, faults=faults) as sim,
        session_on(opener or bus.opener("ucm"), **settings) as session,
    ):
        yield BusRig(bus, sim, session)


def is_link_frame(tx: Transmission) -> bool:
    return len(tx.data) == 2 and tx.data[0] in (0x06, 0x15)


def writes(bus: HalfDuplexBus) -> list[Transmission]:
    return sorted((tx for txs in bus.log.values() for tx in txs), key=lambda tx: tx.seq)


# --- issue: half-duplex line rules ---------------------------------------------------------------


def test_polls_heartbeats_and_commands_keep_the_half_duplex_rules() -> None:
    """Our link ACK of a reply comes before anything else of ours, and every frame of ours starts
    at least tIM after the last byte of the previous message on the line: no collisions."""

    async def main() -> None:
        async with bus_rig(heartbeat_s=5, poll_s=3) as r:
            for i in range(12):
                outcome = await (r.session.shed(600) if i % 2 else r.session.end_shed())
                assert outcome.ok, outcome
                await r.session.present_temperature()
                await asyncio.sleep(2.0)
            txs = writes(r.bus)
            assert r.bus.collisions == 0
            ours = 0
            for before, tx in itertools.pairwise(txs):
                if tx.sender != "ucm":
                    continue
                ours += 1
                gap = tx.start - before.end
                if is_link_frame(tx):
                    assert before.sender == "heater", (before, tx)
                    assert gap >= T_MA - EPS, (before, tx)
                else:
                    assert gap >= T_IM - EPS, (before, tx)
                    if before.sender == "heater" and not is_link_frame(before):
                        pytest.fail(f"frame {tx.data.hex()} before our ACK of {before.data.hex()}")
            assert ours > 100

    run(main)


def test_ack_of_the_last_reply_goes_out_before_the_session_closes() -> None:
    async def main() -> None:
        async with bus_rig() as r:
            assert (await r.session.operational_state()).ok
            replies = len(r.bus.log["heater"])
        await asyncio.sleep(5.0)  # a heater without our ACK re-sends within 3 x 500 ms
        heater = r.bus.log["heater"]
        assert len(heater) == replies, [tx.data.hex() for tx in heater[replies:]]
        assert r.bus.log["ucm"][-1].data == ACK
        assert r.bus.log["ucm"][-1].start > heater[-1].end

    run(main)


def test_send_acks_the_last_reply_and_exits_0() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        bus = HalfDuplexBus()
        async with run_simulator("heater", bus=bus, clock=loop.time) as sim:
            args = argparse.Namespace(
                port="bus", fast=False, connect_timeout=60.0, send_command="shed", seconds=600.0
            )
            status, report = await cli_send._run(args, bus.opener("ucm"))
            sent = len(bus.log["heater"])
            await asyncio.sleep(5.0)
            assert status == cli_send.EXIT_OK, report
            assert report["outcome"]["status"] == "ok"
            assert len(bus.log["heater"]) == sent  # nothing re-sent for want of our ACK
            assert bus.log["ucm"][-1].data == ACK
            assert sim.heater.event.value == "shed"

    run(main)


# --- issue: deaf peer, commissioning -------------------------------------------------------------


def test_send_to_a_deaf_port_exits_2_after_the_first_unanswered_query() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        bus = HalfDuplexBus()  # nobody else on the line
        args = argparse.Namespace(
            port="bus", fast=False, connect_timeout=60.0, send_command="op-state"
        )
        started = loop.time()
        status, report = await cli_send._run(args, bus.opener("ucm"))
        elapsed = loop.time() - started
        assert status == cli_send.EXIT_NO_PORT
        assert "did not answer commissioning" in report["error"]
        # one type query, sent 4 times 500 ms apart, then the last 200 ms ACK wait
        assert elapsed < 2.5

    run(main)


def test_a_deaf_peer_is_never_commissioned() -> None:
    async def main() -> None:
        bus = HalfDuplexBus()
        async with session_on(bus.opener("ucm"), ready=False) as session:
            await asyncio.sleep(60.0)
            snap = session.snapshot
            assert snap.link.connected
            assert snap.link.frames_in == 0
            assert not snap.commissioned
            assert snap.commissionings == 0
            assert not HeaterLinkHealth.of(snap).ok

    run(main)


# --- issue: Device Information of every length --------------------------------------------------

#: pycta2045's Device Information reply: 51-byte payload without firmware major/minor
#: (docs/cta2045.md §10, provenance I).
DEVICE_INFO_51 = bytes.fromhex(
    "08 02 00 33 01 81 00 00 42 00 00 00 02 00 00 00 00 00 00 00" + " 31" * 32 + " 1E 03 0C 73 8A"
)


class ScriptedHeater:
    """A minimal heater on the bus: App ACKs Basic commands, answers the op-state query, the
    maximum payload query (128 bytes) and Device Information with the given frame."""

    def __init__(self, device_info: bytes) -> None:
        self.device_info = Frame(MessageType.INTERMEDIATE_DR, device_info[4:-2])
        self.driver = LinkDriver(LinkTimers(), on_frame=self.on_frame)

    def on_frame(self, frame: Frame) -> None:
        p = frame.payload
        if frame.msg_type == MessageType.BASIC_DR and len(p) == 2:
            reply = b"\x13\x00" if p[0] == 0x12 else bytes((0x03, p[0]))
            self.driver.reply(Frame(MessageType.BASIC_DR, reply))
        elif frame.msg_type == MessageType.DATA_LINK and p[:1] == b"\x18":
            self.driver.reply(Frame(MessageType.DATA_LINK, b"\x19\x06"))
        elif frame.msg_type == MessageType.INTERMEDIATE_DR and p[:2] == b"\x01\x01":
            self.driver.reply(self.device_info)
        elif frame.msg_type == MessageType.INTERMEDIATE_DR:
            self.driver.reply(Frame(MessageType.INTERMEDIATE_DR, bytes((p[0], p[1] | 0x80, 1))))


def test_device_information_without_firmware_version_fills_the_model() -> None:
    async def main() -> None:
        bus = HalfDuplexBus()
        heater = ScriptedHeater(DEVICE_INFO_51)
        await bus.open("heater", lambda: heater.driver)
        async with session_on(bus.opener("ucm"), time_sync_s=0) as session:
            outcome = await session.device_information()
            assert outcome.status is Status.OK, outcome
            info = session.snapshot.device_info
            assert info is not None
            assert (info.cta_version, info.vendor_id, info.device_type) == ("\x00B", 0, 2)
            assert info.model == "1" * 16
            assert info.serial == "1" * 16
            assert info.firmware == "2030-04-12"  # no version: the reply has none

    run(main)


# --- issue: commands before queued reads ---------------------------------------------------------


def test_a_command_waits_only_for_the_transaction_on_the_wire() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        async with bus_rig() as r:
            r.sim.faults.delay_s, r.sim.faults.delays = 2.5, 3  # the next three replies are late
            first = len(r.sim.received)
            reads = [
                asyncio.ensure_future(r.session.operational_state()),
                asyncio.ensure_future(r.session.commodity_read()),
                asyncio.ensure_future(r.session.present_temperature()),
            ]
            await asyncio.sleep(0.5)  # the first read is on the wire, the others queued
            started = loop.time()
            shed = await r.session.shed(600)
            elapsed = loop.time() - started
            assert shed.ok, shed
            opcodes = [f.payload[0] for f in r.sim.received[first:]]
            assert opcodes[:2] == [0x12, 0x01]  # op-state query on the wire, then the shed
            # the read on the wire and the shed itself (both answered 2.5 s late), not also the
            # two queued reads (FIFO: 4 slow transactions)
            assert elapsed < 2 * (2.5 + 0.5)
            for read in await asyncio.gather(*reads):
                assert read.ok, read

    run(main)


# --- heater health from traffic ------------------------------------------------------------------


def test_a_silent_heater_is_reported_once_and_recommissioned_when_it_answers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="ven_edge.cta2045.ucm")

    async def main() -> None:
        async with bus_rig(heartbeat_s=10, poll_s=5) as r:
            assert HeaterLinkHealth.of(r.session.snapshot).ok
            r.sim.hang_up(reopen_after=200.0)  # the heater goes quiet; our port stays open
            await asyncio.sleep(35.0)
            assert HeaterLinkHealth.of(r.session.snapshot).ok  # within max(10, 5) + 30 s margin
            await asyncio.sleep(10.0)
            snap = r.session.snapshot
            link = HeaterLinkHealth.of(snap)
            assert snap.link.connected
            assert not link.ok
            assert link.problem == "Heater not answering"
            # what /api/status carries under "health"
            health = ws.Health(heater_link=link, vtn=ws.VtnHealth(ok=False, url=None))
            page = health.as_json(UTC)["heater_link"]
            assert isinstance(page, dict)
            assert page["ok"] is False
            assert page["problem"] == "Heater not answering"
            assert "not answering" in (snap.link.last_error or "")
            assert not snap.commissioned
            await asyncio.sleep(130.0)
            silent = [m for m in caplog.messages if "not answering" in m]
            assert len(silent) == 1, caplog.messages
            before = snap.commissionings
            await asyncio.sleep(60.0)  # back at 200 s; probes back off to at most 30 s
            snap = r.session.snapshot
            assert HeaterLinkHealth.of(snap).ok
            assert snap.commissionings == before + 1  # the control loop re-sends its command
            again = [m for m in caplog.messages if "answering again" in m]
            assert len(again) == 1, caplog.messages

    run(main)


def present(path: str) -> bool:
    return Path(path).exists()


def test_the_port_reopens_as_soon_as_the_device_is_back(tmp_path: Path) -> None:
    device = tmp_path / "ttyUSB0"
    device.touch()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        bus = HalfDuplexBus()
        inner = bus.opener("ucm")

        async def opener(path: str, factory: Any, **kwargs: Any) -> Any:
            if not present(path):
                raise PortError(f"cannot open serial port {path}: no such device")
            return await inner(path, factory, **kwargs)

        async with (
            run_simulator("heater", bus=bus, clock=loop.time),
            session_on(opener, port=str(device)) as session,
        ):
            device.unlink()  # unplugged
            bus.disconnect("ucm")
            await asyncio.sleep(7.7)
            assert not session.connected
            opened: list[float] = []
            session.on_change(
                lambda snap: opened.append(loop.time()) if snap.link.connected else None
            )
            device.touch()  # plugged in again
            back = loop.time()
            async with asyncio.timeout(60):
                await session.wait_ready()
            assert opened[0] - back <= 1.0
            assert session.snapshot.link.reconnects == 1

    run(main)


def test_a_port_that_is_no_file_path_is_reopened_with_backoff() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        bus = HalfDuplexBus()
        async with (
            run_simulator("heater", bus=bus, clock=loop.time),
            session_on(bus.opener("ucm")) as session,
        ):
            bus.disconnect("ucm")
            await asyncio.sleep(1.0)
            async with asyncio.timeout(60):
                await session.wait_ready()
            assert session.snapshot.link.reconnects == 1

    run(main)


def test_a_read_still_waiting_for_a_quiet_line_gives_way_to_a_command() -> None:
    async def main() -> None:
        async with bus_rig() as r:
            assert (await r.session.operational_state()).ok
            first = len(r.sim.received)
            # the read takes the link at once but must wait for our ACK and the quiet time
            read = asyncio.ensure_future(r.session.commodity_read())
            await asyncio.sleep(0.02)
            shed = await r.session.shed(600)
            assert shed.ok, shed
            assert (await read).ok
            assert [f.payload[0] for f in r.sim.received[first:]] == [0x01, 0x06]

    run(main)


def test_priority_gate_serves_urgent_first_then_in_order_and_survives_cancellation() -> None:
    async def main() -> list[str]:
        gate = PriorityGate()
        served: list[str] = []

        async def user(name: str, urgent: bool) -> None:
            await gate.acquire(urgent=urgent)
            served.append(name)
            await asyncio.sleep(1.0)
            gate.release()

        first = asyncio.ensure_future(user("read 1", False))
        await asyncio.sleep(0.1)
        tasks = [
            asyncio.ensure_future(user("read 2", False)),
            asyncio.ensure_future(user("cancelled", True)),
            asyncio.ensure_future(user("read 3", False)),
            asyncio.ensure_future(user("shed", True)),
        ]
        await asyncio.sleep(0.1)
        tasks[1].cancel()
        await asyncio.gather(first, *tasks, return_exceptions=True)
        return served

    assert run(main) == ["read 1", "shed", "read 2", "read 3"]
