"""The heater's port is lost in the middle of an event and comes back: the UCM commissions again
(without End Shed) and the control loop re-sends the Shed in force with its remaining time,
because the heater may have lost it meanwhile (power cycle, its own timer)."""

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
from ven_edge.control import CommandKind
from ven_edge.cta2045 import messages
from ven_edge.cta2045.encodings import covering_duration_s
from ven_edge.cta2045.frames import Frame
from ven_edge.signals import SignalInterval

EVENT_S = 3600


def sheds(received: list[Frame]) -> list[int]:
    """The durations of the Shed requests the heater received, in seconds."""
    out = []
    for frame in received:
        message = messages.decode(frame)
        if message.name == "shed":
            out.append(int(message.fields["duration_s"]))  # type: ignore[call-overload]
    return out


async def test_shed_is_sent_again_after_the_port_comes_back(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    event = SignalInterval(now, now + timedelta(seconds=EVENT_S), "SIMPLE", (1,), 0, "ev-1")
    async with heater_on_pty(tmp_path) as sim:
        config = make_config(tmp_path, sim.path)
        persist_signals(config, event)
        async with running_daemon(config) as parts:
            daemon = parts.daemon
            await wait_for(lambda: sim.heater.event is DrEvent.SHED, 5, "Shed")
            await wait_for(lambda: bool(daemon.sent), 2, "the App ACK")
            assert daemon.heater.device().commissionings == 1
            assert len(sheds(sim.received)) == 1
            sim.hang_up(reopen_after=0.3)
            sim.heater.event = DrEvent.NONE  # the heater lost the event while unreachable
            await wait_for(lambda: daemon.heater.device().commissionings == 2, 10, "recommissioned")
            await wait_for(lambda: sim.heater.event is DrEvent.SHED, 5, "the Shed re-sent")
            durations = sheds(sim.received)
            assert len(durations) == 2
            # The remaining time, not afresh (each lease rounded up to cover the event's end).
            assert durations[1] <= durations[0] <= covering_duration_s(EVENT_S)
            await wait_for(lambda: daemon.sent[-1][1].kind is CommandKind.SHED, 2, "App ACK")
            assert daemon.sent[-1][1].event_id == "ev-1"
