"""One command kind from the plan to the wire: each kind's Basic DR message."""

from __future__ import annotations

import pytest

from ven_edge.cta2045 import messages, typed
from ven_edge.cta2045.command_kind import CommandKind
from ven_edge.cta2045.message import Message


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (CommandKind.NORMAL, messages.end_shed()),
        (CommandKind.SHED, messages.shed(1800)),
        (CommandKind.LOAD_UP, messages.load_up(1800)),
        (CommandKind.ADVANCED_LOAD_UP, messages.load_up(1800)),  # the Basic fallback (§8.1)
        (CommandKind.CRITICAL_PEAK, messages.critical_peak(1800)),
        (CommandKind.GRID_EMERGENCY, messages.grid_emergency(1800)),
    ],
)
def test_each_kind_goes_out_as_its_basic_message(kind: CommandKind, expected: Message) -> None:
    message = messages.basic_command(kind, 1800)
    assert message == expected
    assert type(message) is typed.CLASSES[kind.basic_message]


def test_the_plan_spells_kinds_in_lower_case() -> None:
    assert [k.label for k in CommandKind] == [
        "normal",
        "shed",
        "load_up",
        "advanced_load_up",
        "critical_peak",
        "grid_emergency",
    ]
