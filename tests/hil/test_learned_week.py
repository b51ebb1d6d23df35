"""The bench's learned week: the household lived in normal mode before the planned day, learned
by the gateway's own learner (docs/planner.md "Planned with the week before")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hil.draws import DAY_S, load_draw_profile
from hil.learned_week import SCALE, learn_week, planning_with, varied_week
from tests.devices import answering
from ven_edge.control import ControlPlan, PlanInputs
from ven_edge.household import DEFAULT_FORECAST
from ven_edge.signals import SignalTimeline

DAY = datetime(2016, 7, 19, tzinfo=UTC)


def test_a_varied_week_is_reproducible_and_not_the_pattern_repeated() -> None:
    week = varied_week("doe-high", "Rheem/doe-high/2016-07-19")
    assert week == varied_week("doe-high", "Rheem/doe-high/2016-07-19")
    assert week != varied_week("doe-high", "Rheem/doe-high/2016-07-20")
    pattern = load_draw_profile("doe-high")
    assert week.period_s == 7 * DAY_S
    days = [week.litres_between(d * DAY_S, (d + 1) * DAY_S) for d in range(7)]
    assert len(set(days)) == 7  # every day differs (a draw near midnight may change days)
    assert sum(days) == pytest.approx(7 * pattern.daily_volume_l, rel=SCALE)


def test_the_week_before_is_learned_and_handed_to_the_planner() -> None:
    week = learn_week("Rheem2020Prem50", "doe-high", DAY)
    assert week.observations == 168
    assert week.forecast.learned
    # The DOE high day (12 kWh at the valve) is well above the default's 9 kWh: the forecast,
    # a week's mean blended with the default, says so.
    day_kwh = week.forecast(DAY, DAY + timedelta(days=1))
    assert day_kwh > 1.2 * DEFAULT_FORECAST(DAY, DAY + timedelta(days=1))
    seen: list[object] = []

    def planner(inputs: PlanInputs) -> ControlPlan:
        seen.append(inputs.draw)
        return ControlPlan(made_at=inputs.now)

    planning_with(planner, week.forecast)(PlanInputs(DAY, SignalTimeline(), answering()))
    assert seen == [week.forecast]
