"""Plan → CTA-2045 command timeline: the state strategy, the toolkit's two mappings, reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from ven_edge.cta2045.command_kind import CommandKind
from ven_edge.plan.commands import Command, plan_to_commands
from ven_edge.plan.problem import Plan, Problem, Source
from ven_edge.plan.scheduler import schedule

START = datetime(2026, 2, 17, 12, 0, tzinfo=UTC)
# Cheap until 16:00, a 17:00-20:00 peak, cheap again.
PRICES = (0.10,) * 4 + (0.12,) + (0.45,) * 3 + (0.10,) * 4


def problem(soc: float = 2.0, soc_max: float = 6.0, prices: tuple[float, ...] = PRICES) -> Problem:
    n = len(prices)
    hp = Source("heat_pump", (3.0,) * n, (1.5,) * n, (0.0,) * n)
    return Problem(1.0, prices, (0.5,) * n, soc, 1.0, soc_max, soc, (hp,))


def kinds_by_hour(commands: tuple[Command, ...]) -> list[CommandKind]:
    out: list[CommandKind] = []
    for c in commands:
        out += [c.kind] * (c.duration_s // 3600)
    return out


def test_state_strategy_preheats_before_the_peak_and_sheds_during_it() -> None:
    p = problem()
    plan = schedule(p)
    cmds = plan_to_commands(plan, p, START)
    hours = kinds_by_hour(cmds)
    assert len(hours) == p.n
    assert set(hours[5:8]) == {CommandKind.SHED}
    assert CommandKind.LOAD_UP in hours[:5]
    # Adjacent intervals merge, and the timeline is contiguous.
    assert all(a.kind != b.kind for a, b in pairwise(cmds))
    assert all(a.end == b.start for a, b in pairwise(cmds))
    assert cmds[0].start == START
    assert cmds[-1].end == START + timedelta(hours=p.n)
    load_up = next(c for c in cmds if c.kind == CommandKind.LOAD_UP)
    assert "before the 17:00 price peak" in load_up.reason
    assert "pre-heating" in load_up.reason
    peak = START + timedelta(hours=5)
    shed = next(c for c in cmds if c.kind == CommandKind.SHED and c.start <= peak < c.end)
    assert "stored hot water" in shed.reason
    assert load_up.wh is None


def test_advanced_load_up_only_above_normal_capacity_and_when_supported() -> None:
    p = problem(soc_max=8.0)
    plan = schedule(p)
    with_alu = plan_to_commands(
        plan, p, START, supports_advanced_load_up=True, normal_capacity_kwh=3.0
    )
    alu = [c for c in with_alu if c.kind == CommandKind.ADVANCED_LOAD_UP]
    assert alu
    assert all(c.wh is not None and c.wh > 0 for c in alu)
    assert "storing extra heat" in alu[0].reason
    without = plan_to_commands(plan, p, START, normal_capacity_kwh=3.0)
    assert CommandKind.ADVANCED_LOAD_UP not in {c.kind for c in without}


def test_reserve_empty_tank_is_never_shed() -> None:
    # At the reserve with nothing planned: normal, not shed (shedding would run out of hot water).
    p = Problem(1.0, (0.1,), (0.0,), 1.0, 1.0, 6.0, 1.0, (Source("hp", (3.0,), (1.5,), (0.0,)),))
    plan = Plan(True, 0.0, 0.0, {"hp": (0.0,)}, (1.0, 1.0))
    assert [c.kind for c in plan_to_commands(plan, p, START)] == [CommandKind.NORMAL]


def test_fraction_strategy_uses_the_toolkit_thresholds() -> None:
    n = 5
    p = Problem(
        1.0,
        (0.1,) * n,
        (0.0,) * n,
        5.0,
        0.0,
        20.0,
        0.0,
        (Source("hp", (3.0,) * n, (10.0,) * n, (0.0,) * n),),
    )
    heat = (0.0, 2.0, 3.0, 7.9, 8.0)
    soc = (5.0, 5.0, 7.0, 10.0, 17.9, 25.9)
    plan = Plan(True, 0.0, 0.0, {"hp": heat}, soc)
    cmds = plan_to_commands(plan, p, START, strategy="fraction", supports_advanced_load_up=True)
    assert kinds_by_hour(cmds) == [
        CommandKind.SHED,
        CommandKind.NORMAL,
        CommandKind.LOAD_UP,
        CommandKind.LOAD_UP,
        CommandKind.ADVANCED_LOAD_UP,
    ]
    assert cmds[-1].wh == 8000


def test_price_strategy_uses_percentiles_with_ties_to_the_higher_class() -> None:
    prices = (0.1, 0.2, 0.3, 0.4, 0.5)  # P25 0.2, P50 0.3, P75 0.4
    p = problem(prices=prices)
    plan = schedule(p)
    cmds = plan_to_commands(plan, p, START, strategy="price", supports_advanced_load_up=True)
    assert kinds_by_hour(cmds) == [
        CommandKind.ADVANCED_LOAD_UP,
        CommandKind.LOAD_UP,
        CommandKind.NORMAL,
        CommandKind.SHED,
        CommandKind.SHED,
    ]
    flat = problem(prices=(0.2,) * 4)
    cmds = plan_to_commands(schedule(flat), flat, START, strategy="price")
    assert (
        kinds_by_hour(cmds) == [CommandKind.SHED] * 4
    )  # the toolkit's known flaw, kept as documented


def test_negative_price_reason_and_bad_arguments() -> None:
    p = problem(prices=(-0.05, 0.3, 0.3, 0.3))
    cmds = plan_to_commands(schedule(p), p, START)
    assert cmds[0].kind == CommandKind.LOAD_UP
    assert "paid for" in cmds[0].reason
    assert cmds[0].to_json()["duration_s"] == 3600
    with pytest.raises(ValueError, match="unknown strategy"):
        plan_to_commands(schedule(p), p, START, strategy="dice")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone-aware"):
        plan_to_commands(schedule(p), p, datetime(2026, 1, 1))


@pytest.mark.parametrize(("peak", "loads_up"), [(0.13, False), (0.45, True)])
def test_state_strategy_loads_up_only_before_a_peak_that_pays_for_it(
    peak: float, loads_up: bool
) -> None:
    p = problem(prices=(0.10,) * 5 + (peak,) * 3 + (0.10,) * 4)
    cmds = plan_to_commands(schedule(p), p, START)
    assert (CommandKind.LOAD_UP in {c.kind for c in cmds}) is loads_up
    assert CommandKind.SHED in {c.kind for c in cmds}
    # Without the threshold, the small spread is pre-heated for (the case the ratio removes).
    unguarded = plan_to_commands(schedule(p), p, START, load_up_price_ratio=1.0)
    assert CommandKind.LOAD_UP in {c.kind for c in unguarded}


def test_paid_for_electricity_is_always_worth_a_load_up() -> None:
    p = problem(prices=(-0.05,) * 3 + (0.02,) * 3 + (0.10,) * 6)
    assert CommandKind.LOAD_UP in {c.kind for c in plan_to_commands(schedule(p), p, START)}
