"""Clock safety and the household profile in the daemon: nothing is planned, sent, reported or
learned until the clock is synchronised; the learned profile reaches the planner and survives a
restart."""

from __future__ import annotations

import asyncio
import ctypes
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.devices import answering
from ven_edge.clocksync import SystemClockSync, _Timex
from ven_edge.command_policy import Delivery, Outcome
from ven_edge.control import CommandKind, ControlPlan, PlanInputs, SendCommand
from ven_edge.cta2045.device import DeviceInformationReply, DeviceSnapshot
from ven_edge.daemon import HOUSEHOLD_DOC, Daemon, DaemonSettings
from ven_edge.household import DrawForecast, Household, default_profile
from ven_edge.plan.rule_planner import plan_by_rules
from ven_edge.ports import GridLabels
from ven_edge.signals import SignalInterval, SignalTimeline
from ven_edge.status_model import VtnHealth
from ven_edge.store import StateStore

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


class Switch:
    def __init__(self, on: bool) -> None:
        self.on = on

    def synchronised(self) -> bool:
        return self.on

    def explain(self) -> str:
        return "synchronised" if self.on else "not synchronised"


@dataclass
class Clock:
    at: datetime = T0
    speed: float = 1.0

    def now(self) -> datetime:
        return self.at

    async def sleep(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)
        await asyncio.sleep(0)


@dataclass
class Heater:
    clock: Clock
    serial: str = "SN-1"
    stored_kwh: float = 8.0
    used_kwh: float = 0.0
    frames: list[SendCommand] = field(default_factory=list)

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def set_listener(self, callback: Callable[[], None]) -> None: ...

    def device(self) -> DeviceSnapshot:
        return answering(
            operational_state=0,
            stored_energy_wh=round(1000 * self.stored_kwh),
            energy_capacity_wh=10000,
            energy_used_wh=round(1000 * self.used_kwh),
            device_info=DeviceInformationReply("2.0", 1, 3, 1, 0, serial=self.serial),
        )

    def commands(self) -> str:
        return "basic"

    async def send(self, command: SendCommand) -> Delivery:
        self.frames.append(command)
        return Delivery(Outcome.ACCEPTED)


class Grid:
    def __init__(self) -> None:
        self.reports = 0

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def run(self) -> None:
        await asyncio.Event().wait()

    def set_listener(self, callback: object) -> None: ...

    def queue_reports(self, device: DeviceSnapshot) -> None:
        self.reports += 1

    def health(self) -> VtnHealth:
        return VtnHealth(ok=True, url=None)

    def labels(self) -> GridLabels:
        return GridLabels({"prog-1": "Peak saver"}, "USD/KWH")


def shed_now() -> SignalTimeline:
    return SignalTimeline(
        (SignalInterval(T0, T0 + timedelta(hours=2), "SIMPLE", (1,), 0, "ev-1", "prog-1"),)
    )


def make_daemon(
    tmp_path: Path, sync: Switch, heater: Heater, grid: Grid | None = None, planner: object = None
) -> Daemon:
    return Daemon(
        heater=heater,
        grid=grid,
        planner=planner or plan_by_rules,  # type: ignore[arg-type]
        store=StateStore(tmp_path / "state"),
        clock=heater.clock,
        settings=DaemonSettings(report_tick_s=60.0),
        clock_sync=sync,
    )


async def test_nothing_is_planned_or_sent_until_the_clock_is_synchronised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ven_edge.daemon")
    sync = Switch(False)
    heater = Heater(Clock())
    daemon = make_daemon(tmp_path, sync, heater, Grid())
    daemon.set_signals(shed_now())
    assert await daemon.control_step() is None
    assert heater.frames == []
    assert daemon.controller.plan is None
    assert "system clock not synchronised: no planning, commands or reports" in caplog.text
    snapshot = daemon.snapshot().as_json()
    assert snapshot["gateway"]["clock_synchronised"] is False  # type: ignore[index]
    assert snapshot["plan"]["commands"] == []  # type: ignore[index]
    assert daemon.status_line().startswith("waiting for the clock to be synchronised")

    sync.on = True
    sent = await daemon.control_step()
    assert sent is not None
    assert sent.kind is CommandKind.SHED
    assert "system clock synchronised: planning and reporting" in caplog.text
    snapshot = daemon.snapshot().as_json()
    assert snapshot["gateway"]["clock_synchronised"] is True  # type: ignore[index]
    current = snapshot["events"]["current"]  # type: ignore[index]
    assert (current["program"], current["program_name"]) == ("prog-1", "Peak saver")


