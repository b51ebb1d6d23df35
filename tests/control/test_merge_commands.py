"""The command timeline: same commands joined, nothing that lasts no time."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ven_edge.control import ControlPlan, PlannedCommand, merge_commands
from ven_edge.cta2045.command_kind import CommandKind

T0 = datetime(2026, 3, 1, 18, 0, tzinfo=UTC)
KINDS = [CommandKind.SHED, CommandKind.LOAD_UP, CommandKind.NORMAL]


def test_zero_and_negative_length_entries_are_dropped_and_neighbours_joined() -> None:
    a, b, c = (T0 + timedelta(hours=h) for h in range(3))
    shed = [
        PlannedCommand(a, b, CommandKind.SHED, "peak"),
        PlannedCommand(b, b, CommandKind.LOAD_UP, "nothing"),
        PlannedCommand(b, a, CommandKind.LOAD_UP, "backwards"),
        PlannedCommand(b, c, CommandKind.SHED, "peak"),
    ]
    assert merge_commands(shed) == (PlannedCommand(a, c, CommandKind.SHED, "peak"),)


@given(st.lists(st.tuples(st.integers(0, 8), st.integers(-2, 4), st.sampled_from(KINDS))))
def test_merged_commands_all_last_and_no_two_neighbours_are_the_same(
    entries: list[tuple[int, int, CommandKind]],
) -> None:
    commands = [
        PlannedCommand(T0 + timedelta(minutes=15 * s), T0 + timedelta(minutes=15 * (s + d)), k, "r")
        for s, d, k in entries
    ]
    merged = merge_commands(commands)
    assert all(c.end is not None and c.end > c.start for c in merged)
    assert all(c.kind is not CommandKind.NORMAL for c in merged)
    for before, after in itertools.pairwise(merged):
        assert not (before.end == after.start and before.kind is after.kind)


def test_a_plan_refuses_a_command_that_lasts_no_time() -> None:
    empty = PlannedCommand(T0, T0, CommandKind.SHED, "nothing")
    with pytest.raises(ValueError, match="lasts no time"):
        ControlPlan(made_at=T0, commands=(empty,))
    backwards = PlannedCommand(T0, T0 - timedelta(minutes=1), CommandKind.SHED, "backwards")
    with pytest.raises(ValueError, match="lasts no time"):
        ControlPlan.from_json(
            {"made_at": T0.isoformat(), "commands": [backwards.to_json()], "steps": []}
        )
