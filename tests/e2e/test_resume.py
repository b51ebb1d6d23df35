"""A restarted gateway resumes the right command from its persisted state within 5 s."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hil.heater import DrEvent
from tests.conftest import wait_for
from tests.e2e.harness import (
    heater_on_pty,
    make_config,
    persist_signals,
    running_daemon,
)
from ven_edge.signals import SignalInterval, SignalTimeline

RESUME_LIMIT_S = 5.0


async def test_persisted_event_is_resumed_on_the_heater_within_5_s(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    event = SignalInterval(
        now - timedelta(minutes=30), now + timedelta(hours=1), "SIMPLE", (1,), 0, "ev-shed"
    )
    async with heater_on_pty(tmp_path) as sim:
        config = make_config(tmp_path, sim.path)
        persist_signals(config, event)
        async with running_daemon(config) as parts:
            took = await wait_for(
                lambda: sim.heater.event is DrEvent.SHED, RESUME_LIMIT_S, "Shed on the heater"
            )
            assert took < RESUME_LIMIT_S
            await wait_for(
                lambda: parts.daemon.heater.device().operational_state in (2, 4), 5, "op state"
            )
            snap = parts.daemon.snapshot()
            assert snap.heater.mode == "saving"
            assert snap.events.current is not None
            assert snap.events.current.id == "ev-shed"
        # Stopped cleanly: the persisted plan is still there for the next start.
        assert (Path(config.state.dir) / "plan.json").stat().st_mode & 0o777 == 0o600


async def test_without_signals_the_heater_stays_normal(tmp_path: Path) -> None:
    async with heater_on_pty(tmp_path) as sim:
        config = make_config(tmp_path, sim.path)
        async with running_daemon(config) as parts:
            await wait_for(lambda: parts.daemon.heater.device().ready, 5, "commissioning")
            assert sim.heater.event is DrEvent.NONE
            assert parts.daemon.sent == []


async def test_a_failing_planner_keeps_the_last_good_plan(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    event = SignalInterval(now, now + timedelta(hours=1), "SIMPLE", (1,), 0, "ev-keep")
    async with heater_on_pty(tmp_path) as sim:
        config = make_config(tmp_path, sim.path)
        persist_signals(config, event)
        async with running_daemon(config) as parts:
            daemon = parts.daemon
            await wait_for(lambda: sim.heater.event is DrEvent.SHED, RESUME_LIMIT_S, "Shed")
            good = daemon.controller.plan

            def broken(_inputs: object) -> object:
                raise ArithmeticError("planner bug")

            daemon.planner = broken  # type: ignore[assignment]
            daemon.set_signals(SignalTimeline())  # new signals: a re-plan is attempted
            await asyncio.sleep(0.3)
            assert daemon.controller.plan is good
            assert sim.heater.event is DrEvent.SHED


async def test_a_price_shed_is_worded_as_prices_not_as_a_utility_event(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    prices = (
        SignalInterval(
            now + timedelta(hours=h - 1),
            now + timedelta(hours=h),
            "PRICE",
            (0.45 if h < 3 else 0.08,),
            None,
            "tou",
        )
        for h in range(24)
    )
    async with heater_on_pty(tmp_path) as sim:
        config = make_config(tmp_path, sim.path)
        persist_signals(config, *prices)
        async with running_daemon(config) as parts:
            await wait_for(lambda: sim.heater.event is DrEvent.SHED, 8, "a price shed")
            await wait_for(lambda: parts.daemon.snapshot().heater.mode == "saving", 5, "saving")
            text = parts.daemon.snapshot().heater.state_text
            assert text.startswith("Saving energy: high prices until"), text