async def test_a_persisted_plan_is_not_followed_before_the_clock_is_synchronised(
    tmp_path: Path,
) -> None:
    heater = Heater(Clock())
    first = make_daemon(tmp_path, Switch(True), heater)
    first.set_signals(shed_now())
    await first.control_step()
    await first.store.flush()
    heater.frames.clear()
    restarted = make_daemon(tmp_path, Switch(False), heater)
    restarted.restore()
    assert restarted.controller.plan is not None
    assert await restarted.control_step() is None
    assert heater.frames == []


async def test_reports_are_held_until_the_clock_is_synchronised(tmp_path: Path) -> None:
    sync = Switch(False)
    grid = Grid()
    daemon = make_daemon(tmp_path, sync, Heater(Clock()), grid)
    task = asyncio.create_task(daemon._report_loop())
    try:
        for _ in range(20):
            await asyncio.sleep(0)
        assert grid.reports == 0
        sync.on = True
        for _ in range(200):
            if grid.reports:
                break
            await asyncio.sleep(0)
        assert grid.reports > 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def tick(daemon: Daemon, heater: Heater, minutes: int, draw_kwh_per_min: float = 0.0) -> None:
    for _ in range(minutes):
        heater.clock.at += timedelta(minutes=1)
        heater.stored_kwh = max(0.0, heater.stored_kwh - draw_kwh_per_min)
        daemon.heater_changed()


async def test_household_is_learned_only_on_a_synchronised_clock(tmp_path: Path) -> None:
    sync = Switch(False)
    heater = Heater(Clock())
    daemon = make_daemon(tmp_path, sync, heater)
    tick(daemon, heater, 120, 0.01)
    assert daemon.household.to_json()["last"] is None
    sync.on = True
    tick(daemon, heater, 120, 0.01)
    assert daemon.household.observations >= 1


class Recorder:
    def __init__(self) -> None:
        self.draws: list[DrawForecast | None] = []

    def __call__(self, inputs: PlanInputs) -> ControlPlan:
        assert inputs.draw is None or isinstance(inputs.draw, DrawForecast)
        self.draws.append(inputs.draw)
        return ControlPlan(made_at=inputs.now)


async def test_learned_profile_reaches_the_planner_and_survives_a_restart(tmp_path: Path) -> None:
    heater = Heater(Clock())
    planner = Recorder()
    daemon = make_daemon(tmp_path, Switch(True), heater, planner=planner)
    await daemon.control_step()
    assert planner.draws[-1] == DrawForecast(default_profile())
    tick(daemon, heater, 180, 0.02)  # 1.2 kWh an hour from 06:00 to 09:00 UTC
    await daemon.replan(heater.clock.now())
    learned = planner.draws[-1]
    assert learned is not None
    assert learned.learned
    assert learned.kwh_by_hour_of_week != default_profile()
    await daemon.store.flush()
    assert daemon.store.load(HOUSEHOLD_DOC)["serial"] == "SN-1"

    again = Recorder()
    restarted = make_daemon(tmp_path, Switch(True), heater, planner=again)
    restarted.restore()
    await restarted.replan(heater.clock.now())
    assert again.draws[-1] == learned

    # Another heater on the same gateway: the profile starts afresh and the reset is saved.
    heater.serial = "SN-2"
    tick(restarted, heater, 1)
    await restarted.replan(heater.clock.now())
    assert again.draws[-1] == DrawForecast(default_profile())
    await restarted.store.flush()
    assert restarted.store.load(HOUSEHOLD_DOC)["serial"] == "SN-2"


def test_a_household_document_that_is_not_an_object_is_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = StateStore(tmp_path / "state")
    store.save(HOUSEHOLD_DOC, [1, 2, 3])
    daemon = make_daemon(tmp_path, Switch(True), Heater(Clock()))
    daemon.restore()
    assert "persisted household profile is not an object" in caplog.text
    assert daemon.household.forecast() == Household().forecast()


def test_system_clock_sync_reads_timesyncd_then_the_kernel(tmp_path: Path) -> None:
    flag = tmp_path / "synchronized"
    answers: list[bool | None] = [False]
    sync = SystemClockSync(flag=flag, kernel=lambda: answers[0])
    assert not sync.synchronised()
    assert sync.explain() == "not synchronised: no NTP source has set the clock since boot"
    answers[0] = None
    assert not sync.synchronised()
    assert sync.explain().startswith("unknown: adjtimex(2) failed")
    answers[0] = True
    assert sync.synchronised()
    answers[0] = False
    flag.touch()
    assert sync.synchronised()
    assert str(flag) in sync.explain()


def test_timex_layout_matches_glibc() -> None:
    # <sys/timex.h>: unsigned int modes, then longs, with int status after four longs.
    long = ctypes.sizeof(ctypes.c_long)
    assert _Timex.maxerror.offset == (24 if long == 8 else 12)
    assert _Timex.status.offset == (40 if long == 8 else 20)
