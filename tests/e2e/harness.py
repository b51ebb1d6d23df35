"""Real parts on loopback for the end-to-end tests: simulated heater on a pty, the daemon."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from openadr3_client import BlClient

from hil.sim import Simulator, run_simulator
from tests.conftest import free_port
from ven_edge.clock import Clock
from ven_edge.config import Config, parse_config
from ven_edge.daemon import SIGNALS_DOC, timeline_to_json
from ven_edge.grid_port import WEBHOOK_PATH
from ven_edge.run import Parts, serve
from ven_edge.signals import SignalInterval, SignalTimeline
from ven_edge.store import StateStore
from vtn_lite.server import RunningVtn, demo_config, running_vtn


def make_config(
    tmp_path: Path,
    heater_port: Path,
    *,
    vtn_url: str | None = None,
    webhook_port: int | None = None,
    poll_interval_s: float = 30.0,
    web_port: int | None = None,
    extra: dict[str, Any] | None = None,
) -> Config:
    data: dict[str, Any] = {
        "heater": {"port": str(heater_port), "heartbeat_s": 60, "poll_s": 1},
        "state": {"dir": str(tmp_path / "state")},
        "web": {"enabled": True, "host": "127.0.0.1", "port": web_port or free_port()},
        "vtn": {"poll_interval_s": poll_interval_s},
        "reports": {"cadence_s": 60},
        # The test machine's clock need not be NTP-synchronised; tests/daemon/test_clock_hold.py
        # covers the hold.
        "clock": {"require_sync": False},
    }
    if vtn_url is not None:
        data["vtn"].update({"url": vtn_url, "client_id": "ven_client", "client_secret": "999"})
        if webhook_port is not None:
            data["vtn"]["webhook"] = {
                "enabled": True,
                "host": "127.0.0.1",
                "port": webhook_port,
                "public_url": f"http://127.0.0.1:{webhook_port}{WEBHOOK_PATH}",
            }
    for section, values in (extra or {}).items():
        data.setdefault(section, {}).update(values)
    return parse_config(data, source="test", base_dir=tmp_path)


def persist_signals(config: Config, *intervals: SignalInterval) -> None:
    """Save ``intervals`` where the daemon persists its signals, for it to resume them on start."""
    StateStore(config.state.dir).save(SIGNALS_DOC, timeline_to_json(SignalTimeline(intervals)))


@contextlib.asynccontextmanager
async def heater_on_pty(tmp_path: Path, **kwargs: Any) -> AsyncIterator[Simulator]:
    async with run_simulator(tmp_path / "heater", **kwargs) as sim:
        yield sim


@contextlib.asynccontextmanager
async def running_daemon(
    config: Config, *, clock: Clock | None = None, limit_s: float = 15.0
) -> AsyncIterator[Parts]:
    """The daemon as ``ven-edge run`` builds it, in this event loop; stopped on exit."""
    stop = asyncio.Event()
    ready: asyncio.Future[Parts] = asyncio.get_running_loop().create_future()

    async def started(parts: Parts) -> None:
        ready.set_result(parts)

    task = asyncio.create_task(serve(config, clock=clock, stop=stop, started=started))
    try:
        done, _ = await asyncio.wait({task, ready}, timeout=limit_s, return_when="FIRST_COMPLETED")
        if task in done:
            task.result()  # raises what went wrong
        if ready not in done:
            raise TimeoutError("daemon did not start")
        yield ready.result()
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=limit_s)


BL_ID, BL_SECRET = "bl_client", "1001"  # vtn-lite --demo's well-known credentials


@contextlib.asynccontextmanager
async def demo_vtn(
    tmp_path: Path, *, port: int = 0, clock: Callable[[], float] = time.time
) -> AsyncIterator[RunningVtn]:
    """vtn_lite in demo mode (SQLite file, loopback, lab callbacks allowed); port 0: any free."""
    config = demo_config(tmp_path, port=port, scrypt_n=2**4)
    async with running_vtn(config, clock=clock) as vtn:
        yield vtn


class UtilityDriver:
    """The utility's business logic, driving the VTN with python-oa3-client (sync httpx, so
    every call runs in a worker thread while the VTN serves in this event loop)."""

    def __init__(self, base_url: str) -> None:
        self._client = BlClient(url=base_url, client_id=BL_ID, client_secret=BL_SECRET)

    async def __aenter__(self) -> UtilityDriver:
        await asyncio.to_thread(self._client.start)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self._client.stop)

    async def _call(self, method: str, *args: Any) -> Any:
        response = await asyncio.to_thread(getattr(self._client, method), *args)
        response.raise_for_status()
        return response.json() if response.content else None

    async def program(self, name: str = "hpwh-dr") -> str:
        body = {"programName": name}
        created = await self._call("create_program", body)
        return str(created["id"])

    async def simple_event(
        self,
        program_id: str,
        level: int,
        start: datetime,
        duration: timedelta,
        name: str = "dr",
        report: str | None = None,
    ) -> str:
        body: dict[str, Any] = {
            "programID": program_id,
            "eventName": name,
            "priority": 0,
            "intervalPeriod": {
                "start": start.isoformat().replace("+00:00", "Z"),
                "duration": f"PT{int(duration.total_seconds())}S",
            },
            "intervals": [{"id": 0, "payloads": [{"type": "SIMPLE", "values": [level]}]}],
        }
        if report is not None:
            # frequency 0: ad hoc reports, the current reading at the VEN's cadence.
            body["reportDescriptors"] = [{"payloadType": report, "frequency": 0}]
        created = await self._call("create_event", body)
        return str(created["id"])

    async def delete_event(self, event_id: str) -> None:
        await self._call("delete_event", event_id)
