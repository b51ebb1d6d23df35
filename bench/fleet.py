"""The VTN's fleet planner on sample fleets: solve time, gap, peak after a price drop, cost.

Run: python bench/fleet.py [--quick] [--workers 2]

Fleets of 100, 1,000 and 10,000 heaters (hil.fleet_sample: the four HPWHsim model files × DOE
low/medium/high draw patterns shifted per household × seeded starting charges and air
temperatures), 96 fifteen-minute steps of a 2016 Ontario HOEP day + 0.10 $/kWh with the price
cut to 30 % from 13:00 to 15:00. Every heater planning alone with the exact scheduler (what the
gateways do without the VTN) pre-heats in that window: the rebound peak. The planner is given a
flat limit per group of LIMIT_SHARE × the group's mean independent load and must keep it in
every step.

Figures per case: the independent peak after the drop and the planned one, the limit, solve
time of the monolithic LP (groups up to 1,000 heaters) and of the decomposition, the
decomposition's gap against the LP and against its own Lagrangian bound, the cost against
independent planning, and the check that with a limit that does not bind the planned cost is
the independent optimum (within 1 %). `--quick`: 100 and 1,000 only.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

# This folder holds bench/vtn_lite.py: off the path, so that ``vtn_lite`` is the package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from hil.fleet_sample import (  # noqa: E402
    DROP_STEP,
    fleet_problem,
    price_with_drop,
    sample_heaters,
)
from vtn_lite.fleet.model import FleetHeater, FleetPlan  # noqa: E402
from vtn_lite.fleet.solve import plan_fleet  # noqa: E402

#: The limit per group as a multiple of its mean independent load: binding (the independent
#: peak after the drop is 15 to 20 times the mean), feasible (the least flat limit is about 1.3
#: times the mean on these fleets).
LIMIT_SHARE = 2.0


def _group_names(heaters: list[FleetHeater]) -> list[str]:
    return sorted({h.group for h in heaters})


def _peak_after_drop(plan: FleetPlan, groups: list[str]) -> float:
    """The largest group's-aggregate kW from the drop on, summed over groups per step."""
    n = len(next(iter(plan.groups.values())).aggregate_kw)
    total = [sum(plan.groups[g].aggregate_kw[t] for g in groups) for t in range(n)]
    return max(total[DROP_STEP:])


def _timed(fn: Callable[[], FleetPlan]) -> tuple[FleetPlan, float]:
    started = time.perf_counter()
    plan = fn()
    return plan, time.perf_counter() - started


def _within(plan: FleetPlan) -> bool:
    return all(
        a <= lim
        for g in plan.groups.values()
        if g.limit_kw is not None
        for a, lim in zip(g.aggregate_kw, g.limit_kw, strict=True)
    )


def run_case(count: int, groups: int, workers: int, monolithic: bool) -> None:
    heaters = sample_heaters(count, groups=groups, seed=count + groups)
    price = price_with_drop()
    names = _group_names(heaters)
    alone, t_alone = _timed(lambda: plan_fleet(fleet_problem(heaters, price, {}), workers=workers))
    limits = {g: LIMIT_SHARE * sum(alone.groups[g].aggregate_kw) / len(price) for g in names}
    problem = fleet_problem(heaters, price, limits)
    label = f"{count:,} heaters in {groups} group{'s' if groups > 1 else ''}"
    print(f"\n{label}: independent plans {t_alone:.1f} s, cost {alone.cost:.2f} $")
    print(
        f"  limit {sum(limits.values()):,.0f} kW in all; independent peak after the drop "
        f"{_peak_after_drop(alone, names):,.0f} kW"
    )
    lp_plan = None
    if monolithic:
        lp_plan, t_lp = _timed(lambda: plan_fleet(problem, method="lp", workers=workers))
        _report("monolithic LP", lp_plan, t_lp, alone, names, None)
    dual_plan, t_dual = _timed(lambda: plan_fleet(problem, method="dual", workers=workers))
    _report("decomposition", dual_plan, t_dual, alone, names, lp_plan)
    loose = fleet_problem(heaters, price, {g: 10 * kw for g, kw in limits.items()})
    loose_plan, t_loose = _timed(lambda: plan_fleet(loose, workers=workers))
    print(
        f"  limit not binding (10 x): {t_loose:.1f} s, cost {loose_plan.cost:.4f} $ against "
        f"the independent {alone.cost:.4f} $ ({_pct(loose_plan.cost, alone.cost)})"
    )


def _pct(value: float, base: float) -> str:
    return f"{100.0 * (value - base) / abs(base):+.2f} %"


def _report(
    name: str,
    plan: FleetPlan,
    seconds: float,
    alone: FleetPlan,
    names: list[str],
    reference: FleetPlan | None,
) -> None:
    feasible = all(plan.groups[g].feasible for g in names)
    gaps = [plan.groups[g].gap for g in names if plan.groups[g].gap is not None]
    methods = sorted({plan.groups[g].method for g in names})
    line = (
        f"  {name} ({'/'.join(methods)}): {seconds:.1f} s, feasible {feasible}, within the limit "
        f"in every step {_within(plan)}, peak after the drop "
        f"{_peak_after_drop(plan, names):,.0f} kW, cost {plan.cost:.2f} $ "
        f"({_pct(plan.cost, alone.cost)} against independent)"
    )
    if gaps:
        line += f", gap to its bound ≤ {100 * max(gaps):.2f} %"
    if reference is not None:
        line += f", gap to the LP {_pct(plan.cost, reference.cost)}"
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 heaters only")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    run_case(100, 1, args.workers, monolithic=True)
    run_case(1000, 1, args.workers, monolithic=True)
    if not args.quick:
        run_case(10_000, 1, args.workers, monolithic=False)
        run_case(10_000, 20, args.workers, monolithic=True)


if __name__ == "__main__":
    main()
