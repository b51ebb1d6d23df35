"""Customer override on the heater during an event: respected (nothing re-sent), shown as
"Opted out" and recorded for the reports; when it clears, the event goes on."""

from __future__ import annotations

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
from ven_edge.cta2045.command_kind import CommandKind
from ven_edge.grid_port import readings_of
from ven_edge.signals import SignalInterval

# Waits are for the daemon's own steps; generous so that a loaded machine only makes them slower.
LIMIT_S = 30.0


async def test_override_is_respected_shown_and_reported(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    event = SignalInterval(now, now + timedelta(hours=1), "SIMPLE", (1,), 0, "ev-1")
    async with heater_on_pty(tmp_path) as sim:
        config = make_config(tmp_path, sim.path)
        persist_signals(config, event)
        async with running_daemon(config) as parts:
            daemon = parts.daemon
            await wait_for(lambda: sim.heater.event is DrEvent.SHED, LIMIT_S, "Shed")
            await wait_for(lambda: bool(daemon.sent), LIMIT_S, "the App ACK")
            await wait_for(
                lambda: daemon.snapshot().heater.tank_temp_c is not None,
                LIMIT_S,
                "tank temperature",
            )
            sent = len(daemon.sent)
            sim.set_override(True)
            await wait_for(
                lambda: daemon.heater.device().opted_out, LIMIT_S, "the override at the gateway"
            )
            await wait_for(
                lambda: daemon.snapshot().heater.mode == "opted_out", LIMIT_S, "Opted out"
            )
            assert "Opted out" in daemon.snapshot().heater.state_text
            # The page shows the heater's state as soon as it is read; the override is recorded
            # by the control pass that the change wakes, which may come a moment later.
            await wait_for(
                lambda: bool(daemon.controller.overrides), LIMIT_S, "the override recorded"
            )
            assert [(o.kind, o.event_id) for o in daemon.controller.overrides] == [
                (CommandKind.SHED, "ev-1")
            ]
            assert readings_of(daemon.heater.device(), None).operating_state in (
                "IDLE_OPTED_OUT",
                "RUNNING_OPTED_OUT",
            )
            sim.set_override(False)
            await wait_for(
                lambda: not daemon.heater.device().opted_out, LIMIT_S, "the override cleared"
            )
            await wait_for(
                lambda: daemon.snapshot().heater.mode == "saving", LIMIT_S, "saving again"
            )
            assert sim.heater.event is DrEvent.SHED
            assert len(daemon.sent) == sent, "a command was sent while the customer opted out"
