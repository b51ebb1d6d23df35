"""Under systemd (NOTIFY_SOCKET set) `ven-edge run` says READY=1 with a STATUS, pings the watchdog
at half its interval and says STOPPING=1 on SIGTERM, then exits 0."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT, free_port
from tests.e2e.harness import heater_on_pty

WATCHDOG_USEC = 400_000


async def test_ready_status_watchdog_and_stopping(tmp_path: Path) -> None:
    notify = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify))
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    received: list[str] = []

    async def read_until(word: str, limit_s: float) -> None:
        async with asyncio.timeout(limit_s):
            while not any(word in m for m in received):
                received.append((await loop.sock_recv(sock, 4096)).decode())

    async with heater_on_pty(tmp_path) as sim:
        config = tmp_path / "ven-edge.toml"
        config.write_text(
            f'[heater]\nport = "{sim.path}"\n[web]\nport = {free_port()}\n'
            f'[state]\ndir = "{tmp_path / "state"}"\n'
        )
        env = dict(
            os.environ,
            PYTHONPATH=str(REPO_ROOT),
            NOTIFY_SOCKET=str(notify),
            WATCHDOG_USEC=str(WATCHDOG_USEC),
        )
        env.pop("WATCHDOG_PID", None)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ven_edge", "run", "--config", str(config),
            env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await read_until("READY=1", 15)
            ready = next(m for m in received if "READY=1" in m)
            assert "STATUS=" in ready
            received.clear()
            await read_until("WATCHDOG=1", 2 * WATCHDOG_USEC / 1e6)
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 15)
        await read_until("STOPPING=1", 2)
        sock.close()
    assert proc.returncode == 0, err.decode()
