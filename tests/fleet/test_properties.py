"""Properties of the fleet planner on small random fleets: limits (binding, infeasible, per
step), prices of both signs, starting charges at the bounds."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ven_edge.plan.problem import Problem, Source
from ven_edge.plan.scheduler import schedule
from vtn_lite.fleet.model import FleetHeater, FleetProblem
from vtn_lite.fleet.solve import plan_fleet

STEP_HOURS = 0.5
TOL = 1e-6


@st.composite
def heater_problems(draw: st.DrawFn, n: int) -> Problem:
    soc_min = draw(st.floats(0.0, 2.0))
    soc_max = soc_min + draw(st.floats(0.5, 5.0))
    soc = draw(st.sampled_from([0.0, soc_min, soc_max, (soc_min + soc_max) / 2]))
    end = draw(st.sampled_from([soc_min, soc_max, (soc_min + soc_max) / 2]))
    load = tuple(draw(st.lists(st.floats(0.0, 1.2), min_size=n, max_size=n)))
    cop = draw(st.floats(1.5, 4.0))
    hp = draw(st.floats(0.0, 1.0))
    sources = [Source("heat_pump", (cop,) * n, (hp,) * n, (0.0,) * n)]
    if draw(st.booleans()):
        element = draw(st.floats(0.0, 2.0))
        sources.append(Source("element", (1.0,) * n, (element,) * n, (0.0,) * n))
    return Problem(STEP_HOURS, (0.0,) * n, load, soc, soc_min, soc_max, end, tuple(sources))


@st.composite
def fleets(draw: st.DrawFn) -> FleetProblem:
    n = draw(st.integers(2, 8))
    count = draw(st.integers(1, 4))
    price = tuple(draw(st.lists(st.floats(-0.2, 0.5), min_size=n, max_size=n)))
    heaters = tuple(FleetHeater(f"v{i}", "g", draw(heater_problems(n))) for i in range(count))
    limit = tuple(draw(st.lists(st.floats(0.0, 4.0), min_size=n, max_size=n)))
    return FleetProblem(STEP_HOURS, price, heaters, {"g": limit})


def _alone(problem: FleetProblem) -> list[bool]:
    return [schedule(replace(h.problem, price=problem.price)).feasible for h in problem.heaters]


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(fleets())
def test_lp_keeps_the_limit_or_reports_the_least_raise(problem: FleetProblem) -> None:
    plan = plan_fleet(problem, method="lp")
    group = plan.groups["g"]
    limit = problem.limits_kw["g"]
    if not all(_alone(problem)):
        assert not group.feasible
        return
    unconstrained = sum(
        schedule(replace(h.problem, price=problem.price)).cost for h in problem.heaters
    )
    assert plan.cost >= unconstrained - TOL * (1 + abs(unconstrained))
    if group.feasible:
        assert all(a <= lim for a, lim in zip(group.aggregate_kw, limit, strict=True))
        return
    raise_kw = group.min_raise_kw
    assert raise_kw is not None
    assert raise_kw > 0
    assert group.min_feasible_limit_kw is not None
    assert all(a <= lim + raise_kw for a, lim in zip(group.aggregate_kw, limit, strict=True))
    raised = replace(problem, limits_kw={"g": tuple(x + raise_kw for x in limit)})
    assert plan_fleet(raised, method="lp").groups["g"].feasible
    flat = replace(problem, limits_kw={"g": (group.min_feasible_limit_kw,) * problem.n})
    assert plan_fleet(flat, method="lp").groups["g"].feasible


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(fleets())
def test_decomposition_is_never_below_the_lp_and_keeps_the_limit(problem: FleetProblem) -> None:
    lp = plan_fleet(problem, method="lp").groups["g"]
    dec_plan = plan_fleet(problem, method="dual")
    dec = dec_plan.groups["g"]
    limit = problem.limits_kw["g"]
    if dec.feasible:
        assert lp.feasible
        assert all(a <= lim for a, lim in zip(dec.aggregate_kw, limit, strict=True))
        assert dec.cost >= lp.cost - TOL * (1 + abs(lp.cost))
        if dec.lower_bound is not None:
            assert dec.lower_bound <= lp.cost + TOL * (1 + abs(lp.cost))
    elif all(_alone(problem)):
        assert not lp.feasible
