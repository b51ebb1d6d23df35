"""The control core decides exactly, with time passed in."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.devices import answering
from ven_edge.command_policy import Outcome, PolicySettings
from ven_edge.control import (
    CommandKind,
    Controller,
    ControlPlan,
    ControlSettings,
    PlannedCommand,
    PlanStep,
)
from ven_edge.cta2045.device import DeviceSnapshot
from ven_edge.cta2045.encodings import MAX_DURATION_S, covering_duration_s, within_duration_s

T0 = datetime(2026, 1, 14, 16, 0, tzinfo=UTC)
ON = answering(operational_state=0)


def shed_plan(start: datetime = T0, hours: float = 2.0, event: str = "ev1") -> ControlPlan:
    return ControlPlan(
        made_at=start,
        commands=(
            PlannedCommand(
                start, start + timedelta(hours=hours), CommandKind.SHED, "utility event", event
            ),
        ),
    )


@given(st.floats(min_value=0, max_value=10 * MAX_DURATION_S))
def test_quantised_duration_is_encodable_and_never_longer(seconds: float) -> None:
    q = within_duration_s(seconds)
    n = round((q / 2) ** 0.5)
    assert 2 * n * n == q
    assert 1 <= n <= 254
    assert q <= max(seconds, 2)


def test_start_up_sends_nothing_without_an_event() -> None:
    c = Controller()
    assert c.step(T0, ON) is None
    c.set_plan(ControlPlan(made_at=T0))
    assert c.step(T0, ON) is None


def test_event_sends_shed_once_then_end_shed_at_its_end() -> None:
    c = Controller(plan=shed_plan())
    cmd = c.step(T0, ON)
    assert cmd is not None
    assert cmd.kind is CommandKind.SHED
    assert cmd.event_id == "ev1"
    assert cmd.duration_s == within_duration_s(2 * 3600)
    c.record(cmd, Outcome.ACCEPTED, T0)
    assert c.step(T0 + timedelta(minutes=10), ON) is None
    end = T0 + timedelta(hours=2)
    assert c.next_deadline(T0 + timedelta(minutes=10)) <= end
    done = c.step(end, ON)
    assert done is not None
    assert done.kind is CommandKind.NORMAL
    assert done.duration_s is None
    c.record(done, Outcome.ACCEPTED, end)
    assert c.step(end + timedelta(minutes=1), ON) is None


def test_cancellation_ends_with_end_shed() -> None:
    c = Controller(plan=shed_plan())
    cmd = c.step(T0, ON)
    assert cmd is not None
    c.record(cmd, Outcome.ACCEPTED, T0)
    c.set_plan(ControlPlan(made_at=T0 + timedelta(minutes=5)))  # event deleted
    end = c.step(T0 + timedelta(minutes=5), ON)
    assert end is not None
    assert end.kind is CommandKind.NORMAL


def test_long_event_is_renewed_before_the_heaters_timer_runs_out() -> None:
    settings = ControlSettings(
        PolicySettings(max_command_s=3600, renew_margin_s=60), replan_interval=timedelta(hours=9)
    )
    c = Controller(settings=settings, plan=shed_plan(hours=5))
    cmd = c.step(T0, ON)
    assert cmd is not None
    assert cmd.duration_s is not None
    assert cmd.duration_s <= 3600
    c.record(cmd, Outcome.ACCEPTED, T0)
    renew_at = c.next_deadline(T0)
    assert renew_at == T0 + timedelta(seconds=cmd.duration_s - 60)
    assert c.step(renew_at - timedelta(seconds=1), ON) is None
    again = c.step(renew_at, ON)
    assert again is not None
    assert again.kind is CommandKind.SHED


def test_override_by_app_nak_is_respected_until_it_clears() -> None:
    c = Controller(plan=shed_plan())
    cmd = c.step(T0, ON)
    assert cmd is not None
    c.record(cmd, Outcome.OVERRIDDEN, T0)
    assert [o.event_id for o in c.overrides] == ["ev1"]
    # The heater may keep reporting normal states under override (docs/cta2045.md §14): no resend.
    assert c.step(T0 + timedelta(minutes=1), ON) is None
    opted = answering(operational_state=11)
    assert c.step(T0 + timedelta(minutes=2), opted) is None
    # Override cleared: the event is sent again.
    again = c.step(T0 + timedelta(minutes=3), ON)
    assert again is not None
    assert again.kind is CommandKind.SHED
    assert len(c.overrides) == 1


def test_opted_out_state_blocks_new_commands_and_is_recorded() -> None:
    c = Controller(plan=shed_plan())
    assert c.step(T0, answering(operational_state=12)) is None
    assert c.step(T0, answering(operational_state=1, override_active=True)) is None
    assert len(c.overrides) == 1
    assert c.overrides[0].kind is CommandKind.SHED


def test_failed_send_is_retried_after_the_retry_delay() -> None:
    c = Controller(settings=ControlSettings(PolicySettings(retry_initial_s=30)), plan=shed_plan())
    cmd = c.step(T0, ON)
    assert cmd is not None
    c.record(cmd, Outcome.FAILED, T0)
    assert c.step(T0 + timedelta(seconds=10), ON) is None
    assert c.next_deadline(T0 + timedelta(seconds=10)) == T0 + timedelta(seconds=30)
    assert c.step(T0 + timedelta(seconds=30), ON) is not None


def test_disconnected_heater_gets_nothing() -> None:
    c = Controller(plan=shed_plan())
    assert c.step(T0, DeviceSnapshot()) is None
    # The port is open but the heater has not answered commissioning (or fell silent).
    silent = replace(answering(operational_state=0), commissioned=False)
    assert not silent.ready
    assert c.step(T0, silent) is None


def test_rejected_command_is_not_repeated_until_the_plan_moves_on() -> None:
    plan = ControlPlan(
        made_at=T0,
        commands=(
            PlannedCommand(T0, T0 + timedelta(hours=1), CommandKind.CRITICAL_PEAK, "cpp", "a"),
            PlannedCommand(
                T0 + timedelta(hours=1), T0 + timedelta(hours=2), CommandKind.SHED, "s", "b"
            ),
        ),
    )
    c = Controller(plan=plan)
    cmd = c.step(T0, ON)
    assert cmd is not None
    c.record(cmd, Outcome.REJECTED, T0)
    assert c.step(T0 + timedelta(minutes=30), ON) is None
    nxt = c.step(T0 + timedelta(hours=1), ON)
    assert nxt is not None
    assert nxt.kind is CommandKind.SHED


def test_next_deadline_is_at_most_the_replan_interval() -> None:
    c = Controller()
    assert c.next_deadline(T0) == T0 + timedelta(minutes=15)


def test_plan_round_trips_through_json() -> None:
    plan = ControlPlan(
        made_at=T0,
        commands=shed_plan().commands,
        steps=(PlanStep(T0, 0.31, 0.0, 5.5), PlanStep(T0 + timedelta(minutes=15), None, 1.0, None)),
        price_unit="USD/kWh",
        expected_cost=0.84,
        normal_cost=0.97,
    )
    assert ControlPlan.from_json(plan.to_json()) == plan


def test_plan_costs_are_optional_and_tolerant_on_load() -> None:
    data = shed_plan().to_json()
    del data["expected_cost"]
    data["normal_cost"] = "lots"
    loaded = ControlPlan.from_json(data)
    assert loaded.expected_cost is None
    assert loaded.normal_cost is None


def test_overlapping_commands_are_refused() -> None:
    a = PlannedCommand(T0, T0 + timedelta(hours=2), CommandKind.SHED, "a")
    b = PlannedCommand(T0 + timedelta(hours=1), None, CommandKind.LOAD_UP, "b")
    with pytest.raises(ValueError, match="overlap"):
        ControlPlan(made_at=T0, commands=(a, b))


def test_naive_timestamps_are_refused_on_load() -> None:
    data = shed_plan().to_json()
    data["made_at"] = "2026-01-14T16:00:00"
    with pytest.raises(ValueError, match="UTC offset"):
        ControlPlan.from_json(data)


def test_reconnect_resends_the_command_in_force_with_its_remaining_time() -> None:
    c = Controller(plan=shed_plan())
    first = answering(operational_state=0, commissionings=1)
    cmd = c.step(T0, first)
    assert cmd is not None
    c.record(cmd, Outcome.ACCEPTED, T0)
    later = T0 + timedelta(minutes=30)
    assert c.step(later, first) is None
    assert c.step(later, DeviceSnapshot(commissionings=1)) is None
    again = c.step(later, answering(operational_state=0, commissionings=2))
    assert again is not None
    assert (again.kind, again.event_id) == (CommandKind.SHED, "ev1")
    assert again.duration_s == covering_duration_s(90 * 60)
    c.record(again, Outcome.ACCEPTED, later)
    assert c.step(later, answering(operational_state=0, commissionings=2)) is None


def test_reconnect_after_end_shed_sends_nothing_new() -> None:
    c = Controller(plan=shed_plan(hours=0.5))
    view = answering(operational_state=0, commissionings=1)
    cmd = c.step(T0, view)
    assert cmd is not None
    c.record(cmd, Outcome.ACCEPTED, T0)
    end = T0 + timedelta(hours=1)
    done = c.step(end, view)
    assert done is not None
    assert done.kind is CommandKind.NORMAL
    c.record(done, Outcome.ACCEPTED, end)
    assert c.step(end, answering(operational_state=0, commissionings=2)) is None
