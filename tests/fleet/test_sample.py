"""The sample fleets of the planner's bench and their simulated tanks (hil.fleet_sample)."""

from __future__ import annotations

from hil.fleet_sample import STEPS, follow, price_with_drop, sample_households
from ven_edge.plan.scheduler import schedule
from vtn_lite.fleet.model import HeaterSchedule


def test_sample_households_can_each_keep_their_bounds_alone() -> None:
    households = sample_households(30, groups=3, seed=5)
    assert {h.group for _, h in households} == {"g00", "g01", "g02"}
    assert all(schedule(h.problem).feasible for _, h in households)
    # Seeded: the same fleet every time.
    assert [h.problem for _, h in sample_households(30, groups=3, seed=5)] == [
        h.problem for _, h in households
    ]


def test_price_drop_is_cheaper_than_the_hours_around_it() -> None:
    price = price_with_drop()
    assert len(price) == STEPS
    assert max(price[52:60]) < min(price[48:52])


def test_a_tank_following_a_plan_draws_power_only_where_the_plan_heats() -> None:
    house, heater = sample_households(1, seed=2)[0]
    problem = heater.problem
    n = problem.n
    idle = {s.name: (0.0,) * n for s in problem.sources}
    pump = problem.sources[0]
    # The heat pump at full output for the first 8 steps, nothing else.
    early = {s.name: (0.0,) * n for s in problem.sources}
    early[pump.name] = tuple(pump.max_kwh[t] if t < 8 else 0.0 for t in range(n))

    def plan(heat: dict[str, tuple[float, ...]]) -> HeaterSchedule:
        return HeaterSchedule(heater.ven_name, heater.group, (0.0,) * n, heat, (0.0,) * (n + 1), 0)

    idle_kw, _ = follow(house, plan(idle))
    early_kw, _ = follow(house, plan(early))
    assert len(idle_kw) == len(early_kw) == n
    assert max(idle_kw) == 0.0
    assert all(kw > 0.0 for kw in early_kw[:8])
    assert max(early_kw[8:]) == 0.0
