"""The monolithic group LP: the exact scheduler's optimum when the limit does not bind, the limit
kept when it does, an infeasible limit reported with the least limit that can be kept."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from tests.fleet.fleets import flat, small_fleet
from ven_edge.plan.problem import Problem, Source
from ven_edge.plan.scheduler import schedule
from vtn_lite.fleet.model import FleetHeater, FleetProblem, GroupResult
from vtn_lite.fleet.solve import plan_fleet

TOL = 1e-6


def _independent_cost(problem: FleetProblem) -> float:
    return sum(schedule(replace(h.problem, price=problem.price)).cost for h in problem.heaters)


def _peak(result: GroupResult) -> float:
    return max(result.aggregate_kw)


def test_lp_is_the_sum_of_exact_optimums_when_the_limit_does_not_bind() -> None:
    heaters, price = small_fleet(30)
    free = plan_fleet(flat(heaters, price, {}))
    problem = flat(heaters, price, {"g00": 2 * _peak(free.groups["g00"])})
    plan = plan_fleet(problem, method="lp")
    group = plan.groups["g00"]
    assert group.method == "lp"
    assert group.feasible
    assert plan.cost == pytest.approx(_independent_cost(problem), rel=TOL, abs=TOL)
    assert group.gap == pytest.approx(0.0, abs=TOL)


def test_binding_limit_is_kept_in_every_step() -> None:
    heaters, price = small_fleet(30)
    free = plan_fleet(flat(heaters, price, {}))
    # At 0.4 of the free peak this fleet still has plans as cheap as the free ones (the LP
    # has ties there); at 0.3 keeping the limit costs 0.12.
    limit = 0.3 * _peak(free.groups["g00"])
    plan = plan_fleet(flat(heaters, price, {"g00": limit}), method="lp")
    group = plan.groups["g00"]
    assert group.feasible
    assert max(group.aggregate_kw) <= limit
    # Binding: the independent plans break it, and keeping it costs something.
    assert _peak(free.groups["g00"]) > limit
    assert plan.cost > free.cost
    # Every heater's own bounds still hold.
    for heater in heaters:
        item = plan.schedules[heater.ven_name]
        p = heater.problem
        assert min(item.soc_kwh[1:]) >= p.soc_min_kwh - 1e-6
        assert max(item.soc_kwh) <= p.soc_max_kwh + 1e-6
        assert item.soc_kwh[-1] >= p.soc_end_min_kwh - 1e-6
        for source in p.sources:
            heat = item.heat_kwh[source.name]
            assert all(-1e-9 <= h <= hi + 1e-9 for h, hi in zip(heat, source.max_kwh, strict=True))


def test_infeasible_limit_reports_the_least_flat_limit_that_is_feasible() -> None:
    heaters, price = small_fleet(20)
    plan = plan_fleet(flat(heaters, price, {"g00": 0.5}), method="lp")
    group = plan.groups["g00"]
    assert not group.feasible
    least = group.min_feasible_limit_kw
    assert least is not None
    assert least > 0.5
    assert group.min_raise_kw is not None
    assert group.min_raise_kw == pytest.approx(least - 0.5, rel=1e-4)
    # Never silently over: the schedules exceed the limit by no more than the raise reported.
    assert max(group.aggregate_kw) <= 0.5 + group.min_raise_kw
    at_least = plan_fleet(flat(heaters, price, {"g00": least}), method="lp").groups["g00"]
    assert at_least.feasible
    assert max(at_least.aggregate_kw) <= least
    below = plan_fleet(flat(heaters, price, {"g00": least * 0.999}), method="lp").groups["g00"]
    assert not below.feasible


def test_per_step_limit_raise_is_feasible_and_least() -> None:
    heaters, price = small_fleet(20)
    n = len(price)
    least = plan_fleet(flat(heaters, price, {"g00": 0.0}), method="lp").groups["g00"]
    assert least.min_feasible_limit_kw is not None
    # Below the least flat limit in every step, and not by the same amount.
    top = least.min_feasible_limit_kw
    limit = tuple(0.2 * top if t % 2 else 0.6 * top for t in range(n))
    problem = FleetProblem(0.25, price, tuple(heaters), {"g00": limit})
    group = plan_fleet(problem, method="lp").groups["g00"]
    assert not group.feasible
    raise_kw = group.min_raise_kw
    assert raise_kw is not None
    assert raise_kw > 0
    assert all(a <= lim + raise_kw for a, lim in zip(group.aggregate_kw, limit, strict=True))
    raised = FleetProblem(0.25, price, tuple(heaters), {"g00": tuple(x + raise_kw for x in limit)})
    assert plan_fleet(raised, method="lp").groups["g00"].feasible
    lower = tuple(x + raise_kw * 0.99 for x in limit)
    tight = FleetProblem(0.25, price, tuple(heaters), {"g00": lower})
    assert not plan_fleet(tight, method="lp").groups["g00"].feasible


def test_heater_that_cannot_keep_its_bounds_alone_is_planned_alone_and_reported() -> None:
    heaters, price = small_fleet(6)
    p = heaters[0].problem
    # A draw far beyond what the tank and both sources can serve in one step.
    load = (p.load_kwh[0] + 50.0, *p.load_kwh[1:])
    heaters[0] = replace(heaters[0], problem=replace(p, load_kwh=load))
    plan = plan_fleet(flat(heaters, price, {"g00": 50.0}), method="lp")
    group = plan.groups["g00"]
    assert not group.feasible
    assert plan.schedules[heaters[0].ven_name].unserved_kwh > 40.0
    assert all(plan.schedules[h.ven_name].unserved_kwh == 0.0 for h in heaters[1:])
    assert max(group.aggregate_kw) <= 50.0


def test_the_heaters_own_price_is_replaced_by_the_programs() -> None:
    heaters, price = small_fleet(5)
    odd = [
        replace(h, problem=replace(h.problem, price=tuple(-1.0 for _ in price))) for h in heaters
    ]
    a = plan_fleet(flat(heaters, price, {"g00": 3.0}), method="lp")
    b = plan_fleet(flat(odd, price, {"g00": 3.0}), method="lp")
    assert math.isclose(a.cost, b.cost, rel_tol=1e-9, abs_tol=1e-9)


def test_solver_rounding_never_shows_as_import_over_a_limit_of_zero() -> None:
    # A source too small to matter: HiGHS puts it at its bound, a hair above zero.
    tiny = 5.531695761533729e-238
    p = Problem(
        0.5,
        (0.0, 0.0),
        (0.0, 1.0),
        1.0,
        0.0,
        1.0,
        0.0,
        (Source("heat_pump", (2.0, 2.0), (tiny, tiny), (0.0, 0.0)),),
    )
    problem = FleetProblem(0.5, (0.0, 0.0), (FleetHeater("v0", "g", p),), {"g": (0.0, 0.0)})
    group = plan_fleet(problem, method="lp").groups["g"]
    assert group.feasible
    assert group.aggregate_kw == (0.0, 0.0)
