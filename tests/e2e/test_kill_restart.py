"""The daemon killed in the middle of an event and restarted (VTN gone meanwhile) resumes the
event's command on the heater from its persisted state alone, as it starts.

No wall-clock bound: on a loaded machine the interpreter's start alone can take seconds. What
the test holds is that the command comes back at start-up, long before the first periodic
re-plan (control.py, every 15 minutes) could bring it back, and with no VTN to ask. How long
the resume takes is measured by bench/restart.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hil.heater import DrEvent
from tests.conftest import REPO_ROOT, free_port, wait_for
from tests.e2e.harness import UtilityDriver, demo_vtn, heater_on_pty
from ven_edge.cta2045 import messages
from ven_edge.cta2045.frames import Frame

# Generous against a loaded machine, and still far below the 15-minute periodic re-plan.
RESUME_WAIT_S = 120.0


def sheds(received: list[Frame]) -> int:
    return sum(1 for f in received if messages.decode(f).name == "shed")


def write_config(path: Path, heater: Path, vtn_url: str) -> Path:
    path.write_text(
        f"""
[vtn]
url = "{vtn_url}"
client_id = "ven_client"
client_secret = "999"
poll_interval_s = 5

[heater]
port = "{heater}"
poll_s = 1

[web]
port = {free_port()}

[state]
dir = "{path.parent / "state"}"

[clock]
require_sync = false
"""
    )
    return path


async def start_daemon(config: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ven_edge",
        "run",
        "--config",
        str(config),
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_killed_mid_event_resumes_the_command_at_start(tmp_path: Path) -> None:
    async with heater_on_pty(tmp_path) as sim:
        async with demo_vtn(tmp_path) as vtn, UtilityDriver(vtn.base_url) as utility:
            config = write_config(tmp_path / "ven-edge.toml", sim.path, vtn.base_url)
            daemon = await start_daemon(config)
            try:
                program = await utility.program()
                await utility.simple_event(program, 1, datetime.now(UTC), timedelta(hours=2))
                await wait_for(lambda: sim.heater.event is DrEvent.SHED, 15, "the first Shed")
                await asyncio.sleep(0.5)  # let the App ACK reach the daemon
            finally:
                daemon.send_signal(signal.SIGKILL)
                await daemon.wait()
        # The VTN is gone now; only the daemon's persisted state knows about the event.
        before = sheds(sim.received)
        daemon = await start_daemon(config)
        try:
            await wait_for(
                lambda: sheds(sim.received) > before and sim.heater.event is DrEvent.SHED,
                RESUME_WAIT_S,
                "the resumed Shed",
            )
        finally:
            daemon.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(daemon.communicate(), 15)
        assert daemon.returncode == 0, err.decode()
        assert b"Traceback" not in err
