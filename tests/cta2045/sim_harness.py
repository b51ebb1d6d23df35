"""A UCM session against the simulated heater over a real pty pair, for the pty tests."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hil.heater import HeaterConfig
from hil.sim import Faults, Simulator, run_simulator
from ven_edge.cta2045.device import DeviceSnapshot
from ven_edge.cta2045.link import LinkTimers
from ven_edge.cta2045.ucm import TIME_SYNC_S, UcmConfig, UcmSession

#: Short timers: no tMA/tAR waits; timeouts that a busy two-core machine still meets on a pty.
FAST = dataclasses.replace(LinkTimers.fast(), ack_timeout=0.4, reply_timeout=0.8)


class FakeClock:
    """The heater's clock: real monotonic time plus whatever a test skips ahead."""

    def __init__(self) -> None:
        self.skipped = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.skipped

    def skip(self, seconds: float) -> None:
        self.skipped += seconds


@dataclass
class Rig:
    sim: Simulator
    ucm: UcmSession
    clock: FakeClock


@contextlib.asynccontextmanager
async def rig(
    tmp_path: Path,
    *,
    timers: LinkTimers = FAST,
    ucm_timers: LinkTimers | None = None,
    faults: Faults | None = None,
    heater_config: HeaterConfig | None = None,
    heartbeat_s: float = 0.0,
    poll_s: float = 0.0,
    ready_timeout: float = 10.0,
    time_sync_s: float = TIME_SYNC_S,
    wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> AsyncIterator[Rig]:
    path = tmp_path / "heater"
    clock = FakeClock()
    async with run_simulator(
        path, timers=timers, faults=faults, heater_config=heater_config, clock=clock
    ) as sim:
        config = UcmConfig(
            port=str(path),
            timers=ucm_timers or timers,
            heartbeat_s=heartbeat_s,
            poll_s=poll_s,
            time_sync_s=time_sync_s,
            reconnect_initial_s=0.05,
            reconnect_max_s=0.2,
        )
        ucm = UcmSession(config, wall_clock=wall_clock)
        await ucm.start()
        try:
            async with asyncio.timeout(ready_timeout):
                await ucm.wait_ready()
            yield Rig(sim, ucm, clock)
        finally:
            await ucm.stop()


async def wait_for(
    ucm: UcmSession, predicate: Callable[[DeviceSnapshot], bool], limit_s: float = 5.0
) -> DeviceSnapshot:
    """Wait until the device model satisfies ``predicate`` (woken by ``on_change``)."""
    changed = asyncio.Event()
    unsubscribe = ucm.on_change(lambda _snap: changed.set())
    try:
        async with asyncio.timeout(limit_s):
            while not predicate(ucm.snapshot):
                await changed.wait()
                changed.clear()
    finally:
        unsubscribe()
    return ucm.snapshot
