"""The command policy decides exactly, with time passed in: leases, renewals, retries, refusals."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.devices import answering
from ven_edge.command_policy import (
    CommandPolicy,
    Delivery,
    Outcome,
    PolicySettings,
    Send,
    Wanted,
)
from ven_edge.control import CommandKind, Controller, ControlPlan, PlannedCommand
from ven_edge.cta2045.encodings import MAX_DURATION_S, covering_duration_s
from ven_edge.cta2045.ucm import CommandOutcome, Status
from ven_edge.heater_port import outcome_of

T0 = datetime(2026, 1, 14, 16, 0, tzinfo=UTC)
SHED = ("SHED", "ev1", None)
CPP = ("CRITICAL_PEAK", "ev1", None)
NORMAL = ("NORMAL", None, None)
OK = Delivery(Outcome.ACCEPTED)
LINK_NAK = Delivery(Outcome.FAILED, 0x03, "link_nak: CHECKSUM_ERROR")
BUSY = Delivery(Outcome.REJECTED, 0x03, "app_nak: BUSY")


def seconds(s: float) -> timedelta:
    return timedelta(seconds=s)


def observe(policy: CommandPolicy, now: datetime, op_state: int = 0, **kw: object) -> None:
    opted_out = bool(kw.get("opted_out", False))
    commissionings = int(kw.get("commissionings", 1))  # type: ignore[call-overload]
    policy.observe(now, op_state=op_state, opted_out=opted_out, commissionings=commissionings)


def sent(policy: CommandPolicy, now: datetime, wanted: Wanted, result: Delivery = OK) -> Send:
    decision = policy.decide(now, wanted)
    assert decision is not None, f"nothing sent at {now}"
    policy.record(now, wanted.key, wanted.normal, decision.duration_s, result)
    return decision


@given(st.floats(min_value=0, max_value=2 * MAX_DURATION_S))
def test_covering_duration_is_the_shortest_encodable_one_not_shorter(s: float) -> None:
    q = covering_duration_s(s)
    n = math.isqrt(q // 2)
    assert 2 * n * n == q
    assert 1 <= n <= 254
    if s <= MAX_DURATION_S:
        assert q >= s
        assert n == 1 or 2 * (n - 1) ** 2 < s


def test_a_lease_that_reaches_the_planned_end_is_never_renewed() -> None:
    policy = CommandPolicy()
    observe(policy, T0)
    wanted = Wanted(SHED, normal=False, end=T0 + timedelta(hours=1))
    assert sent(policy, T0, wanted).duration_s == covering_duration_s(3600)
    assert policy.next_deadline(wanted) is None
    for minute in range(1, 60):
        assert policy.decide(T0 + timedelta(minutes=minute, seconds=59), wanted) is None


def test_an_open_ended_command_is_renewed_once_per_heater_timer() -> None:
    cfg = PolicySettings(max_command_s=3600, renew_margin_s=120)
    policy = CommandPolicy(cfg)
    observe(policy, T0)
    wanted = Wanted(SHED, normal=False, end=None)
    lease = sent(policy, T0, wanted).duration_s
    assert lease == 3528  # 2·42², the longest encodable lease within the hour
    renew_at = T0 + seconds(lease - 120)
    assert policy.next_deadline(wanted) == renew_at
    assert policy.decide(renew_at - seconds(1), wanted) is None
    sent(policy, renew_at, wanted)
    assert policy.decide(renew_at + seconds(1), wanted) is None
    assert policy.next_deadline(wanted) == renew_at + seconds(lease - 120)


def test_transport_failures_back_off_from_2_s_to_60_s() -> None:
    policy = CommandPolicy()
    observe(policy, T0)
    wanted = Wanted(CPP, normal=False, end=T0 + timedelta(hours=1))
    now = T0
    delays = []
    for _ in range(8):
        sent(policy, now, wanted, LINK_NAK)
        due = policy.next_deadline(wanted)
        assert due is not None
        assert policy.decide(due - seconds(0.5), wanted) is None
        delays.append((due - now).total_seconds())
        now = due
    assert delays == [2, 4, 8, 16, 32, 60, 60, 60]
    sent(policy, now, wanted)  # delivered: the backoff starts afresh next time
    assert policy.next_deadline(wanted) is None


def test_a_new_instruction_goes_out_at_once_during_a_backoff() -> None:
    policy = CommandPolicy()
    observe(policy, T0)
    sent(policy, T0, Wanted(SHED, normal=False, end=None), LINK_NAK)
    assert policy.decide(T0 + seconds(0.1), Wanted(CPP, normal=False, end=None)) is not None
    assert policy.decide(T0 + seconds(0.1), Wanted(NORMAL, normal=True, end=None)) == Send(None)


def test_an_app_nak_blocks_only_until_the_heaters_state_changes() -> None:
    policy = CommandPolicy()
    observe(policy, T0, op_state=1)
    wanted = Wanted(SHED, normal=False, end=T0 + timedelta(hours=1))
    sent(policy, T0, wanted, BUSY)
    assert policy.blocked == SHED
    for minute in (1, 10, 30):
        now = T0 + timedelta(minutes=minute)
        observe(policy, now, op_state=1)
        assert policy.decide(now, wanted) is None
    later = T0 + timedelta(minutes=31)
    observe(policy, later, op_state=0)  # the heater stopped heating: a new state
    assert policy.decide(later, wanted) is not None


def test_an_app_nak_blocks_only_until_a_reconnect() -> None:
    policy = CommandPolicy()
    observe(policy, T0, op_state=0, commissionings=1)
    wanted = Wanted(SHED, normal=False, end=T0 + timedelta(hours=1))
    sent(policy, T0, wanted, BUSY)
    observe(policy, T0 + seconds(60), op_state=0, commissionings=1)
    assert policy.decide(T0 + seconds(60), wanted) is None
    observe(policy, T0 + seconds(61), op_state=0, commissionings=2)
    assert policy.decide(T0 + seconds(61), wanted) is not None


def test_an_override_holds_through_state_changes_until_it_ends() -> None:
    policy = CommandPolicy()
    observe(policy, T0, op_state=0)
    wanted = Wanted(SHED, normal=False, end=T0 + timedelta(hours=1))
    sent(policy, T0, wanted, Delivery(Outcome.OVERRIDDEN, 5))
    # Some heaters report the normal states 0/1 under override (docs/cta2045.md §14).
    observe(policy, T0 + seconds(60), op_state=1)
    assert policy.decide(T0 + seconds(60), wanted) is None
    observe(policy, T0 + seconds(120), op_state=11, opted_out=True)
    assert policy.decide(T0 + seconds(120), wanted) is None
    assert policy.decide(T0 + seconds(120), Wanted(NORMAL, normal=True, end=None)) is not None
    observe(policy, T0 + seconds(180), op_state=0)
    assert policy.decide(T0 + seconds(180), wanted) is not None


def test_a_reconnect_resends_the_command_in_force_at_once() -> None:
    policy = CommandPolicy()
    observe(policy, T0, commissionings=1)
    wanted = Wanted(CPP, normal=False, end=T0 + timedelta(hours=1))
    sent(policy, T0, wanted)
    observe(policy, T0 + timedelta(minutes=20), commissionings=2)
    again = policy.decide(T0 + timedelta(minutes=20), wanted)
    assert again == Send(covering_duration_s(40 * 60))


def test_an_end_shed_not_delivered_is_retried_after_a_reconnect() -> None:
    policy = CommandPolicy()
    observe(policy, T0, commissionings=1)
    normal = Wanted(NORMAL, normal=True, end=None)
    sent(policy, T0, Wanted(SHED, normal=False, end=None))
    sent(policy, T0 + seconds(60), normal, Delivery(Outcome.FAILED, None, "not_connected"))
    observe(policy, T0 + seconds(61), commissionings=2)
    assert policy.decide(T0 + seconds(61), normal) == Send(None)


def test_an_end_shed_delivered_needs_nothing_after_a_reconnect() -> None:
    policy = CommandPolicy()
    observe(policy, T0, commissionings=1)
    normal = Wanted(NORMAL, normal=True, end=None)
    sent(policy, T0, Wanted(SHED, normal=False, end=None))
    sent(policy, T0 + seconds(60), normal)
    observe(policy, T0 + seconds(61), commissionings=2)
    assert policy.decide(T0 + seconds(61), normal) is None


@pytest.mark.parametrize(
    ("status", "reason", "text", "outcome"),
    [
        (Status.OK, None, None, Outcome.ACCEPTED),
        (Status.LINK_NAK, 0x03, "CHECKSUM_ERROR", Outcome.FAILED),
        (Status.LINK_NAK, 0x06, "UNSUPPORTED_MESSAGE_TYPE", Outcome.FAILED),
        (Status.TIMEOUT, None, "no link ACK", Outcome.FAILED),
        (Status.NOT_CONNECTED, None, "port closed", Outcome.FAILED),
        (Status.APP_NAK, None, "undecodable reply", Outcome.FAILED),
        (Status.APP_NAK, 3, "BUSY", Outcome.REJECTED),
        (Status.APP_NAK, 5, "CUSTOMER_OVERRIDE", Outcome.OVERRIDDEN),
        (Status.APP_NAK, 7, "CUSTOMER_OVERRIDE", Outcome.OVERRIDDEN),  # Intermediate code
        (Status.APP_NAK, 5, "BUSY", Outcome.REJECTED),  # Intermediate 5 is busy
    ],
)
def test_only_an_app_nak_with_a_reason_is_a_refusal(
    status: Status, reason: int | None, text: str | None, outcome: Outcome
) -> None:
    delivery = outcome_of(CommandOutcome("shed", status, reason, text))
    assert delivery.outcome is outcome
    assert delivery.reason == reason
    if text is not None:
        assert text in delivery.detail


# -- the whole stream, for any plan --------------------------------------------------------------

FRAME_S = 0.15


@st.composite
def plans(draw: st.DrawFn) -> tuple[ControlPlan, list[tuple[float, float]]]:
    """A SHED run of random length cut into random intervals, with the event possibly extended
    once while it runs (the VTN changed it): (plan, [(at_s, new_end_s)])."""
    total = draw(st.integers(min_value=60, max_value=10 * 3600))
    cuts = sorted(draw(st.sets(st.integers(min_value=1, max_value=total - 1), max_size=30)))
    edges = [0, *cuts, total]
    commands = tuple(
        PlannedCommand(T0 + seconds(a), T0 + seconds(b), CommandKind.SHED, f"part {i}", "ev1")
        for i, (a, b) in enumerate(itertools.pairwise(edges))
    )
    changes = []
    if draw(st.booleans()):
        at = draw(st.integers(min_value=0, max_value=total - 1))
        changes.append((float(at), float(total + draw(st.integers(1, 7200)))))
    return ControlPlan(made_at=T0, commands=commands), changes


@settings(max_examples=60)
@given(plans())
def test_frames_of_one_command_are_far_apart_unless_the_timer_would_run_out(
    case: tuple[ControlPlan, list[tuple[float, float]]],
) -> None:
    plan, changes = case
    controller = Controller(plan=plan)
    view = answering(operational_state=0, commissionings=1)
    now = T0
    frames: list[tuple[datetime, int, datetime]] = []  # (sent, lease, planned end then)
    end = plan.commands[-1].end
    assert end is not None
    for _ in range(5000):
        if changes and now >= T0 + seconds(changes[0][0]):
            end = T0 + seconds(changes.pop(0)[1])
            last = plan.commands[-1]
            controller.set_plan(
                ControlPlan(made_at=now, commands=(*plan.commands[:-1], _until(last, end)))
            )
        if now > end + timedelta(minutes=1):
            break
        command = controller.step(now, view)
        if command is not None:
            if command.kind is CommandKind.SHED:
                assert command.duration_s is not None
                frames.append((now, command.duration_s, end))
            controller.record(command, Outcome.ACCEPTED, now)
            now += seconds(FRAME_S)
        now = max(now, controller.next_deadline(now))
    else:
        raise AssertionError("the stream never settled")
    assert frames, "the command was never sent"
    cfg = PolicySettings()
    for (at, lease, planned_end), (again, _lease, _end) in itertools.pairwise(frames):
        timer_end = at + seconds(lease)
        assert timer_end < max(planned_end, end)  # renewed only when the timer fell short
        if again - at < seconds(cfg.min_resend_s):
            assert timer_end < at + seconds(cfg.min_resend_s + cfg.renew_margin_s)
        assert again >= timer_end - seconds(cfg.renew_margin_s)
    # The heater's timer runs to the planned end, one lease per heater timer at most.
    at, lease, _ = frames[-1]
    assert at + seconds(lease) >= end
    longest = (end - T0).total_seconds()
    assert len(frames) <= math.ceil(longest / (cfg.max_command_s - 600)) + len(changes) + 1


def _until(command: PlannedCommand, end: datetime) -> PlannedCommand:
    return PlannedCommand(command.start, end, command.kind, command.reason, command.event_id)


def test_settings_that_would_renew_a_full_lease_too_soon_are_refused() -> None:
    with pytest.raises(ValueError, match="min_resend_s"):
        PolicySettings(max_command_s=600, renew_margin_s=120, min_resend_s=600)
    with pytest.raises(ValueError, match="retry_initial_s"):
        PolicySettings(retry_initial_s=90, retry_max_s=60)
