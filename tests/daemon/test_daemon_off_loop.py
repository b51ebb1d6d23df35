"""The daemon keeps the event loop free: planning in a worker thread, state written by the
store's writer thread, and nothing learnt meanwhile is lost."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.devices import answering
from ven_edge.command_policy import Outcome
from ven_edge.control import ControlPlan, PlanInputs, SendCommand
from ven_edge.cta2045.device import DeviceSnapshot
from ven_edge.daemon import PLAN_DOC, SIGNALS_DOC, Daemon, timeline_from_json
from ven_edge.signals import SignalInterval, SignalTimeline
from ven_edge.store import StateStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Heater:
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def device(self) -> DeviceSnapshot:
        return answering(stored_energy_wh=5000, energy_capacity_wh=10000)

    async def send(self, command: SendCommand) -> Outcome:
        return Outcome.ACCEPTED

    def set_listener(self, callback: object) -> None: ...


class Clock:
    speed = 1.0

    def now(self) -> datetime:
        return T0

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


class SlowPlanner:
    """Records the thread and the signals of each plan; the first one waits to be released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.calls: list[tuple[str, int]] = []

    def __call__(self, inputs: PlanInputs) -> ControlPlan:
        self.calls.append((threading.current_thread().name, len(inputs.signals)))
        self.started.set()
        self.release.wait(30)
        return ControlPlan(made_at=inputs.now, commands=(), steps=(), step_minutes=15)


def prices(count: int) -> SignalTimeline:
    return SignalTimeline(
        tuple(
            SignalInterval(T0 + timedelta(minutes=k), T0 + timedelta(minutes=k + 1), "PRICE", (k,))
            for k in range(count)
        )
    )


async def test_planning_runs_off_the_loop_and_signals_meanwhile_are_planned_again(
    tmp_path: Path,
) -> None:
    store = StateStore(tmp_path)
    planner = SlowPlanner()
    daemon = Daemon(heater=Heater(), grid=None, planner=planner, store=store, clock=Clock())  # type: ignore[arg-type]
    daemon.set_signals(prices(3))
    step = asyncio.create_task(daemon.control_step())
    assert await asyncio.to_thread(planner.started.wait, 30)
    # The loop is free while the plan is being made: a push arrives and is taken.
    await asyncio.sleep(0.01)
    assert not step.done()
    daemon.set_signals(prices(5))
    planner.release.set()
    await step
    await daemon.control_step()  # the signals that came meanwhile are planned
    assert [n for _, n in planner.calls] == [3, 5]
    assert all(name != threading.current_thread().name for name, _ in planner.calls)
    await store.flush()
    saved = StateStore(store.directory).load(SIGNALS_DOC)  # a new store reads the file
    assert timeline_from_json(saved) == prices(5)
    assert store.path(PLAN_DOC).exists()
