"""plan_fleet: groups independent, parallel = serial, unconstrained groups, bad input, and
scipy kept optional."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest

from tests.conftest import REPO_ROOT
from tests.fleet.fleets import flat, small_fleet
from ven_edge.plan.scheduler import schedule
from vtn_lite.fleet.model import FleetError, FleetProblem, PlannerUnavailable
from vtn_lite.fleet.solve import plan_fleet


def test_group_without_limit_is_each_heater_alone() -> None:
    heaters, price = small_fleet(8)
    plan = plan_fleet(flat(heaters, price, {}))
    group = plan.groups["g00"]
    assert group.method == "exact"
    assert group.limit_kw is None
    for h in heaters:
        alone = schedule(h.problem.__class__(**{**_fields(h.problem), "price": price}))
        assert plan.schedules[h.ven_name].cost == pytest.approx(alone.cost, abs=1e-12)


def _fields(problem: object) -> dict[str, object]:
    return {name: getattr(problem, name) for name in problem.__slots__}  # type: ignore[attr-defined]


def test_groups_are_independent() -> None:
    heaters, price = small_fleet(24, groups=3)
    limits = {"g00": 2.0, "g01": 4.0}
    together = plan_fleet(flat(heaters, price, limits), method="lp")
    for group in ("g00", "g01", "g02"):
        own = [h for h in heaters if h.group == group]
        alone = plan_fleet(
            flat(own, price, {g: kw for g, kw in limits.items() if g == group}), method="lp"
        )
        assert alone.groups[group].aggregate_kw == pytest.approx(
            together.groups[group].aggregate_kw, abs=1e-6
        )
        assert alone.cost == pytest.approx(
            sum(together.schedules[h.ven_name].cost for h in own), abs=1e-6
        )
    assert together.groups["g02"].method == "exact"
    assert max(together.groups["g00"].aggregate_kw) <= 2.0


def test_parallel_and_serial_give_the_same_answer() -> None:
    heaters, price = small_fleet(24, groups=3)
    problem = flat(heaters, price, {"g00": 2.0, "g01": 4.0, "g02": 0.2})
    serial = plan_fleet(problem, method="lp")
    parallel = plan_fleet(problem, method="lp", workers=2)
    assert serial.schedules == parallel.schedules
    assert serial.cost == parallel.cost
    for name, group in serial.groups.items():
        # Everything but the wall time.
        assert replace(group, solve_seconds=0.0) == replace(
            parallel.groups[name], solve_seconds=0.0
        )


def test_unknown_method_is_refused() -> None:
    heaters, price = small_fleet(2)
    with pytest.raises(ValueError, match="unknown method"):
        plan_fleet(flat(heaters, price, {}), method="simplex")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"limits_kw": {"g00": (1.0,)}}, "limit of group 'g00'"),
        ({"price": ()}, "at least one step"),
        ({"step_hours": 0.5}, "step of 0.25 h"),
        ({"limits_kw": {"g00": (float("nan"),) * 24}}, "not finite"),
    ],
)
def test_malformed_fleet_problem_is_refused(change: dict[str, object], message: str) -> None:
    heaters, price = small_fleet(2)
    fields = {"step_hours": 0.25, "price": price, "heaters": tuple(heaters), "limits_kw": {}}
    fields.update(change)
    with pytest.raises(FleetError, match=message):
        FleetProblem(**fields)  # type: ignore[arg-type]


def test_duplicate_ven_is_refused() -> None:
    heaters, price = small_fleet(2)
    with pytest.raises(FleetError, match="listed twice"):
        FleetProblem(0.25, price, (heaters[0], heaters[0]))


def test_without_scipy_the_planner_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    heaters, price = small_fleet(2)
    monkeypatch.setitem(sys.modules, "scipy.optimize", None)
    with pytest.raises(PlannerUnavailable, match=r"pip install 'ven-edge\[planner\]'"):
        plan_fleet(flat(heaters, price, {"g00": 1.0}))


def test_importing_the_planner_does_not_import_scipy() -> None:
    code = (
        "import sys, vtn_lite.fleet.model, vtn_lite.fleet.solve; "
        "print(any(m == 'scipy' or m.startswith('scipy.') for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
