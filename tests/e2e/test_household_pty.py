"""The household profile learned by the real daemon from the simulated heater on a pty (tank
model and DOE draws, accelerated clock), persisted, and taken up again after a restart; and
learned on a clock as fast as the demo's, where readings are many simulated minutes apart."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

from hil.clock import AcceleratedClock
from hil.heater import COMM_TIMEOUT_S, HeaterConfig
from hil.hpwh_model import MODELS_DIR
from hil.scenarios import build_thermal_model
from hil.sim import Simulator
from tests.e2e.harness import heater_on_pty, make_config, running_daemon
from ven_edge.daemon import HOUSEHOLD_DOC
from ven_edge.store import StateStore

#: Six simulated minutes per wall second: the heater is polled every second (heater.poll_s), so
#: readings are six simulated minutes apart, within the profile's pairing gap.
SPEED = 360.0
#: Half an hour before local midnight: the DOE medium day opens with 17 gal in its first hour
#: (00:00 and 00:30) and 9 gal at 01:40, and has nothing from 02:00 to 10:30.
MIDNIGHT = datetime(2026, 2, 18).astimezone()
START = MIDNIGHT - timedelta(minutes=30)
SERIAL = "SIM0000000000001"  # hil.heater.HeaterConfig's default
WAIT_S = 120.0


async def wait_for(predicate: object, what: str) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def tank_heater(
    tmp_path: Path, start: datetime, speed: float
) -> AsyncIterator[tuple[Simulator, AcceleratedClock]]:
    """The Rheem 50 gal on its DOE medium day (local midnight the pattern's start) on a pty, on
    a clock from ``start`` running ``speed`` times faster than the wall."""
    clock = AcceleratedClock(speed, start_epoch_s=start.timestamp())
    local = start.astimezone()
    since_midnight = (local - local.replace(hour=0, minute=0, second=0, microsecond=0)).seconds
    tank = build_thermal_model("Rheem2020Prem50", "doe-medium", start_s=since_midnight)
    async with heater_on_pty(
        tmp_path,
        thermal=tank,
        clock=clock.monotonic,
        heater_config=HeaterConfig(comm_timeout_s=COMM_TIMEOUT_S * speed),
    ) as sim:
        yield sim, clock


async def test_profile_learned_over_the_pty_survives_a_restart(tmp_path: Path) -> None:
    async with tank_heater(tmp_path, START, SPEED) as (sim, clock):
        config = make_config(tmp_path, sim.path)
        async with running_daemon(config, clock=clock) as parts:
            household = parts.daemon.household
            await wait_for(lambda: household.observations >= 3, "three complete hours learned")
            learned = household.to_json()
        saved = StateStore(config.state.dir).load(HOUSEHOLD_DOC)
        assert saved["serial"] == SERIAL
        assert sum(saved["counts"]) >= 3
        assert household.forecast().learned

        # Started and stopped at once: the stop must not wait on a control loop that missed
        # its cancellation.
        async with running_daemon(config, clock=clock) as parts:
            again = parts.daemon.household.to_json()
    assert again["serial"] == SERIAL
    # What was learned before the restart is still there (an hour may have been added since).
    for slot, count in enumerate(saved["counts"]):
        if count and again["counts"][slot] == count:
            assert again["means_kwh"][slot] == saved["means_kwh"][slot]
    assert sum(again["counts"]) >= sum(saved["counts"])
    # The first hour's 17 gal heated by ~37 K are ~2.8 kWh; the learned hour holds most of it
    # (a draw overlapping heat-pump heating is partly missed) and far more than a quiet hour.
    hour_of_week = MIDNIGHT.weekday() * 24
    assert learned["counts"][hour_of_week] == 1
    assert 1.5 < learned["means_kwh"][hour_of_week] < 3.5
    assert learned["means_kwh"][hour_of_week + 2] < 0.3  # 02:00-03:00: no draw


async def test_readings_far_apart_on_a_demo_clock_are_learned(tmp_path: Path) -> None:
    # 1000 simulated seconds per wall second with the heater polled every wall second: readings
    # are about 17 simulated minutes apart, as in the demo (600x, polled every 2 s), where a
    # 15-minute pairing limit saw nothing but gaps.
    speed = 1000.0
    # Two simulated hours before midnight: commissioning takes a few wall seconds, an hour here.
    async with tank_heater(tmp_path, MIDNIGHT - timedelta(hours=2), speed) as (sim, clock):
        model = str(MODELS_DIR / "Rheem2020Prem50.json")
        config = make_config(tmp_path, sim.path, extra={"heater": {"model": model}})
        async with running_daemon(config, clock=clock) as parts:
            household = parts.daemon.household
            hour_of_week = MIDNIGHT.weekday() * 24
            await wait_for(
                lambda: household.to_json()["counts"][hour_of_week] == 1, "midnight's hour learned"
            )
            learned = household.to_json()
    assert 1.5 < learned["means_kwh"][hour_of_week] < 3.5  # ~2.8 kWh drawn (see above)
