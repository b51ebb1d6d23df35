"""Load-ups as the richest message the simulated heater takes, over the pty (docs/gateway.md,
"Commands" and "Set points"): Advanced Load Up with the planned energy; a set-point raise with
a mixing valve, the user's set point restored at the step's end, on stop and after a restart;
Basic Load Up after a refusal, in the log and on the page; the range narrowed on "bad value".
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from hil.heater import DrEvent, HeaterConfig
from hil.sim import Simulator
from tests.conftest import wait_for
from tests.e2e.harness import heater_on_pty, make_config, running_daemon
from ven_edge.command_policy import Outcome
from ven_edge.control import CommandKind, ControlPlan, PlanInputs, PlannedCommand, SendCommand
from ven_edge.daemon import Daemon
from ven_edge.heater_port import SET_POINT_DOC, UcmHeaterPort
from ven_edge.run import Parts
from ven_edge.store import StateStore

LIMIT_S = 30.0  # generous: link retries and backoff on a loaded machine
QUIET = {"poll_s": 600, "heartbeat_s": 600}
VALVE = {"mixing_valve": True, "max_set_point_c": 55.0}  # 131 °F; the heater allows 100-140 °F


def fixed_plan(daemon: Daemon, kind: CommandKind | None, wh: int | None = None) -> None:
    """Make the daemon plan ``kind`` from a minute ago for an hour (None: nothing), now."""

    def planner(inputs: PlanInputs) -> ControlPlan:
        if kind is None:
            return ControlPlan(made_at=inputs.now)
        start = inputs.now - timedelta(minutes=1)
        command = PlannedCommand(start, start + timedelta(hours=1), kind, "cheap hour", None, wh)
        return ControlPlan(made_at=inputs.now, commands=(command,))

    daemon.planner = planner
    daemon.heater_changed()


@asynccontextmanager
async def gateway(sim: Simulator, tmp_path: Path, **heater: Any) -> AsyncIterator[Parts]:
    config = make_config(tmp_path, sim.path, extra={"heater": {**QUIET, **heater}})
    async with running_daemon(config) as parts:
        assert isinstance(parts.heater, UcmHeaterPort)
        fixed_plan(parts.daemon, None)
        await wait_for(lambda: parts.heater.device().set_point_c is not None, 10, "set point")
        yield parts


def commands_field(parts: Parts) -> Callable[[], str | None]:
    def text() -> str | None:
        # The page shows the choice with the heater's Device Information, once it is known.
        known = parts.heater.device().device_info is not None
        return parts.heater.commands() if known else None

    return text


async def test_a_load_up_with_planned_energy_goes_out_as_advanced_load_up(tmp_path: Path) -> None:
    async with heater_on_pty(tmp_path) as sim, gateway(sim, tmp_path) as parts:
        assert commands_field(parts)() == "Advanced Load Up"
        fixed_plan(parts.daemon, CommandKind.LOAD_UP, wh=3000)
        await wait_for(lambda: sim.heater.event is DrEvent.ADVANCED_LOAD_UP, LIMIT_S, "ALU")
        assert sim.heater.alu_extra_wh == 3000
        # It carries a duration: a gateway that dies leaves the heater to return to normal.
        assert sim.heater.event_ends_at is not None
        fixed_plan(parts.daemon, None)
        await wait_for(lambda: sim.heater.event is DrEvent.NONE, LIMIT_S, "End Shed")
        assert sim.heater.set_point_f == 120  # the user's set point was never touched


async def test_a_refused_advanced_load_up_falls_back_to_basic_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "ven_edge.heater_port")
    async with heater_on_pty(tmp_path) as sim, gateway(sim, tmp_path) as parts:
        sim.faults.refuse_alu = 1  # not implemented
        fixed_plan(parts.daemon, CommandKind.LOAD_UP, wh=3000)
        await wait_for(lambda: sim.heater.event is DrEvent.LOAD_UP, LIMIT_S, "Basic Load Up")
        assert "advanced_load_up refused with response code 1" in sim.heater.log
        assert commands_field(parts)() == "basic (Advanced Load Up refused: NOT_IMPLEMENTED)"
        device = parts.daemon.snapshot().as_json()["device"]
        assert isinstance(device, dict)
        assert device["commands"] == commands_field(parts)()
        assert "refused Advanced Load Up" in caplog.text
        # For the rest of the session: the next load-up goes straight out as Basic.
        sim.faults.refuse_alu = 0
        fixed_plan(parts.daemon, None)
        await wait_for(lambda: sim.heater.event is DrEvent.NONE, LIMIT_S, "End Shed")
        fixed_plan(parts.daemon, CommandKind.LOAD_UP, wh=5000)
        await wait_for(lambda: sim.heater.event is DrEvent.LOAD_UP, LIMIT_S, "Basic Load Up")
        assert sim.heater.alu_extra_wh == 0


async def test_with_a_mixing_valve_the_set_point_is_raised_and_restored_at_the_steps_end(
    tmp_path: Path,
) -> None:
    async with heater_on_pty(tmp_path) as sim, gateway(sim, tmp_path, **VALVE) as parts:
        assert commands_field(parts)() == "Advanced Load Up, set point (up to 55 °C)"
        fixed_plan(parts.daemon, CommandKind.LOAD_UP)  # no energy planned: no ALU
        await wait_for(lambda: sim.heater.set_point_f == 131, LIMIT_S, "the raise")
        kept = StateStore(tmp_path / "state").load(SET_POINT_DOC)
        assert kept == {"user_c": pytest.approx(48.89), "raised_c": pytest.approx(55.0)}
        fixed_plan(parts.daemon, None)
        await wait_for(lambda: sim.heater.set_point_f == 120, LIMIT_S, "the user's set point")
        port = parts.heater
        assert isinstance(port, UcmHeaterPort)
        # The raise is forgotten in memory first, then on disk (the store writes on its thread).
        await wait_for(lambda: not port.raised, LIMIT_S, "the restore recorded")
        store = StateStore(tmp_path / "state")
        await wait_for(
            lambda: store.load(SET_POINT_DOC) == {"user_c": pytest.approx(48.89), "raised_c": None},
            LIMIT_S,
            "the restore persisted",
        )
        # Never above the configured maximum, whatever happened in between.
        raises = [line for line in sim.heater.log if line.startswith("set point")]
        assert raises == ["set point 131 F", "set point 120 F"]


async def test_the_users_set_point_is_restored_when_the_gateway_stops(tmp_path: Path) -> None:
    async with heater_on_pty(tmp_path) as sim:
        async with gateway(sim, tmp_path, **VALVE) as parts:
            fixed_plan(parts.daemon, CommandKind.LOAD_UP)
            await wait_for(lambda: sim.heater.set_point_f == 131, LIMIT_S, "the raise")
        assert sim.heater.set_point_f == 120
        assert StateStore(tmp_path / "state").load(SET_POINT_DOC)["raised_c"] is None


async def test_a_restart_finding_a_raise_restores_the_users_set_point_first(
    tmp_path: Path,
) -> None:
    # The gateway died with the set point raised: the heater still runs at 131 °F.
    StateStore(tmp_path / "state").save(SET_POINT_DOC, {"user_c": 48.89, "raised_c": 55.0})
    async with heater_on_pty(tmp_path, heater_config=HeaterConfig(set_point_f=131)) as sim:
        async with gateway(sim, tmp_path, **VALVE):
            await wait_for(lambda: sim.heater.set_point_f == 120, LIMIT_S, "restored")
        assert [line for line in sim.heater.log if line.startswith("set point")] == [
            "set point 120 F"
        ]


async def test_a_restart_in_a_load_up_restores_before_it_raises_again(tmp_path: Path) -> None:
    StateStore(tmp_path / "state").save(SET_POINT_DOC, {"user_c": 48.89, "raised_c": 55.0})
    async with (
        heater_on_pty(tmp_path, heater_config=HeaterConfig(set_point_f=131)) as sim,
        gateway(sim, tmp_path, **VALVE) as parts,
    ):
        fixed_plan(parts.daemon, CommandKind.LOAD_UP)
        await wait_for(
            lambda: sim.heater.log.count("set point 131 F") == 1, LIMIT_S, "raised again"
        )
        # The user's 120 °F went back first; the raise is from the user's, not from 131.
        assert [line for line in sim.heater.log if line.startswith("set point")] == [
            "set point 120 F",
            "set point 131 F",
        ]


async def test_without_a_mixing_valve_the_set_point_is_never_raised(tmp_path: Path) -> None:
    async with heater_on_pty(tmp_path) as sim, gateway(sim, tmp_path) as parts:
        assert commands_field(parts)() == "Advanced Load Up"
        fixed_plan(parts.daemon, CommandKind.LOAD_UP)  # no energy: Basic Load Up
        await wait_for(lambda: sim.heater.event is DrEvent.LOAD_UP, LIMIT_S, "Basic Load Up")
        assert sim.heater.set_point_f == 120
        assert not [line for line in sim.heater.log if line.startswith("set point")]


async def test_no_raise_below_the_delivery_floor(tmp_path: Path) -> None:
    # The user keeps 100 °F; the ceiling (42 °C = 107 °F) is below plan.min_delivery_c (43 °C).
    async with (
        heater_on_pty(tmp_path, heater_config=HeaterConfig(set_point_f=100)) as sim,
        gateway(sim, tmp_path, mixing_valve=True, max_set_point_c=42.0) as parts,
    ):
        fixed_plan(parts.daemon, CommandKind.LOAD_UP)
        await wait_for(lambda: sim.heater.event is DrEvent.LOAD_UP, LIMIT_S, "Basic Load Up")
        assert sim.heater.set_point_f == 100


async def test_bad_value_narrows_the_range_and_the_raise_still_happens(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "ven_edge.heater_port")
    # 65 °C = 149 °F is above what the heater takes (140 °F): "bad value".
    async with (
        heater_on_pty(tmp_path) as sim,
        gateway(sim, tmp_path, mixing_valve=True, max_set_point_c=65.0) as parts,
    ):
        fixed_plan(parts.daemon, CommandKind.LOAD_UP)
        await wait_for(lambda: sim.heater.set_point_f == 134, LIMIT_S, "the narrowed raise")
        assert "refused set point 149 °F (bad value)" in caplog.text
        assert commands_field(parts)() == "Advanced Load Up, set point (up to 56.67 °C)"
        fixed_plan(parts.daemon, None)
        await wait_for(lambda: sim.heater.set_point_f == 120, LIMIT_S, "the user's set point")


async def test_a_heater_that_refuses_set_points_gets_basic_load_up(tmp_path: Path) -> None:
    async with heater_on_pty(tmp_path) as sim, gateway(sim, tmp_path, **VALVE) as parts:
        sim.faults.refuse_set_point = 8  # not enabled
        fixed_plan(parts.daemon, CommandKind.LOAD_UP)
        await wait_for(lambda: sim.heater.event is DrEvent.LOAD_UP, LIMIT_S, "Basic Load Up")
        assert sim.heater.set_point_f == 120
        assert commands_field(parts)() == "basic (set point refused: COMMAND_NOT_ENABLED)"


async def test_a_held_raise_is_not_sent_again_but_a_lost_one_is(tmp_path: Path) -> None:
    async with heater_on_pty(tmp_path) as sim, gateway(sim, tmp_path, **VALVE) as parts:
        port = parts.heater
        assert isinstance(port, UcmHeaterPort)
        load_up = SendCommand(CommandKind.LOAD_UP, 1800, "cheap hour")
        assert (await port.send(load_up)).outcome is Outcome.ACCEPTED
        assert (await port.send(load_up)).outcome is Outcome.ACCEPTED  # a renewal
        assert sim.heater.log.count("set point 131 F") == 1
        # The heater lost the raise (power cut): it reports the user's again, so it is re-sent.
        sim.heater.set_point_f = 120
        assert (await port.session.get_set_point()).ok
        assert (await port.send(load_up)).outcome is Outcome.ACCEPTED
        assert sim.heater.log.count("set point 131 F") == 2
        assert sim.heater.set_point_f == 131


async def test_a_raise_holds_through_the_heaters_periodic_reads(tmp_path: Path) -> None:
    async with heater_on_pty(tmp_path) as sim, gateway(sim, tmp_path, **VALVE, poll_s=1) as parts:
        port = parts.heater
        assert isinstance(port, UcmHeaterPort)
        fixed_plan(parts.daemon, CommandKind.LOAD_UP)
        await wait_for(lambda: sim.heater.set_point_f == 131, LIMIT_S, "the raise")
        reads = sim.heater.log.count("set point 131 F"), len(sim.received)
        # Several rounds of temperature and set-point reads later, the raise is still there.
        await wait_for(lambda: len(sim.received) > reads[1] + 12, LIMIT_S, "reads")
        assert sim.heater.set_point_f == 131
        assert port.raised


async def test_a_link_nak_06_for_advanced_load_up_falls_back_to_basic(tmp_path: Path) -> None:
    async with heater_on_pty(tmp_path) as sim, gateway(sim, tmp_path) as parts:
        # The heater's reads are ten minutes apart: the next frame is the Advanced Load Up.
        sim.faults.link_nak_code, sim.faults.link_naks = 0x06, 1
        fixed_plan(parts.daemon, CommandKind.LOAD_UP, wh=3000)
        await wait_for(lambda: sim.heater.event is DrEvent.LOAD_UP, LIMIT_S, "Basic Load Up")
        assert commands_field(parts)() == (
            "basic (Advanced Load Up refused: link NAK UNSUPPORTED_MESSAGE_TYPE)"
        )
