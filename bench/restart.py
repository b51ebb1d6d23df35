"""Restart in the middle of an event: how long until the heater has its command back.

The gateway (``ven-edge run``, a subprocess) is SIGKILLed while a utility Shed is running, the
VTN is stopped, and the gateway is started again: it must resume the Shed from its persisted
state alone. Figure: seconds from the restart's ``exec`` to the Shed arriving on the simulated
heater's pty (target ≤ 5 s on an idle machine). Baseline in the same run: the seconds the same
interpreter takes for ``python -m ven_edge --version`` (start-up and imports alone), so the ratio
shows what the resume costs beyond starting Python.

Run: ``.venv/bin/python bench/restart.py`` (about half a minute).
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hil.heater import DrEvent  # noqa: E402
from tests.conftest import wait_for  # noqa: E402
from tests.e2e.harness import UtilityDriver, demo_vtn, heater_on_pty  # noqa: E402
from tests.e2e.test_kill_restart import sheds, write_config  # noqa: E402

RUNS = 3
TARGET_S = 5.0
ENV = dict(os.environ, PYTHONPATH=str(REPO))


async def spawn(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ven_edge",
        *args,
        env=ENV,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def stop(daemon: asyncio.subprocess.Process, sig: int) -> None:
    daemon.send_signal(sig)
    await asyncio.wait_for(daemon.wait(), 15)


async def baseline_s() -> float:
    started = time.monotonic()
    proc = await spawn("--version")
    await proc.wait()
    return time.monotonic() - started


async def resume_s(work: Path) -> float:
    async with heater_on_pty(work) as sim:
        async with demo_vtn(work) as vtn, UtilityDriver(vtn.base_url) as utility:
            config = write_config(work / "ven-edge.toml", sim.path, vtn.base_url)
            daemon = await spawn("run", "--config", str(config))
            try:
                program = await utility.program()
                await utility.simple_event(program, 1, datetime.now(UTC), timedelta(hours=2))
                await wait_for(lambda: sim.heater.event is DrEvent.SHED, 30, "the first Shed")
                await asyncio.sleep(0.5)  # let the App ACK reach the gateway
            finally:
                await stop(daemon, signal.SIGKILL)
        before = sheds(sim.received)
        started = time.monotonic()
        daemon = await spawn("run", "--config", str(config))
        try:
            await wait_for(
                lambda: sheds(sim.received) > before and sim.heater.event is DrEvent.SHED,
                120,
                "the resumed Shed",
            )
            return time.monotonic() - started
        finally:
            await stop(daemon, signal.SIGTERM)


async def main() -> None:
    resumes, baselines = [], []
    for run in range(RUNS):
        baselines.append(await baseline_s())
        with tempfile.TemporaryDirectory(prefix="ven-edge-bench-restart-") as tmp:
            resumes.append(await resume_s(Path(tmp)))
        print(f"run {run + 1}: resumed after {resumes[-1]:.2f} s, --version {baselines[-1]:.2f} s")
    resume, base = statistics.median(resumes), statistics.median(baselines)
    print(
        f"median: Shed resumed {resume:.2f} s after the restart (target <= {TARGET_S:.0f} s), "
        f"{resume / base:.1f} x the interpreter's own start ({base:.2f} s)"
    )


if __name__ == "__main__":
    asyncio.run(main())
