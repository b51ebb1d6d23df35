"""The daemon against the simulated heater over a pty, with the line and the heater misbehaving.

A link NAK, a timeout or a lost port is the line, not the heater's answer: the command is retried
with backoff and reaches the heater. Only an application NAK with its reason is a refusal, and it
holds only until the heater's operational state changes or the port is reopened. The heater's
periodic polls are set far apart so that the faults hit the command frames.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from hil.heater import DrEvent
from hil.sim import Simulator
from hil.thermal import ThermalControls, ThermalState
from tests.conftest import wait_for
from tests.e2e.harness import heater_on_pty, make_config, running_daemon
from ven_edge.command_policy import Outcome
from ven_edge.control import CommandKind
from ven_edge.cta2045.device import DeviceSnapshot
from ven_edge.daemon import Daemon
from ven_edge.heater_port import UcmHeaterPort
from ven_edge.run import Parts
from ven_edge.signals import SignalInterval, SignalTimeline

QUIET_HEATER = {"heater": {"poll_s": 600, "heartbeat_s": 600}}
LIMIT_S = 30.0  # generous: backoff of 2 s and 4 s plus link retries on a loaded machine


class SwitchedTank:
    """A tank whose only behaviour is whether it heats (the heater's state 0 or 1, §8.3)."""

    def __init__(self) -> None:
        self.heating = False

    @property
    def state(self) -> ThermalState:
        power = 500.0 if self.heating else 0.0
        return ThermalState(50.0, 50.0, 6000.0, 12000.0, power, self.heating, 0.0)

    def advance(self, dt_s: float, controls: ThermalControls) -> ThermalState:
        return self.state


def event_now(daemon: Daemon, level: int, event_id: str, minutes: int = 60) -> SignalTimeline:
    """A SIMPLE event in one-minute intervals from now, as a VTN may send it."""
    start = daemon.clock.now()
    minute = timedelta(minutes=1)
    return SignalTimeline(
        tuple(
            SignalInterval(
                start + i * minute, start + (i + 1) * minute, "SIMPLE", (level,), 0, event_id
            )
            for i in range(minutes)
        )
    )


@asynccontextmanager
async def quiet_gateway(sim: Simulator, tmp_path: Path) -> AsyncIterator[Parts]:
    config = make_config(tmp_path, sim.path, extra=QUIET_HEATER)
    async with running_daemon(config) as parts:
        daemon = parts.daemon
        # Commissioned and the first temperature reads done: from here on the line is quiet.
        await wait_for(lambda: daemon.heater.device().set_point_c is not None, 10, "set point")
        yield parts


def outcomes(daemon: Daemon, kind: CommandKind) -> list[Outcome]:
    return [outcome for _t, command, outcome in daemon.sent if command.kind is kind]


@pytest.mark.parametrize(("code", "count"), [(0x03, 8), (0x06, 2)])
async def test_a_burst_of_link_naks_delays_the_command_but_never_cancels_it(
    tmp_path: Path, code: int, count: int
) -> None:
    async with heater_on_pty(tmp_path) as sim, quiet_gateway(sim, tmp_path) as parts:
        daemon = parts.daemon
        # 0x03 is retried by the link itself (four tries a request); 0x06 is not.
        sim.faults.link_nak_code, sim.faults.link_naks = code, count
        daemon.set_signals(event_now(daemon, 2, "simple-2"))
        await wait_for(lambda: sim.heater.event is DrEvent.CRITICAL_PEAK, LIMIT_S, "Critical Peak")
        assert sim.faults.link_naks == 0
        sent = outcomes(daemon, CommandKind.CRITICAL_PEAK)
        assert sent[:2] == [Outcome.FAILED, Outcome.FAILED]
        await wait_for(lambda: Outcome.ACCEPTED in outcomes(daemon, CommandKind.CRITICAL_PEAK),
                       LIMIT_S, "the App ACK")  # fmt: skip
        # Two failures, then one delivery: a retry is not a renewal and nothing else was sent.
        assert outcomes(daemon, CommandKind.CRITICAL_PEAK) == [*sent[:2], Outcome.ACCEPTED]


async def test_after_an_unplug_the_heater_goes_back_to_the_planned_critical_peak(
    tmp_path: Path,
) -> None:
    async with heater_on_pty(tmp_path) as sim, quiet_gateway(sim, tmp_path) as parts:
        daemon, heater = parts.daemon, parts.heater
        assert isinstance(heater, UcmHeaterPort)
        daemon.set_signals(event_now(daemon, 2, "simple-2"))
        await wait_for(lambda: sim.heater.event is DrEvent.CRITICAL_PEAK, LIMIT_S, "Critical Peak")
        assert heater.device().commissionings == 1

        def noisy_line_after_replug(snapshot: DeviceSnapshot) -> None:
            # Armed the moment the heater is commissioned again, before the control loop runs:
            # the first frame after the replug meets line noise (four NAKs 0x05, one request).
            if snapshot.commissionings == 2 and not sim.faults.link_naks:
                sim.faults.link_nak_code, sim.faults.link_naks = 0x05, 4
                unsubscribe()

        unsubscribe = heater.session.on_change(noisy_line_after_replug)
        # Unplugged: the heater loses power and with it the event.
        sim.hang_up(reopen_after=1.0)
        sim.heater.event = DrEvent.NONE
        await wait_for(lambda: heater.device().commissionings == 2, LIMIT_S, "reopened")
        await wait_for(lambda: sim.heater.event is DrEvent.CRITICAL_PEAK, LIMIT_S, "Critical Peak")
        assert sim.faults.link_naks == 0
        assert outcomes(daemon, CommandKind.CRITICAL_PEAK)[1] is Outcome.FAILED


async def test_an_app_nak_blocks_the_command_until_the_heaters_state_changes(
    tmp_path: Path,
) -> None:
    tank = SwitchedTank()
    async with heater_on_pty(tmp_path, thermal=tank) as sim, quiet_gateway(sim, tmp_path) as parts:
        daemon, heater = parts.daemon, parts.heater
        assert isinstance(heater, UcmHeaterPort)
        sim.faults.app_nak_code, sim.faults.app_naks = 0x03, 1  # busy
        daemon.set_signals(event_now(daemon, 1, "simple-1"))
        await wait_for(lambda: bool(outcomes(daemon, CommandKind.SHED)), LIMIT_S, "the App NAK")
        assert outcomes(daemon, CommandKind.SHED) == [Outcome.REJECTED]
        assert sim.heater.event is DrEvent.NONE
        # The heater reports the same state: the refusal holds.
        assert (await heater.session.operational_state()).ok
        assert daemon.heater.device().operational_state == 0
        assert await daemon.control_step() is None
        # The heater starts heating (state 1): what it refused may be possible now.
        tank.heating = True
        assert (await heater.session.operational_state()).ok
        assert daemon.heater.device().operational_state == 1
        await wait_for(lambda: sim.heater.event is DrEvent.SHED, LIMIT_S, "Shed")
        await wait_for(lambda: len(outcomes(daemon, CommandKind.SHED)) == 2, LIMIT_S, "App ACK")
        assert outcomes(daemon, CommandKind.SHED) == [Outcome.REJECTED, Outcome.ACCEPTED]
