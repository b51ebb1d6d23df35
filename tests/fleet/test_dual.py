"""The dual-price decomposition against the monolithic LP, and its worker processes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tests.fleet.fleets import flat, small_fleet
from vtn_lite.fleet import dual
from vtn_lite.fleet.shards import Shards, solve_at
from vtn_lite.fleet.solve import plan_fleet


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sample LP and the repair LP of a handful of heaters: at their default sizes they
    would hold the whole 50-heater group and be the monolithic LP themselves."""
    monkeypatch.setattr(dual, "SAMPLE_HEATERS", 10)
    monkeypatch.setattr(dual, "REPAIR_HEATERS", 8)


@pytest.mark.usefixtures("small_parts")
def test_decomposition_is_within_a_small_gap_of_the_lp() -> None:
    heaters, price = small_fleet(50, n=32, start=36)
    free = plan_fleet(flat(heaters, price, {}))
    limit = 0.3 * max(free.groups["g00"].aggregate_kw)
    problem = flat(heaters, price, {"g00": limit})
    lp = plan_fleet(problem, method="lp")
    dec = plan_fleet(problem, method="dual")
    group = dec.groups["g00"]
    assert group.method == "dual"
    assert group.feasible
    assert lp.groups["g00"].feasible
    assert max(group.aggregate_kw) <= limit
    assert lp.cost <= dec.cost * (1 + 1e-5)
    assert (dec.cost - lp.cost) / lp.cost < 0.02
    # The Lagrangian bound is a bound: never above the LP's optimum.
    assert group.lower_bound is not None
    assert group.lower_bound <= lp.cost + 1e-6
    assert group.gap is not None
    assert group.gap < 0.05


@pytest.mark.usefixtures("small_parts")
def test_decomposition_with_a_limit_that_does_not_bind_is_the_independent_optimum() -> None:
    heaters, price = small_fleet(20)
    free = plan_fleet(flat(heaters, price, {}))
    dec = plan_fleet(
        flat(heaters, price, {"g00": 2 * max(free.groups["g00"].aggregate_kw)}), method="dual"
    )
    assert dec.cost == pytest.approx(free.cost, rel=1e-12)
    # Zero but for rounding: the bound and the cost are sums of the same floats in another order.
    assert dec.groups["g00"].gap == pytest.approx(0.0, abs=1e-12)


@pytest.mark.usefixtures("small_parts")
def test_decomposition_reports_a_limit_it_cannot_keep() -> None:
    heaters, price = small_fleet(20)
    group = plan_fleet(flat(heaters, price, {"g00": 0.3}), method="dual").groups["g00"]
    assert not group.feasible
    assert group.min_raise_kw is not None
    # The raise reported can be kept: the schedules returned keep it.
    assert max(group.aggregate_kw) <= 0.3 + group.min_raise_kw + 1e-9
    # It is at least the least raise the monolithic LP finds.
    least = plan_fleet(flat(heaters, price, {"g00": 0.3}), method="lp").groups["g00"]
    assert least.min_raise_kw is not None
    assert group.min_raise_kw >= least.min_raise_kw * (1 - 1e-6)


def test_worker_processes_give_the_same_heat_as_one_process() -> None:
    heaters, price = small_fleet(6)
    problems = [h.problem for h in heaters]
    rng = np.random.default_rng(3)
    eps = rng.uniform(0, 1e-4, size=(6, len(price)))
    base = np.asarray(price) + rng.uniform(0, 0.05, size=len(price))
    local = solve_at(problems, base + eps, 2)
    with Shards(problems, eps, 2, workers=2, min_shard=1) as shards:
        assert len(shards._procs) == 2
        spread = shards.run(base)
        again = shards.run(base * 2)
    np.testing.assert_array_equal(local, spread)
    np.testing.assert_array_equal(solve_at(problems, base * 2 + eps, 2), again)


@pytest.mark.usefixtures("small_parts")
def test_decomposition_plans_a_heater_infeasible_alone_on_its_own() -> None:
    heaters, price = small_fleet(20)
    p = heaters[0].problem
    heaters[0] = replace(
        heaters[0], problem=replace(p, load_kwh=(p.load_kwh[0] + 50.0, *p.load_kwh[1:]))
    )
    free = plan_fleet(flat(heaters, price, {}))
    # Room for the alone heater's own import (it is fixed) and a binding share for the others.
    alone_kw = max(free.schedules[heaters[0].ven_name].power_kw)
    others = [
        sum(free.schedules[h.ven_name].power_kw[t] for h in heaters[1:]) for t in range(len(price))
    ]
    limit = alone_kw + 0.5 * max(others)
    plan = plan_fleet(flat(heaters, price, {"g00": limit}), method="dual")
    group = plan.groups["g00"]
    assert not group.feasible
    assert plan.schedules[heaters[0].ven_name].unserved_kwh > 40.0
    assert max(group.aggregate_kw) <= limit
    # The bound counts the alone heater's (fixed) cost too: below the cost, and close to it.
    assert group.lower_bound is not None
    assert group.lower_bound <= group.cost
    assert group.gap is not None
    assert group.gap < 0.05
