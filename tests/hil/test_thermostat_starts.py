"""The simulated heater's heat-pump starts, in the planner's terms, bracket the shares the
planner's thermostat uses (docs/planner.md, "What the heater does with a command")."""

from __future__ import annotations

import statistics

import pytest

from hil.thermostat_starts import measure
from ven_edge.plan.thermostat import EARLIEST_SENSOR_SHARE, LATE_SENSOR_SHARE, SENSOR_SHARE

HOUSEHOLDS = (("Rheem2020Prem50", "doe-medium"), ("AOSmithHPTU80", "doe-high"))


@pytest.mark.parametrize(("model", "draws"), HOUSEHOLDS)
def test_starts_lie_between_the_planners_earliest_and_late_heaters(model: str, draws: str) -> None:
    normal = measure(model, draws, shed=False, days=3)
    shed = measure(model, draws, shed=True, days=3)
    assert len(normal.shares) >= 5
    assert len(shed.shares) >= 3
    for share in (*normal.shares, *shed.shares):
        assert EARLIEST_SENSOR_SHARE - 0.01 <= share <= LATE_SENSOR_SHARE
    # A shed widens the dead band; measured in the same units, the heater starts no sooner.
    assert statistics.median(shed.shares) > statistics.median(normal.shares)
    pooled = statistics.median((*normal.shares, *shed.shares))
    assert abs(pooled - SENSOR_SHARE) < 0.05
