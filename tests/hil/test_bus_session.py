"""The UCM session, the daemon's heater port and the simulated heater, unchanged, on the bus."""

from __future__ import annotations

import asyncio

from hil import virtual_time
from hil.bus import HalfDuplexBus
from hil.heater import DrEvent
from hil.sim import run_simulator
from ven_edge.command_policy import Outcome
from ven_edge.control import CommandKind, SendCommand
from ven_edge.cta2045.link import LinkTimers
from ven_edge.cta2045.ucm import UcmConfig, UcmSession
from ven_edge.heater_port import UcmHeaterPort


def test_heater_port_commissions_and_sheds_over_the_bus_with_spec_timers() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        bus = HalfDuplexBus()
        async with run_simulator("heater", bus=bus, clock=loop.time) as sim:
            session = UcmSession(
                UcmConfig(port="bus", timers=LinkTimers(), heartbeat_s=0, poll_s=0),
                opener=bus.opener("ucm"),
            )
            port = UcmHeaterPort(session, temperature_poll_s=3600)
            await port.start()
            try:
                async with asyncio.timeout(60):
                    await session.wait_ready()
                outcome = await port.send(SendCommand(CommandKind.SHED, 600, "test"))
                assert outcome.outcome is Outcome.ACCEPTED
                assert sim.heater.event is DrEvent.SHED
                assert port.device().ready
            finally:
                await port.stop()
        # Everything crossed the line: frames in both directions, at 19,200 baud.
        assert bus.log["ucm"]
        assert bus.log["heater"]
        assert session.snapshot.device_info is not None
        assert all(tx.baudrate == 19200 for txs in bus.log.values() for tx in txs)

    virtual_time.run(main())


def test_simulator_hang_up_on_the_bus_leaves_and_rejoins_the_line() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        bus = HalfDuplexBus()
        async with run_simulator("heater", bus=bus, clock=loop.time) as sim:
            sim.hang_up(reopen_after=1.0)
            assert bus.port("heater") is None
            await asyncio.sleep(2.0)
            assert bus.port("heater") is not None
            assert sim.driver is not None
            assert sim.driver.connected

    virtual_time.run(main())
