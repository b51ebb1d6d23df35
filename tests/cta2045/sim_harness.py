"""A UCM session against the simulated heater over a real pty pair, for the pty tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from hil.heater import HeaterConfig
from hil.sim import Faults, Simulator, run_simulator
from ven_edge.cta2045.link import LinkTimers
from ven_edge.cta2045.ucm import UcmConfig, UcmSession

#: Short timers: no tMA/tAR waits; timeouts that a busy two-core machine still meets on a pty.
FAST = LinkTimers.fast()


@dataclass
class Rig:
    sim: Simulator
    ucm: UcmSession


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
) -> AsyncIterator[Rig]:
    path = tmp_path / "heater"
    async with run_simulator(
        path, timers=timers, faults=faults, heater_config=heater_config
    ) as sim:
        config = UcmConfig(
            port=str(path),
            timers=ucm_timers or timers,
            heartbeat_s=heartbeat_s,
            poll_s=poll_s,
            reconnect_initial_s=0.05,
            reconnect_max_s=0.2,
        )
        ucm = UcmSession(config)
        await ucm.start()
        try:
            async with asyncio.timeout(ready_timeout):
                await ucm.wait_ready()
            yield Rig(sim, ucm)
        finally:
            await ucm.stop()
