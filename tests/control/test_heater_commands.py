"""Which message a load-up goes out as, the set-point range, and when a changed load-up energy
is worth a frame (docs/gateway.md, "Commands" and "Set points")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.devices import answering
from ven_edge.command_policy import Outcome
from ven_edge.control import (
    CommandKind,
    Controller,
    ControlPlan,
    PlannedCommand,
    same_energy,
)
from ven_edge.cta2045.device import DeviceInformationReply, DeviceSnapshot
from ven_edge.cta2045.encodings import Capability
from ven_edge.cta2045.frames import MessageType
from ven_edge.heater_commands import (
    CommandChoice,
    CommandOptions,
    KeptSetPoint,
    LoadUpMessage,
    is_refusal,
)

T0 = datetime(2026, 1, 14, 2, 0, tzinfo=UTC)
HEATER = answering(operational_state=0, commissionings=1)


def snapshot(*, alu: bool, set_point_c: float | None = 48.89) -> DeviceSnapshot:
    caps = Capability.TEMPERATURE_OFFSET | (Capability.ADVANCED_LOAD_UP if alu else 0)
    info = DeviceInformationReply("B", 0x1234, 3, 1, int(caps))
    return DeviceSnapshot(
        supported_types=frozenset({MessageType.BASIC_DR, MessageType.INTERMEDIATE_DR}),
        device_info=info,
        set_point_c=set_point_c,
    )


def test_the_richest_load_up_the_heater_and_installation_allow() -> None:
    valve = CommandChoice(CommandOptions(mixing_valve=True))
    plain = CommandChoice(CommandOptions(mixing_valve=False))
    assert valve.load_up_message(snapshot(alu=True), 2000) is LoadUpMessage.ADVANCED
    # No planned energy: Advanced Load Up has nothing to say; a set point does.
    assert valve.load_up_message(snapshot(alu=True), None) is LoadUpMessage.SET_POINT
    assert valve.load_up_message(snapshot(alu=False), 2000) is LoadUpMessage.SET_POINT
    # Without a mixing valve the set point is never raised.
    assert plain.load_up_message(snapshot(alu=False), 2000) is LoadUpMessage.BASIC
    # A heater that never answered Get Set Point gets no set point.
    unread = snapshot(alu=False, set_point_c=None)
    assert valve.load_up_message(unread, 2000) is LoadUpMessage.BASIC
    # Only Basic DR supported: Basic, whatever the Device Information said before.
    basic_only = snapshot(alu=True)
    basic_only = DeviceSnapshot(
        supported_types=frozenset({MessageType.BASIC_DR}), device_info=basic_only.device_info
    )
    assert valve.load_up_message(basic_only, 2000) is LoadUpMessage.BASIC


def test_after_a_refusal_the_session_sends_basic_and_says_why() -> None:
    choice = CommandChoice(CommandOptions(mixing_valve=True))
    text = choice.refuse(LoadUpMessage.ADVANCED, "NOT_IMPLEMENTED")
    assert choice.load_up_message(snapshot(alu=True), 2000) is LoadUpMessage.BASIC
    assert choice.describe(snapshot(alu=True)) == f"basic ({text})"
    assert text == "Advanced Load Up refused: NOT_IMPLEMENTED"


@pytest.mark.parametrize(
    ("status", "reason", "refused"),
    [
        ("app_nak", 1, True),  # not implemented
        ("app_nak", 2, True),  # bad value
        ("app_nak", 8, True),  # not enabled
        ("app_nak", 7, False),  # customer override: respected, not a refusal of the message
        ("app_nak", 5, False),  # busy
        ("link_nak", 0x06, True),  # message type not supported
        ("link_nak", 0x03, False),  # checksum: the line
        ("timeout", None, False),
    ],
)
def test_what_counts_as_the_heater_refusing_a_message(
    status: str, reason: int | None, refused: bool
) -> None:
    assert is_refusal(status, reason) is refused


def test_the_raise_stays_between_the_delivery_floor_and_the_ceiling() -> None:
    choice = CommandChoice(CommandOptions(mixing_valve=True, max_set_point_c=60.0))
    assert choice.raise_target_f(120) == 140
    assert choice.raise_target_f(140) is None  # the user's is already at the ceiling
    # A ceiling below the delivery floor (43 °C = 110 °F when rounded up) raises nothing.
    low = CommandChoice(CommandOptions(mixing_valve=True, max_set_point_c=42.0))
    assert low.raise_target_f(100) is None


def test_bad_value_halves_the_room_above_the_users_set_point() -> None:
    choice = CommandChoice(CommandOptions(mixing_valve=True, max_set_point_c=65.0))
    assert choice.raise_target_f(120) == 149
    choice.narrow(149, 120)
    assert choice.raise_target_f(120) == 134
    choice.narrow(134, 120)
    choice.narrow(127, 120)
    choice.narrow(123, 120)
    assert choice.raise_target_f(120) == 121
    choice.narrow(121, 120)
    assert choice.raise_target_f(120) is None


@given(
    user_f=st.integers(90, 160),
    max_c=st.floats(40, 80),
    floor_c=st.floats(30, 70),
    refusals=st.lists(st.integers(0, 200), max_size=6),
)
def test_a_raise_is_never_above_the_ceiling_nor_below_the_floor(
    user_f: int, max_c: float, floor_c: float, refusals: list[int]
) -> None:
    choice = CommandChoice(
        CommandOptions(mixing_valve=True, max_set_point_c=max_c, min_delivery_c=floor_c)
    )
    for refused in refusals:
        choice.narrow(refused, user_f)
    target = choice.raise_target_f(user_f)
    if target is not None:
        assert user_f < target
        assert (target - 32) * 5 / 9 <= max_c + 1e-9
        assert (target - 32) * 5 / 9 >= floor_c - 1e-9


@pytest.mark.parametrize(
    "document",
    [None, [], {"user_c": "hot"}, {"user_c": True}, {"raised_c": 60}, {"user_c": 400.0},
     {"user_c": 48.0, "raised_c": "60"}, {"user_c": float("nan")}],
)  # fmt: skip
def test_a_bad_persisted_set_point_is_refused(document: object) -> None:
    with pytest.raises((KeyError, TypeError, ValueError)):
        KeptSetPoint.from_json(document)


def test_a_persisted_set_point_round_trips() -> None:
    kept = KeptSetPoint(48.89, 60.0)
    assert KeptSetPoint.from_json(kept.to_json()) == kept


def load_up(wh: int | None) -> ControlPlan:
    command = PlannedCommand(T0, T0 + timedelta(hours=2), CommandKind.LOAD_UP, "cheap", None, wh)
    return ControlPlan(made_at=T0, commands=(command,))


def test_a_small_change_of_planned_energy_sends_nothing_a_large_one_does() -> None:
    controller = Controller()
    controller.set_plan(load_up(3000))
    first = controller.step(T0, HEATER)
    assert first is not None
    assert first.wh == 3000
    controller.record(first, Outcome.ACCEPTED, T0)
    now = T0 + timedelta(minutes=15)
    controller.set_plan(load_up(3300))  # 300 Wh: not worth a frame
    assert controller.step(now, HEATER) is None
    controller.set_plan(load_up(4200))  # 1.2 kWh and 40 %: the heater is told
    again = controller.step(now, HEATER)
    assert again is not None
    assert again.wh == 4200


@given(st.integers(0, 100_000), st.integers(0, 100_000))
def test_same_energy_is_symmetric_and_holds_for_equal_values(a: int, b: int) -> None:
    assert same_energy(a, b) == same_energy(b, a)
    assert same_energy(a, a)
    assert not same_energy(a, None)
    assert same_energy(None, None)
    if abs(a - b) >= 500 and abs(a - b) >= 0.25 * max(a, b):
        assert not same_energy(a, b)
