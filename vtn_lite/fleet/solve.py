"""Plan a fleet: each group on its own (in worker processes when asked), by one LP when it fits
and by decomposition beyond (docs/fleet-planner.md).

Groups under different limits share nothing, so they are separate problems. A group without a
limit is planned heater by heater with the exact scheduler (its LP separates into the heaters'
own problems). A group's limit that cannot be kept is never silently exceeded: the result says
infeasible and gives the least flat limit and the least raise of the given limit that could be
kept, and the schedules are the ones that exceed the limit least.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

from ven_edge.plan.scheduler import schedule
from vtn_lite.fleet.model import (
    FleetHeater,
    FleetPlan,
    FleetProblem,
    GroupResult,
    HeaterSchedule,
    PlannerUnavailable,
)
from vtn_lite.fleet.program import alone_schedule, with_program_price

#: Largest group solved as one LP by ``method="auto"``. Measured (docs/fleet-planner.md,
#: "Measured"): with 96 steps and a binding limit the LP takes 0.5 s for 100 heaters and 8 s for
#: 1,000, the decomposition 1.3 s and 5 s at the same cost to 0.01 %; they cross near 300.
LP_MAX_HEATERS = 300
METHODS = ("auto", "lp", "dual")


@dataclass(frozen=True)
class _GroupTask:
    group: str
    heaters: tuple[FleetHeater, ...]
    price: tuple[float, ...]
    step_hours: float
    limit_kw: tuple[float, ...] | None
    method: str
    #: Processes the group's own decomposition may use (one group alone gets all of them).
    workers: int = 1


def plan_fleet(
    problem: FleetProblem, *, method: str = "auto", workers: int | None = None
) -> FleetPlan:
    """Schedules for every heater of ``problem``; ``method`` is "auto" (one LP up to
    :data:`LP_MAX_HEATERS` heaters per group, dual decomposition beyond), "lp" or "dual";
    ``workers`` > 1 plans that many groups at once in worker processes, or, for a fleet of one
    group, spreads that group's decomposition over that many processes."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    _require_scipy()
    tasks = [
        _GroupTask(
            group,
            tuple(heaters),
            problem.price,
            problem.step_hours,
            problem.limits_kw.get(group),
            method,
        )
        for group, heaters in problem.groups().items()
    ]
    if len(tasks) == 1 and workers is not None and workers > 1:
        tasks = [replace(tasks[0], workers=workers)]
    if workers is not None and workers > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(max_workers=min(workers, len(tasks))) as pool:
            # Largest groups first so one long group does not start last.
            order = sorted(range(len(tasks)), key=lambda i: -len(tasks[i].heaters))
            futures = {i: pool.submit(_solve_group, tasks[i]) for i in order}
            outcomes = [futures[i].result() for i in range(len(tasks))]
    else:
        outcomes = [_solve_group(task) for task in tasks]
    schedules: dict[str, HeaterSchedule] = {}
    groups: dict[str, GroupResult] = {}
    for result, group_schedules in outcomes:
        groups[result.group] = result
        for item in group_schedules:
            schedules[item.ven_name] = item
    return FleetPlan(
        schedules=schedules,
        groups=groups,
        cost=sum(s.cost for s in schedules.values()),
    )


def _require_scipy() -> None:
    try:
        import scipy.optimize
        import scipy.sparse
    except ImportError as exc:
        raise PlannerUnavailable() from exc
    del scipy  # only whether it imports


def _solve_group(task: _GroupTask) -> tuple[GroupResult, list[HeaterSchedule]]:
    started = time.perf_counter()
    small = len(task.heaters) <= LP_MAX_HEATERS
    # The decomposition looks at the heaters' own optimums first itself.
    if task.limit_kw is None or (task.method == "auto" and small):
        plans = [schedule(with_program_price(h, task.price)) for h in task.heaters]
        schedules = [
            alone_schedule(h, p, task.step_hours) for h, p in zip(task.heaters, plans, strict=True)
        ]
        feasible = all(p.feasible for p in plans)
        if task.limit_kw is None:
            return _result(task, schedules, "exact", feasible, started), schedules
        if feasible and _within(schedules, task.limit_kw):
            # The limit does not bind: each heater's own optimum is the group's (gap 0).
            cost = sum(s.cost for s in schedules)
            return _result(task, schedules, "exact", True, started, lower_bound=cost), schedules
    from vtn_lite.fleet import dual, group_lp

    if task.method == "lp" or (task.method == "auto" and small):
        outcome = group_lp.solve(task.heaters, task.price, task.step_hours, task.limit_kw)
        method = "lp"
    else:
        outcome = dual.solve(
            task.heaters, task.price, task.step_hours, task.limit_kw, workers=task.workers
        )
        method = "dual"
    return (
        _result(
            task,
            outcome.schedules,
            method,
            outcome.feasible,
            started,
            min_flat=outcome.min_flat_kw,
            min_raise=outcome.min_raise_kw,
            lower_bound=outcome.lower_bound,
        ),
        outcome.schedules,
    )


def _within(schedules: Sequence[HeaterSchedule], limit_kw: tuple[float, ...]) -> bool:
    aggregate = [sum(column) for column in zip(*(s.power_kw for s in schedules), strict=True)]
    return all(a <= lim for a, lim in zip(aggregate, limit_kw, strict=True))


def _result(
    task: _GroupTask,
    schedules: Sequence[HeaterSchedule],
    method: str,
    feasible: bool,
    started: float,
    *,
    min_flat: float | None = None,
    min_raise: float | None = None,
    lower_bound: float | None = None,
) -> GroupResult:
    aggregate = [sum(column) for column in zip(*(s.power_kw for s in schedules), strict=True)]
    cost = sum(s.cost for s in schedules)
    gap = None
    if lower_bound is not None:
        gap = max(0.0, cost - lower_bound) / max(abs(lower_bound), 1e-9)
    return GroupResult(
        group=task.group,
        feasible=feasible,
        aggregate_kw=tuple(aggregate),
        limit_kw=task.limit_kw,
        min_feasible_limit_kw=min_flat,
        method=method,
        gap=gap,
        solve_seconds=time.perf_counter() - started,
        cost=cost,
        min_raise_kw=min_raise,
        lower_bound=lower_bound,
    )
