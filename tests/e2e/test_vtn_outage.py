"""The VTN gone for a simulated day: the plan keeps executing on the heater, reports are queued
on disk, and once the VTN is back they all arrive, each exactly once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from hil.clock import AcceleratedClock
from hil.heater import DrEvent
from tests.conftest import free_port, wait_for
from tests.e2e.harness import (
    UtilityDriver,
    demo_vtn,
    heater_on_pty,
    make_config,
    running_daemon,
)
from ven_edge.oadr3.backoff import Backoff
from vtn_lite.auth import Principal
from vtn_lite.service import SearchParams

SPEED = 6000.0  # a simulated day in 14.4 s
HOUR = 3600.0 / SPEED  # one simulated hour, in real seconds


async def test_day_without_vtn_plan_runs_and_reports_arrive_later(tmp_path: Path) -> None:
    clock = AcceleratedClock(SPEED)
    port = free_port()
    async with heater_on_pty(tmp_path) as sim:
        config = make_config(
            tmp_path,
            sim.path,
            vtn_url=f"http://127.0.0.1:{port}/openadr3/3.1.0",
            poll_interval_s=5,
            extra={"reports": {"cadence_s": 3600}},
        )
        async with running_daemon(config, clock=clock) as parts:
            assert parts.grid is not None
            link = parts.grid.link  # type: ignore[attr-defined]
            link.backoff = Backoff(base=0.1, cap=1.0)  # retry soon once the VTN is back
            async with (
                demo_vtn(tmp_path, port=port, clock=clock.time) as vtn,
                UtilityDriver(vtn.base_url) as utility,
            ):
                program = await utility.program()
                # Far enough ahead that the next poll (5 real s = 8.3 simulated h) sees it first.
                start = clock.now() + timedelta(hours=12)
                event = await utility.simple_event(
                    program, 1, start, timedelta(hours=6), report="OPERATING_STATE"
                )
                await wait_for(
                    lambda: any(i.event_id == event for i in parts.daemon.timeline.intervals),
                    10,
                    "the event at the gateway",
                )
            # The VTN is down from here on.
            down_at = clock.now()
            assert clock.now() < start, "the test machine is too slow for this clock speed"
            await wait_for(
                lambda: sim.heater.event is DrEvent.SHED,
                14 * HOUR + 5,
                "Shed while the VTN is down",
            )
            assert clock.now() < start + timedelta(hours=6)
            await wait_for(
                lambda: sim.heater.event is DrEvent.NONE, 8 * HOUR + 5, "End Shed while down"
            )
            remaining = (down_at + timedelta(hours=24) - clock.now()).total_seconds() / SPEED
            await asyncio.sleep(max(0.0, remaining))
            queued = {r["reportName"] for r in parts.grid.outbox.pending}  # type: ignore[attr-defined]
            assert len(queued) >= 20, f"only {len(queued)} hourly reports queued in a day"
            assert not link.health.connected
            async with demo_vtn(tmp_path, port=port, clock=clock.time) as vtn:
                await wait_for(
                    lambda: not parts.grid.outbox.pending,  # type: ignore[attr-defined]
                    20,
                    "the outbox to drain",
                )
                stored = await vtn.vtn.search(
                    Principal("audit", "bl"), "REPORT", SearchParams(event_id=event)
                )
    names = [r["reportName"] for r in stored]
    assert len(names) == len(set(names)), "a report arrived twice"
    assert queued <= set(names), "a queued report never arrived"
    states = {
        p["values"][0]
        for r in stored
        for res in r["resources"]
        for i in res["intervals"]
        for p in i["payloads"]
    }
    assert states & {"RUNNING_CURTAILED", "IDLE_CURTAILED"}, states
