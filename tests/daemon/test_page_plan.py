"""What the page is told about the plan: the headline's "until" is the running command's end, the
command list covers the horizon without gaps, and the price unit comes from the VTN."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.daemon.test_clock_hold import T0, Clock, Grid, Heater, Switch, make_daemon
from tests.devices import answering
from ven_edge.control import (
    CommandKind,
    ControlPlan,
    PlanInputs,
    PlannedCommand,
    PlanStep,
)
from ven_edge.cta2045.device import DeviceSnapshot
from ven_edge.daemon import NORMAL_REASON, plan_for_page
from ven_edge.signals import SignalInterval, SignalTimeline

H = timedelta(hours=1)
STEP = timedelta(minutes=15)


def steps(hours: int) -> tuple[PlanStep, ...]:
    return tuple(PlanStep(T0 + k * STEP, 0.1, 0.0, None) for k in range(hours * 4))


def load_up_then_shed() -> ControlPlan:
    return ControlPlan(
        made_at=T0,
        commands=(
            PlannedCommand(T0 + H, T0 + 2 * H, CommandKind.LOAD_UP, "cheap hour"),
            PlannedCommand(T0 + 4 * H, T0 + 5 * H, CommandKind.SHED, "dear hour"),
        ),
        steps=steps(24),
    )


def test_the_command_list_covers_the_horizon_without_gaps() -> None:
    now = T0 + 10 * timedelta(minutes=1)
    page = plan_for_page(load_up_then_shed(), now)
    kinds = [(c.kind, c.start, c.end) for c in page.commands]
    assert kinds == [
        ("NORMAL", now, T0 + H),
        ("LOAD_UP", T0 + H, T0 + 2 * H),
        ("NORMAL", T0 + 2 * H, T0 + 4 * H),
        ("SHED", T0 + 4 * H, T0 + 5 * H),
        ("NORMAL", T0 + 5 * H, T0 + 24 * H),
    ]
    assert page.commands[0].reason == NORMAL_REASON
    # Past the plan's last step there is nothing to say; within it, no stretch is left out.
    later = plan_for_page(load_up_then_shed(), T0 + 20 * H)
    assert [(c.kind, c.start, c.end) for c in later.commands] == [
        ("NORMAL", T0 + 20 * H, T0 + 24 * H)
    ]


def test_an_open_ended_command_ends_the_list() -> None:
    plan = ControlPlan(
        made_at=T0,
        commands=(PlannedCommand(T0 + H, None, CommandKind.GRID_EMERGENCY, "alert", "ev-9"),),
        steps=steps(24),
    )
    page = plan_for_page(plan, T0)
    assert [(c.kind, c.end) for c in page.commands] == [
        ("NORMAL", T0 + H),
        ("GRID_EMERGENCY", None),
    ]


class Fixed:
    def __init__(self, plan: ControlPlan) -> None:
        self.plan = plan

    def __call__(self, inputs: PlanInputs) -> ControlPlan:
        return self.plan


class Heightened(Heater):
    def device(self) -> DeviceSnapshot:
        return answering(operational_state=3, stored_energy_wh=5000, energy_capacity_wh=10000)


async def test_headline_until_is_the_running_command_end_not_the_price_event_end(
    tmp_path: Path,
) -> None:
    # Prices from 06:00 to 14:00 in one event; the plan pre-heats from 07:00 to 08:00.
    prices = SignalTimeline(
        (SignalInterval(T0, T0 + 8 * H, "PRICE", (0.1,) * 8, None, "prices-1", "prog-1"),)
    )
    clock = Clock(T0 + H + timedelta(minutes=5))
    daemon = make_daemon(
        tmp_path, Switch(True), Heightened(clock), Grid(), planner=Fixed(load_up_then_shed())
    )
    daemon.set_signals(prices)
    await daemon.control_step()
    snapshot = daemon.snapshot()
    assert snapshot.events.current is not None
    assert snapshot.events.current.end == T0 + 8 * H
    end = (T0 + 2 * H).astimezone()
    assert snapshot.heater.state_text == f"Pre-heating until {end:%H:%M}"
    # The planner gave no unit: the one in the VTN's price descriptor is shown.
    assert snapshot.plan.price_unit == "USD/KWH"
    assert snapshot.events.current.program_name == "Peak saver"
